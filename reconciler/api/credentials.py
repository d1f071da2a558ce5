"""Where the AccessKey comes from: the credential chain, in the order the vendor's tools use.

A chain is a tuple of links. Each link *discovers* from the environment (cheap, synchronous,
no network) whether it applies and, if so, returns a :class:`CredentialSource`; the first link
that applies wins. A source hands out :class:`Credentials` on every call (asynchronously), so a
link whose credentials expire refreshes them inside ``credentials()``.

Links (:func:`default_chain`): environment variables, then the aliyun CLI file
``~/.aliyun/config.json`` (``AK`` and ``StsToken`` profiles), then OIDC role assumption
(``oidc.py``). Secrets never appear in a repr or an error message. The types every link shares
(``Credentials``, ``CredentialSource``, ``StaticCredentials``, ...) live in
``credential_types.py``, which ``oidc.py`` builds on without importing this module; they are
re-exported here, the module callers import credentials from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.api.credential_types import (
    ChainContext,
    CredentialLink,
    Credentials,
    CredentialSource,
    StaticCredentials,
)
from reconciler.api.errors import ConfigurationError, CredentialsNotFound
from reconciler.api.models import NotJson, parse_json
from reconciler.api.oidc import OidcLink
from reconciler.safefile import UnsafeFile, read_regular

__all__ = [
    "ENV_ACCESS_KEY_ID",
    "ENV_ACCESS_KEY_SECRET",
    "ENV_PROFILE",
    "ENV_SECURITY_TOKEN",
    "AliyunConfigLink",
    "ChainContext",
    "CredentialLink",
    "CredentialSource",
    "Credentials",
    "EnvironmentLink",
    "StaticCredentials",
    "default_aliyun_config",
    "default_chain",
    "resolve_credentials",
]

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"
ENV_PROFILE = "ALIBABA_CLOUD_PROFILE"
MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""The largest aliyun CLI config read: a profile takes a few hundred bytes."""


@dataclass(frozen=True)
class EnvironmentLink:
    """``ALIBABA_CLOUD_ACCESS_KEY_ID`` + ``_SECRET`` (+ ``ALIBABA_CLOUD_SECURITY_TOKEN``)."""

    name: str = "environment"

    def discover(self, context: ChainContext) -> CredentialSource | None:
        key_id = context.env.get(ENV_ACCESS_KEY_ID, "").strip()
        secret = context.env.get(ENV_ACCESS_KEY_SECRET, "").strip()
        if not key_id and not secret:
            return None
        if not key_id or not secret:
            missing = ENV_ACCESS_KEY_SECRET if key_id else ENV_ACCESS_KEY_ID
            raise ConfigurationError(
                f"{missing} is not set but its partner is: set both or neither"
            )
        token = context.env.get(ENV_SECURITY_TOKEN, "").strip() or None
        return StaticCredentials(Credentials(key_id, secret, token, origin="environment"))


def _profile_field(profile: Mapping[str, object], key: str, where: str) -> str:
    value = profile.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: field {key!r} is missing or empty")
    return value


@dataclass(frozen=True)
class AliyunConfigLink:
    """A profile of the aliyun CLI's ``config.json`` (modes ``AK`` and ``StsToken``).

    The profile is the one asked for (``--profile``, then ``ALIBABA_CLOUD_PROFILE``), else the
    file's ``current``. A missing file lets the chain go on; a profile asked for by name that
    is not in the file, or a mode we cannot use, is an error rather than a silent fall-through.
    """

    name: str = "aliyun config"

    def discover(self, context: ChainContext) -> CredentialSource | None:
        path = context.aliyun_config
        asked = context.profile or context.env.get(ENV_PROFILE) or None
        if not path.exists():
            if asked:
                raise ConfigurationError(
                    f"profile {asked!r} was requested but {path} does not exist"
                ) from None
            return None
        try:
            document: object = parse_json(read_regular(path, "the aliyun config",
                                                       MAX_CONFIG_BYTES))
        except UnsafeFile as exc:
            raise ConfigurationError(str(exc)) from None
        except NotJson as exc:
            raise ConfigurationError(f"{path}: {exc}") from None
        if not isinstance(document, dict):
            raise ConfigurationError(f"{path}: expected a JSON object")
        current = document.get("current")
        wanted = asked or (current if isinstance(current, str) and current else None)
        if wanted is None:
            return None
        profiles = document.get("profiles")
        found: Mapping[str, object] | None = None
        if isinstance(profiles, list):
            for entry in profiles:
                if isinstance(entry, dict) and entry.get("name") == wanted:
                    found = entry
                    break
        if found is None:
            raise ConfigurationError(f"{path}: no profile named {wanted!r}")
        where = f"{path}: profile {wanted!r}"
        mode = found.get("mode", "AK")
        key_id = _profile_field(found, "access_key_id", where)
        secret = _profile_field(found, "access_key_secret", where)
        origin = f"aliyun profile {wanted}"
        if mode == "AK":
            return StaticCredentials(Credentials(key_id, secret, None, origin=origin))
        if mode == "StsToken":
            token = _profile_field(found, "sts_token", where)
            return StaticCredentials(Credentials(key_id, secret, token, origin=origin))
        raise ConfigurationError(
            f"{where}: mode {mode!r} is not supported (use AK or StsToken, or set "
            f"{ENV_ACCESS_KEY_ID}/{ENV_ACCESS_KEY_SECRET})"
        )


def default_chain() -> tuple[CredentialLink, ...]:
    """The order the vendor's tools use: environment, aliyun CLI profile, then OIDC role."""
    return (EnvironmentLink(), AliyunConfigLink(), OidcLink())


def default_aliyun_config() -> Path:
    return Path.home() / ".aliyun" / "config.json"


def resolve_credentials(
    profile: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    aliyun_config: Path | None = None,
    chain: tuple[CredentialLink, ...] | None = None,
    timeout: float = 30.0,
) -> CredentialSource:
    """Walk the chain and return the first source that applies, or raise CredentialsNotFound.

    As in the vendor's tools, exported keys win over the config file; ``profile`` only chooses
    which profile of the file is used.
    """
    context = ChainContext(
        env=os.environ if env is None else env,
        profile=profile,
        aliyun_config=aliyun_config or default_aliyun_config(),
        timeout=timeout,
    )
    for link in chain if chain is not None else default_chain():
        source = link.discover(context)
        if source is not None:
            return source
    raise CredentialsNotFound(
        f"no credentials found: set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}, "
        f"or configure a profile in {context.aliyun_config} (aliyun configure), "
        "or set ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and "
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE (OIDC), or use --emulator STATE_FILE"
    )
