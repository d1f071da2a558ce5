"""Where calls go: the endpoint URL, derived from an explicit URL or from a region id.

This module owns the transport-security rule: TLS always (certificates are verified by httpx's
default context, never disabled), and plain ``http://`` only to a loopback host, which is how
the emulator is reached. Anything else is refused before a request is built.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from reconciler.api.errors import ConfigurationError

_REGION = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Endpoint:
    """A validated base URL (``scheme://host[:port]``) and the Host value that is signed."""

    scheme: str
    hostname: str
    port: int | None = None

    @property
    def host(self) -> str:
        """The Host header as signed: hostname (IPv6 in brackets), plus ":port" when given."""
        name = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return name if self.port is None else f"{name}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.hostname)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


def is_loopback(hostname: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost`` (and its subdomains, which resolve to loopback)."""
    name = hostname.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint_for_region(region: str) -> str:
    if not _REGION.match(region):
        raise ConfigurationError(f"invalid region id {region!r} (expected e.g. ap-southeast-1)")
    return f"https://cams.{region}.aliyuncs.com"


def resolve_endpoint(endpoint: str | None, region: str) -> Endpoint:
    """An explicit endpoint wins; without a scheme it is https. Else ``cams.<region>``."""
    raw = (endpoint or "").strip() or endpoint_for_region(region)
    if "://" not in raw:
        raw = f"https://{raw}"
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    try:
        hostname = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"invalid endpoint {endpoint!r}: {exc}") from None
    if not hostname:
        raise ConfigurationError(f"invalid endpoint {endpoint!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigurationError(
            f"invalid endpoint {endpoint!r}: give only scheme://host[:port]"
        )
    if scheme not in ("https", "http"):
        raise ConfigurationError(f"invalid endpoint {endpoint!r}: scheme must be https")
    if scheme == "http" and not is_loopback(hostname):
        raise ConfigurationError(
            f"refusing plain http to {hostname}: only loopback hosts (127.0.0.0/8, ::1, "
            "localhost) may be reached without TLS; use https://"
        )
    return Endpoint(scheme=scheme, hostname=hostname, port=port)
