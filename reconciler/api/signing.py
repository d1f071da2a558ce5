"""Alibaba Cloud Signature V3 (``ACS3-HMAC-SHA256``, and ``ACS3-HMAC-SM3`` to verify), as
pure functions.

This module owns canonicalisation and the signature itself, for both sides: the client signs
with :func:`sign_request` (always SHA-256) and the emulator verifies with
:func:`compute_signature` over what it received, in whichever V3 algorithm the request names
(the vendor's SDKs can also sign with the SM3 hash). Nothing here reads the clock, draws
randomness or does I/O: time and nonce are arguments, so a signature is reproducible in tests
and comparable with the official SDK's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from reconciler.api.credential_types import Credentials
from reconciler.api.operations import API_VERSION

ALGORITHM = "ACS3-HMAC-SHA256"
SM3_ALGORITHM = "ACS3-HMAC-SM3"
_DIGESTS = {ALGORITHM: "sha256", SM3_ALGORITHM: "sm3"}
"""Each V3 algorithm and the hash it uses, named as ``hashlib`` (OpenSSL) names it."""
V3_ALGORITHMS = frozenset(_DIGESTS)
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def algorithm_available(algorithm: str) -> bool:
    """Whether this Python can compute ``algorithm``: SM3 comes from OpenSSL, which may lack it."""
    return _DIGESTS.get(algorithm) in hashlib.algorithms_available


def payload_hash(body: bytes, algorithm: str = ALGORITHM) -> str:
    """Hex hash of a request body (``x-acs-content-sha256``, whatever the algorithm's hash)."""
    return hashlib.new(_DIGESTS[algorithm], body).hexdigest()


def percent_encode(value: str) -> str:
    """RFC 3986 encoding: only ``A-Z a-z 0-9 - _ . ~`` stay literal (space is %20, * is %2A)."""
    return quote(value, safe="~", encoding="utf-8")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Parameters sorted by name, ``name=value`` percent-encoded, joined by ``&``.

    The same string is sent on the wire, so what is signed is exactly what travels.
    """
    return "&".join(
        f"{percent_encode(name)}={percent_encode(value)}" for name, value in sorted(params)
    )


def canonical_headers(headers: Mapping[str, str], signed: Iterable[str]) -> str:
    """``name:value.strip()\\n`` for each signed header, names lowercased and sorted."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return "".join(f"{name}:{lowered[name].strip()}\n" for name in sorted(signed))


def is_signed_header(name: str) -> bool:
    """Which headers we sign: host and every x-acs-*, plus those the official SDK also signs."""
    lowered = name.lower()
    return lowered in ("host", "content-type", "accept", "user-agent") or lowered.startswith(
        "x-acs-"
    )


def compute_signature(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    body_sha256: str,
    secret: str,
    algorithm: str = ALGORITHM,
) -> str:
    """Hex HMAC of the V3 string to sign; used by the signer and by the verifier.

    ``algorithm`` picks the hash of the canonical request and of the HMAC alike (SHA-256 or
    SM3); ``body_sha256`` is the body's hash in that same algorithm.
    """
    digest = _DIGESTS[algorithm]
    names = sorted(name.lower() for name in signed_headers)
    canonical_request = "\n".join(
        (
            method.upper(),
            path or "/",
            canonical_query(query),
            canonical_headers(headers, names),
            ";".join(names),
            body_sha256,
        )
    )
    string_to_sign = (
        f"{algorithm}\n{hashlib.new(digest, canonical_request.encode('utf-8')).hexdigest()}"
    )
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), digest).hexdigest()


def format_date(when: datetime) -> str:
    """``x-acs-date``: UTC, second precision, ``YYYY-MM-DDTHH:MM:SSZ``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RpcCall:
    """One RPC-style call before signing: action, its query parameters, and where it goes."""

    action: str
    params: tuple[tuple[str, str], ...]
    host: str
    extra_headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    method: str = "POST"
    version: str = API_VERSION


@dataclass(frozen=True)
class SignedCall:
    """What goes on the wire: the query string and every header, Authorization included.

    ``repr`` hides the headers, which carry the security token (the signature itself is not a
    secret, but there is no reason to print it either).
    """

    query_string: str
    headers: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        return f"SignedCall(query_string={self.query_string!r}, headers=<{len(self.headers)}>)"


def sign_request(
    call: RpcCall, credentials: Credentials, when: datetime, nonce: str
) -> SignedCall:
    """Sign ``call`` with V3 for ``credentials`` at time ``when`` with ``nonce``; pure."""
    body_sha256 = hashlib.sha256(call.body).hexdigest()
    headers: dict[str, str] = {
        "host": call.host,
        "x-acs-action": call.action,
        "x-acs-version": call.version,
        "x-acs-date": format_date(when),
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": body_sha256,
    }
    for name, value in call.extra_headers:
        headers[name.lower()] = value
    if credentials.security_token:
        headers["x-acs-security-token"] = credentials.security_token
    signed = sorted(name for name in headers if is_signed_header(name))
    signature = compute_signature(
        method=call.method,
        path="/",
        query=call.params,
        headers=headers,
        signed_headers=signed,
        body_sha256=body_sha256,
        secret=credentials.access_key_secret,
    )
    headers["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id},"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    return SignedCall(query_string=canonical_query(call.params), headers=tuple(headers.items()))


@dataclass(frozen=True)
class Authorization:
    """The parts of an ``Authorization: ACS3-HMAC-SHA256 ...`` (or ``ACS3-HMAC-SM3``) header."""

    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str
    algorithm: str = ALGORITHM


def parse_authorization(value: str) -> Authorization | None:
    """Parse a V3 Authorization header; None when it is not one (the verifier's concern)."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm not in V3_ALGORITHMS:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if not sep:
            return None
        fields[name] = field_value
    try:
        return Authorization(
            access_key_id=fields["Credential"],
            signed_headers=tuple(h for h in fields["SignedHeaders"].split(";") if h),
            signature=fields["Signature"],
            algorithm=algorithm,
        )
    except KeyError:
        return None
