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


@dataclass(frozen=True)
class Credentials:
    """An AccessKey pair, with an STS token when the key is temporary.

    The secret and token are excluded from ``repr`` so they never reach a log or a traceback.
    ``origin`` says which link produced them (for ``-v`` output and error messages).
    """

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    origin: str = ""


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


class CredentialLink(Protocol):
    """One link of the chain: a source if this link applies, None to let the next one try."""

    @property
    def name(self) -> str: ...

    def discover(self, context: ChainContext) -> CredentialSource | None: ...
