"""What a credential is and what hands one out: the vocabulary every credential link shares.

:class:`Credentials` (an AccessKey, with its STS token when temporary), a
:class:`CredentialSource` that hands them out, the simplest source (:class:`StaticCredentials`),
and the shape of a link of the credential chain (:class:`CredentialLink`, looking at a
:class:`ChainContext`). The links themselves live in ``credentials.py`` (environment, aliyun
CLI profile, and the chain's order) and ``oidc.py`` (OIDC role); both build on this module, and
``credentials.py`` imports ``oidc.py``, so these types sit apart to keep imports one-way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reconciler.api.errors import ConfigurationError


def _problem(value: str) -> str | None:
    """Why ``value`` cannot be sent in a signed HTTP header, without quoting it, or None.

    AccessKey ids, secrets and STS tokens are printable ASCII. Anything else would reach the
    header library, whose error quotes the whole header value (and so the secret), or break
    the signature in a way the service reports as a wrong key.
    """
    if not value:
        return "is empty"
    for position, char in enumerate(value, start=1):
        if char in " \t":
            return f"contains a space or tab (character {position})"
        if char in "\r\n":
            return f"contains a line break (character {position})"
        if not " " < char < "\x7f":
            kind = "a control character" if char < " " or char == "\x7f" else \
                "bytes that are not UTF-8" if "\udc80" <= char <= "\udcff" else \
                "a character that is not ASCII"
            return f"contains {kind} (character {position})"
    return None


def mask_key_id(key_id: str) -> str:
    """An AccessKey id as error messages show it: enough to recognise, not to use."""
    return f"{key_id[:4]}****{key_id[-4:]}" if len(key_id) >= 12 else "****"


@dataclass(frozen=True)
class Credentials:
    """An AccessKey pair, with an STS token when the key is temporary.

    The secret and token are excluded from ``repr`` so they never reach a log or a traceback.
    ``origin`` says which link produced them (for ``-v`` output and error messages). They are
    checked when made: a value that cannot be sent in a header is a :class:`ConfigurationError`
    naming the origin and the field, never quoting a value.
    """

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    origin: str = ""

    def __post_init__(self) -> None:
        for what, value in (("AccessKey id", self.access_key_id),
                            ("AccessKey secret", self.access_key_secret),
                            ("security token", self.security_token)):
            problem = None if value is None else _problem(value)
            if problem is not None:
                where = f"credentials from {self.origin}" if self.origin else "credentials"
                raise ConfigurationError(f"{where}: the {what} {problem}; it cannot be sent")

    @property
    def identity(self) -> str:
        """Where these credentials came from and which AccessKey, masked: for error messages."""
        origin = self.origin or "an unnamed source"
        return f"credentials from {origin} (AccessKey {mask_key_id(self.access_key_id)})"


class CredentialSource(Protocol):
    """Hands out the credentials to sign the next request with (refreshing them if needed)."""

    async def credentials(self) -> Credentials: ...


@dataclass(frozen=True)
class StaticCredentials:
    """A source whose credentials never change (environment, aliyun AK/StsToken profile)."""

    value: Credentials

    async def credentials(self) -> Credentials:
        return self.value


@dataclass(frozen=True)
class ChainContext:
    """What links may look at: the environment, the requested profile, the aliyun config path."""

    env: Mapping[str, str]
    profile: str | None
    aliyun_config: Path
    timeout: float = 30.0  # seconds for a whole answer, for links that call a service


class CredentialLink(Protocol):
    """One link of the chain: a source if this link applies, None to let the next one try."""

    @property
    def name(self) -> str: ...

    def discover(self, context: ChainContext) -> CredentialSource | None: ...
