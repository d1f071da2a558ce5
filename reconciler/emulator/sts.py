"""The emulator's STS: ``AssumeRoleWithOIDC``, so keyless CI credentials are testable offline.

STS is a separate service in the cloud (``https://sts.aliyuncs.com``, API version 2015-04-01);
here the same emulator answers it when a request carries ``Action=AssumeRoleWithOIDC`` in its
query. The call is unsigned (the OIDC token is the proof). It trusts the roles of the state
file's ``oidc:`` list, and hands out a temporary AccessKey that the CAMS side then accepts only
together with its security token, until it expires.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconciler.api.models import JSONObject
from reconciler.api.operations import STS_VERSION
from reconciler.emulator.state import EmulatorState

MIN_DURATION = 900
MAX_DURATION = 43_200
DEFAULT_DURATION = 3600


class StsRefusal(Exception):
    """An STS error answer: HTTP status, Code and Message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TemporaryKey:
    """A key STS handed out: valid with its security token until ``expires`` (epoch seconds)."""

    secret: str
    security_token: str
    expires: float


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise StsRefusal(400, f"Missing{name}", f"{name} is mandatory for this action.")
    return value


def _duration(raw: str) -> int:
    """DurationSeconds as the service reads it: ASCII digits within the allowed range.

    The text is checked before it becomes a number: ``str.isdigit`` also says yes to "²" and
    to other scripts' digits, and ``int()`` refuses a text of more than 4,300 digits, so an
    unchecked ``int()`` would turn a client's typo into an exception of the emulator.
    """
    longest = len(str(MAX_DURATION))
    digits = raw.lstrip("0") or "0"
    if not (raw.isascii() and raw.isdigit() and len(digits) <= longest
            and MIN_DURATION <= int(digits) <= MAX_DURATION):
        raise StsRefusal(400, "InvalidParameter.DurationSeconds",
                         f"DurationSeconds must be between {MIN_DURATION} and {MAX_DURATION}.")
    return int(digits)


def _format(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def assume_role_with_oidc(state: EmulatorState, params: dict[str, str],
                          now: float) -> tuple[str, TemporaryKey, JSONObject]:
    """Check an AssumeRoleWithOIDC call; return (key id, key, answer body without RequestId)."""
    if params.get("Version") != STS_VERSION:
        raise StsRefusal(400, "InvalidVersion", "Specified parameter Version is not valid.")
    role_arn = _required(params, "RoleArn")
    provider_arn = _required(params, "OIDCProviderArn")
    token = _required(params, "OIDCToken")
    session = _required(params, "RoleSessionName")
    duration = _duration(params.get("DurationSeconds", str(DEFAULT_DURATION)))
    providers = [r for r in state.oidc_roles if r.provider_arn == provider_arn]
    if not providers:
        raise StsRefusal(404, "EntityNotExist.OIDCProvider",
                         "The specified OIDC provider does not exist.")
    role = next((r for r in providers if r.role_arn == role_arn), None)
    if role is None:
        raise StsRefusal(404, "EntityNotExist.Role", "The specified Role does not exist.")
    if not secrets.compare_digest(role.token, token):
        raise StsRefusal(400, "AuthenticationFail.OIDCToken.Invalid",
                         "The OIDC token is invalid.")
    key_id = "STS.NT" + secrets.token_hex(10)
    key = TemporaryKey(secret=secrets.token_urlsafe(30),
                       security_token="CAES" + secrets.token_urlsafe(120),
                       expires=now + duration)
    role_name = role_arn.rsplit("/", 1)[-1]
    body: JSONObject = {
        "Credentials": {"AccessKeyId": key_id, "AccessKeySecret": key.secret,
                        "SecurityToken": key.security_token,
                        "Expiration": _format(key.expires)},
        "AssumedRoleUser": {"Arn": f"{role_arn}/{session}",
                            "AssumedRoleId": f"3{secrets.token_hex(8)}:{session}"},
        "OIDCTokenInfo": {"Issuer": provider_arn, "Subject": f"emulated-{role_name}",
                          "ExpirationTime": _format(now + timedelta(hours=1).seconds)},
    }
    return key_id, key, body
