"""Credential chain, endpoint rules and the permit schedule: no network."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from reconciler.api import ConfigurationError, CredentialsNotFound, resolve_endpoint
from reconciler.api.credentials import Credentials, resolve_credentials
from reconciler.api.flow import PermitSchedule

ENV = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "env-id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret"}


def creds(profile: str | None, env: dict[str, str], config: Path) -> Credentials:
    source = resolve_credentials(profile, env=env, aliyun_config=config)
    return asyncio.run(source.credentials())


@pytest.fixture
def aliyun(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"current": "main", "profiles": [
        {"name": "main", "mode": "AK", "access_key_id": "ak-id", "access_key_secret": "ak-sec",
         "region_id": "ap-southeast-1"},
        {"name": "sts", "mode": "StsToken", "access_key_id": "sts-id",
         "access_key_secret": "sts-sec", "sts_token": "sts-tok"},
        {"name": "ram", "mode": "RamRoleArn", "access_key_id": "x", "access_key_secret": "y"},
    ]}))
    return path


def test_environment_wins(aliyun: Path) -> None:
    got = creds(None, {**ENV, "ALIBABA_CLOUD_SECURITY_TOKEN": "tok"}, aliyun)
    assert (got.access_key_id, got.access_key_secret, got.security_token) == (
        "env-id", "env-secret", "tok")


def test_half_set_environment_is_an_error(aliyun: Path) -> None:
    with pytest.raises(ConfigurationError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        creds(None, {"ALIBABA_CLOUD_ACCESS_KEY_ID": "id"}, aliyun)


@pytest.mark.parametrize(("profile", "env", "expected"), [
    (None, {}, ("ak-id", None)),
    ("sts", {}, ("sts-id", "sts-tok")),
    (None, {"ALIBABA_CLOUD_PROFILE": "sts"}, ("sts-id", "sts-tok")),
])
def test_aliyun_profiles(aliyun: Path, profile: str | None, env: dict[str, str],
                         expected: tuple[str, str | None]) -> None:
    got = creds(profile, env, aliyun)
    assert (got.access_key_id, got.security_token) == expected


@pytest.mark.parametrize(("profile", "message"), [
    ("nope", "no profile named 'nope'"),
    ("ram", "mode 'RamRoleArn' is not supported"),
])
def test_bad_profiles_are_clear_errors(aliyun: Path, profile: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        creds(profile, {}, aliyun)
    assert "ak-sec" not in str(caught.value)


def test_nothing_configured(tmp_path: Path) -> None:
    with pytest.raises(CredentialsNotFound, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        creds(None, {}, tmp_path / "missing.json")


def test_secret_not_in_repr() -> None:
    assert "sec" not in repr(Credentials("id", "sec", "tok")).replace("security_token", "")


@pytest.mark.parametrize(("endpoint", "region", "url"), [
    (None, "ap-southeast-1", "https://cams.ap-southeast-1.aliyuncs.com"),
    ("cams.cn-hangzhou.aliyuncs.com", "x", "https://cams.cn-hangzhou.aliyuncs.com"),
    ("http://127.0.0.1:8080", "x", "http://127.0.0.1:8080"),
    ("http://127.5.6.7", "x", "http://127.5.6.7"),
    ("http://localhost:9", "x", "http://localhost:9"),
    ("http://[::1]:8080/", "x", "http://[::1]:8080"),
])
def test_endpoints(endpoint: str | None, region: str, url: str) -> None:
    assert resolve_endpoint(endpoint, region).url == url


@pytest.mark.parametrize(("endpoint", "message"), [
    ("http://cams.ap-southeast-1.aliyuncs.com", "refusing plain http"),
    ("http://10.0.0.1:8080", "refusing plain http"),
    ("ftp://example.com", "scheme must be https"),
    ("https://example.com/path", "scheme://host"),
])
def test_bad_endpoints(endpoint: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve_endpoint(endpoint, "ap-southeast-1")


def test_bad_region() -> None:
    with pytest.raises(ConfigurationError, match="invalid region"):
        resolve_endpoint(None, "Not A Region")


def test_permits_are_evenly_spaced_with_a_burst_of_one() -> None:
    now = [100.0]
    granted: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def scenario() -> None:
        schedule = PermitSchedule(10.0, clock=lambda: now[0], sleep=sleep)
        for _ in range(5):
            await schedule.acquire()
            granted.append(round(now[0] - 100.0, 6))
        now[0] += 5.0  # idle time is not banked as a burst
        await schedule.acquire()
        await schedule.acquire()
        granted.append(round(now[0] - 105.0, 6))
        schedule.set_rate(2.0)
        await schedule.acquire()
        await schedule.acquire()
        granted.append(round(now[0] - 105.0, 6))

    asyncio.run(scenario())
    # The slot after the change was already spaced at the old rate; the next at the new.
    assert granted == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.1]
