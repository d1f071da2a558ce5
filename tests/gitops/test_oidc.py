"""Keyless CI credentials: OIDC role assumption through the emulator's STS, end to end."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from reconciler.api import AuthenticationError, ConfigurationError, CredentialsNotFound
from reconciler.api import Credentials as AccessKey
from reconciler.api.credentials import resolve_credentials
from reconciler.api.oidc import REFRESH_MARGIN_SECONDS, OidcRoleCredentials
from reconciler.api.signing import RpcCall, sign_request
from reconciler.emulator import EmulatorApp, InProcessTransport, serve_in_thread
from reconciler.emulator.state import parse_state

ROLE = "acs:ram::1234567890:role/camsctl-plan"
PROVIDER = "acs:ram::1234567890:oidc-provider/github"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.oidc-test-token.c2ln"
SPACE = "293483938849493"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(clock: Callable[[], float] | None = None) -> EmulatorApp:
    state = parse_state({
        "oidc": [{"role_arn": ROLE, "provider_arn": PROVIDER, "token": TOKEN}],
        "spaces": {SPACE: {"numbers": [{"PhoneNumber": "8613800005678",
                                        "VerifiedName": "ACME", "Status": "CONNECTED"}]}},
    })
    return EmulatorApp(state, wall_clock=clock or Clock())


def source(app: EmulatorApp, token_file: Path, clock: Clock) -> OidcRoleCredentials:
    return OidcRoleCredentials(role_arn=ROLE, provider_arn=PROVIDER, token_file=token_file,
                               session_name="ci", sts_endpoint="http://127.0.0.1",
                               transport=InProcessTransport(app), clock=clock)


def test_exchange_is_cached_then_refreshed_before_expiry(tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(clock)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    oidc = source(app, token_file, clock)

    async def go() -> list[AccessKey]:
        first = await oidc.credentials()
        again = await asyncio.gather(*(oidc.credentials() for _ in range(5)))
        clock.now += 3600 - REFRESH_MARGIN_SECONDS - 1
        still = await oidc.credentials()
        clock.now += 2  # inside the refresh margin
        fresh = await oidc.credentials()
        return [first, *again, still, fresh]

    keys = asyncio.run(go())
    assert app.stats.calls["AssumeRoleWithOIDC"] == 2
    assert len({k.access_key_id for k in keys[:-1]}) == 1
    assert keys[-1].access_key_id != keys[0].access_key_id
    assert keys[0].access_key_id.startswith("STS.")
    assert keys[0].security_token
    assert TOKEN not in repr(oidc) and keys[0].access_key_secret not in repr(keys[0])


def test_token_file_is_read_again_at_each_exchange(tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(clock)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    oidc = source(app, token_file, clock)
    asyncio.run(oidc.credentials())
    token_file.write_text("rotated-but-wrong")
    clock.now += 3600
    with pytest.raises(AuthenticationError) as caught:
        asyncio.run(oidc.credentials())
    assert caught.value.code == "AuthenticationFail.OIDCToken.Invalid"
    assert "rotated-but-wrong" not in str(caught.value)


@pytest.mark.parametrize(("role", "provider", "code"), [
    ("acs:ram::1:role/other", PROVIDER, "EntityNotExist.Role"),
    (ROLE, "acs:ram::1:oidc-provider/other", "EntityNotExist.OIDCProvider"),
])
def test_sts_refuses_unknown_roles_and_providers(tmp_path: Path, role: str, provider: str,
                                                 code: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    clock = Clock()
    oidc = source(make_app(clock), token_file, clock)
    oidc.role_arn, oidc.provider_arn = role, provider
    with pytest.raises(AuthenticationError) as caught:
        asyncio.run(oidc.credentials())
    assert caught.value.code == code


def _call_with(app: EmulatorApp, key: AccessKey, clock: Clock) -> httpx.Response:
    call = RpcCall(action="QueryChatappPhoneNumbers", params=(("CustSpaceId", SPACE),),
                   host="127.0.0.1")
    when = datetime.fromtimestamp(clock(), UTC)
    signed = sign_request(call, key, when, os.urandom(8).hex())

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=InProcessTransport(app)) as http:
            return await http.post(f"http://127.0.0.1/?{signed.query_string}",
                                   headers=signed.headers)
    return asyncio.run(go())


def test_temporary_keys_need_their_security_token(tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(clock)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    key = asyncio.run(source(app, token_file, clock).credentials())
    assert _call_with(app, key, clock).json()["Code"] == "OK"
    without = AccessKey(key.access_key_id, key.access_key_secret, None)
    assert _call_with(app, without, clock).json()["Code"] == "MissingSecurityToken"
    wrong = AccessKey(key.access_key_id, key.access_key_secret, "CAESwrong")
    assert _call_with(app, wrong, clock).json()["Code"] == \
        "InvalidSecurityToken.MismatchWithAccessKey"
    clock.now += 3601
    assert _call_with(app, key, clock).json()["Code"] == "InvalidSecurityToken.Expired"


OIDC_ENV = {"ALIBABA_CLOUD_ROLE_ARN": ROLE, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER}


def test_chain_order_environment_keys_win_over_oidc(tmp_path: Path) -> None:
    env = {**OIDC_ENV, "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(tmp_path / "t"),
           "ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}
    chosen = resolve_credentials(env=env, aliyun_config=tmp_path / "none.json")
    assert not isinstance(chosen, OidcRoleCredentials)
    env = {k: v for k, v in env.items() if "ACCESS_KEY" not in k}
    chosen = resolve_credentials(env=env, aliyun_config=tmp_path / "none.json")
    assert isinstance(chosen, OidcRoleCredentials)
    assert chosen.sts_endpoint == "https://sts.aliyuncs.com"
    assert chosen.session_name == "camsctl"


def test_half_configured_oidc_is_an_error_and_nothing_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ALIBABA_CLOUD_OIDC_TOKEN_FILE not set"):
        resolve_credentials(env=OIDC_ENV, aliyun_config=tmp_path / "none.json")
    with pytest.raises(CredentialsNotFound, match="OIDC"):
        resolve_credentials(env={}, aliyun_config=tmp_path / "none.json")


def test_plan_authenticates_through_oidc_with_no_access_key(tmp_path: Path, repo: Path) -> None:
    app = make_app(time.time)  # a real server: real time
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f'version: 1\nspaces:\n  - id: "{SPACE}"\n    numbers:\n'
                        '      - {phone: "+86 138 0000 5678", verified_name: ACME}\n')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ALIBABA_CLOUD_") and k != "GITHUB_STEP_SUMMARY"}
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        env.update(OIDC_ENV, ALIBABA_CLOUD_OIDC_TOKEN_FILE=str(token_file), HOME=str(tmp_path),
                   CAMSCTL_STS_ENDPOINT=server.url)
        done = subprocess.run([sys.executable, "-m", "reconciler", "-vv", "--endpoint",
                               server.url, "plan", str(manifest), "--detailed-exitcode"],
                              capture_output=True, text=True, env=env, cwd=repo, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "No changes. Live state matches the manifests."
    assert app.stats.calls["AssumeRoleWithOIDC"] == 1
    assert app.stats.calls["QueryChatappPhoneNumbers"] == 1
    key = next(iter(app.temporary_keys.values()))
    for secret in (TOKEN, key.secret, key.security_token):
        assert secret not in done.stdout and secret not in done.stderr
