"""OIDC role credentials: the keyless way CI systems authenticate (STS ``AssumeRoleWithOIDC``).

The last link of the credential chain. It applies when ``ALIBABA_CLOUD_ROLE_ARN``,
``ALIBABA_CLOUD_OIDC_PROVIDER_ARN`` and ``ALIBABA_CLOUD_OIDC_TOKEN_FILE`` are set (a CI job
gets the token file from its identity provider). The source exchanges the token for a temporary
AccessKey with STS (``https://sts.aliyuncs.com``, override ``CAMSCTL_STS_ENDPOINT``), caches it,
and exchanges again shortly before it expires, reading the token file each time since CI
systems rotate it. The call is unsigned: the token is the proof. The token, the secret and the
security token never appear in a message, a repr or a log line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from reconciler.api.credential_types import ChainContext, Credentials, CredentialSource
from reconciler.api.endpoint import resolve_endpoint
from reconciler.api.errors import (
    AuthenticationError,
    ConfigurationError,
    ResponseError,
    ServiceAnswer,
)
from reconciler.api.exchange import exchange
from reconciler.api.models import FieldReader, NotJson, parse_json
from reconciler.api.operations import ASSUME_ROLE_WITH_OIDC as OPERATION
from reconciler.api.operations import STS_VERSION
from reconciler.safefile import UnsafeFile, read_regular

ENV_ROLE_ARN = "ALIBABA_CLOUD_ROLE_ARN"
ENV_PROVIDER_ARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
ENV_TOKEN_FILE = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
ENV_SESSION_NAME = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
ENV_STS_ENDPOINT = "CAMSCTL_STS_ENDPOINT"
DEFAULT_STS_ENDPOINT = "https://sts.aliyuncs.com"
DURATION_SECONDS = 3600
MAX_TOKEN_BYTES = 64 * 1024
"""The largest OIDC token file read: identity tokens are a few KiB."""
MAX_ANSWER_BYTES = 1024 * 1024
"""The largest STS answer read: a credentials answer is under 4 KiB."""
REFRESH_MARGIN_SECONDS = 300
"""Exchange again this long before expiry, so no call is signed with a key about to lapse."""


def _parse_expiration(text: str) -> float:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ResponseError(OPERATION, "Credentials.Expiration is not a UTC timestamp") from None


@dataclass
class OidcRoleCredentials:
    """A credential source that assumes a RAM role with an OIDC token, refreshing before expiry."""

    role_arn: str
    provider_arn: str
    token_file: Path
    session_name: str
    sts_endpoint: str = DEFAULT_STS_ENDPOINT
    duration_seconds: int = DURATION_SECONDS
    timeout: float = 30.0  # seconds for the whole exchange (``--timeout``)
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    _cached: Credentials | None = field(default=None, init=False, repr=False)
    _expires: float = field(default=0.0, init=False, repr=False)
    _lock: asyncio.Lock | None = field(default=None, init=False, repr=False)

    async def credentials(self) -> Credentials:
        if self._cached is not None and self.clock() < self._expires - REFRESH_MARGIN_SECONDS:
            return self._cached
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one exchange at a time, however many calls are waiting
            if self._cached is None or self.clock() >= self._expires - REFRESH_MARGIN_SECONDS:
                self._cached, self._expires = await self._exchange()
        return self._cached

    def _token(self) -> str:
        try:
            raw = read_regular(self.token_file, "the OIDC token file", MAX_TOKEN_BYTES)
        except UnsafeFile as exc:
            raise ConfigurationError(f"{ENV_TOKEN_FILE}: {exc}") from None
        try:
            token = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise ConfigurationError(f"{ENV_TOKEN_FILE}: {self.token_file} is not a token "
                                     "(a JWT is ASCII text)") from None
        if not token:
            raise ConfigurationError(f"{ENV_TOKEN_FILE}: {self.token_file} is empty")
        return token

    async def _exchange(self) -> tuple[Credentials, float]:
        endpoint = resolve_endpoint(self.sts_endpoint, "")
        params = {"Action": OPERATION, "Format": "JSON", "Version": STS_VERSION,
                  "RoleArn": self.role_arn, "OIDCProviderArn": self.provider_arn,
                  "OIDCToken": self._token(), "RoleSessionName": self.session_name,
                  "DurationSeconds": str(self.duration_seconds)}
        async with httpx.AsyncClient(transport=self.transport,
                                     timeout=httpx.Timeout(None, connect=self.timeout),
                                     verify=True, trust_env=not endpoint.is_loopback) as http:
            request = http.build_request("POST", f"{endpoint.url}/", params=params, content=b"")
            response = await exchange(http, request, operation=OPERATION, host=endpoint.host,
                                      deadline=self.timeout, limit=MAX_ANSWER_BYTES)
        try:
            body = parse_json(response.content)
        except NotJson as exc:
            raise ResponseError(OPERATION, f"HTTP {response.status_code} from STS is "
                                           f"{exc}") from None
        if not isinstance(body, dict):
            raise ResponseError(OPERATION, f"HTTP {response.status_code} from STS is not a "
                                           "JSON object")
        creds = body.get("Credentials")
        if response.status_code != 200 or not isinstance(creds, dict):
            reader = FieldReader(OPERATION, "answer", body)
            answer = ServiceAnswer(
                http_status=response.status_code, code=reader.optional_str("Code") or "Unknown",
                message=reader.optional_str("Message") or "no Credentials in the answer",
                request_id=reader.optional_str("RequestId"))
            raise AuthenticationError(OPERATION, answer)
        fields = [creds.get(k) for k in ("AccessKeyId", "AccessKeySecret", "SecurityToken",
                                          "Expiration")]
        if not all(isinstance(v, str) and v for v in fields):
            raise ResponseError(OPERATION, "STS answered without a complete Credentials object")
        key_id, secret, token, expiration = (str(v) for v in fields)
        try:
            credentials = Credentials(key_id, secret, token, origin=f"OIDC role {self.role_arn}")
        except ConfigurationError as exc:  # STS itself sent a key that cannot be used
            raise ResponseError(OPERATION, f"STS answered {exc.detail}") from None
        return credentials, _parse_expiration(expiration)


@dataclass(frozen=True)
class OidcLink:
    """The chain link: applies when the three OIDC variables are set; half-set is an error."""

    name: str = "OIDC role"

    def discover(self, context: ChainContext) -> CredentialSource | None:
        names = (ENV_ROLE_ARN, ENV_PROVIDER_ARN, ENV_TOKEN_FILE)
        values = {name: context.env.get(name, "").strip() for name in names}
        if not any(values.values()):
            return None
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise ConfigurationError(f"OIDC role credentials need {', '.join(names)}; "
                                     f"{', '.join(missing)} not set")
        return OidcRoleCredentials(
            role_arn=values[ENV_ROLE_ARN],
            provider_arn=values[ENV_PROVIDER_ARN],
            token_file=Path(values[ENV_TOKEN_FILE]),
            session_name=context.env.get(ENV_SESSION_NAME, "").strip() or "camsctl",
            sts_endpoint=context.env.get(ENV_STS_ENDPOINT, "").strip() or DEFAULT_STS_ENDPOINT,
            timeout=context.timeout,
        )
