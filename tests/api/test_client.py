"""The client against the in-process emulator: typed answers, errors, retries, writes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from inprocess import EMPTY_SPACE, SPACE, client_for, make_app

from reconciler.api import (
    AccountWideError,
    AmbiguousWriteError,
    ApiError,
    AuthenticationError,
    BoundWaba,
    Credentials,
    ListedNumber,
    NetworkError,
    ResponseError,
    RetryPolicy,
    ServerError,
    ThrottledError,
    open_client,
)
from reconciler.api.credentials import StaticCredentials
from reconciler.emulator import FaultPlan


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_reads_return_typed_values() -> None:
    async def scenario() -> None:
        async with client_for(make_app()) as client:
            listed = await client.list_phone_numbers(SPACE)
            synced = await client.sync_phone_numbers(SPACE)
            profile = await client.query_business_profile(SPACE, "+8613800005678")
            waba = await client.query_bind_waba(SPACE, isv_code="isv")
            no_waba = await client.query_bind_waba(EMPTY_SPACE)
        assert [n.phone_number for n in listed.numbers] == ["8613800005678", "8613800009999"]
        assert listed.request_id and synced.numbers == listed.numbers
        first = listed.numbers[0]
        assert isinstance(first, ListedNumber)
        assert (first.verified_name, first.status, first.name_status, first.quality_rating,
                first.code_verification_status, first.messaging_limit_tier) == (
            "ACME", "CONNECTED", "APPROVED", "GREEN", "VERIFIED", "TIER_10K")
        assert profile.profile.websites == ("https://acme.example", "https://shop.acme.example")
        assert profile.profile.email == "hello@acme.example"
        assert isinstance(waba.waba, BoundWaba)
        assert (waba.waba.id, waba.waba.account_review_status) == ("20393988393993", "APPROVED")
        assert no_waba.waba is None and no_waba.request_id
    run(scenario())


def test_add_then_list_shows_pending_number_and_duplicates_fail_anywhere() -> None:
    async def scenario() -> None:
        async with client_for(make_app()) as client:
            request_id = await client.add_phone_number(EMPTY_SPACE, "86", "13800001234", "Acme")
            assert request_id
            numbers = (await client.list_phone_numbers(EMPTY_SPACE)).numbers
            assert [(n.phone_number, n.status, n.name_status) for n in numbers] == [
                ("8613800001234", "PENDING", "PENDING_REVIEW")]
            with pytest.raises(ApiError) as again:
                await client.add_phone_number(SPACE, "86", "13800001234", "Acme")
        assert again.value.code == "PhoneNumber.AlreadyExists"
        assert "AddChatappPhoneNumber" in str(again.value)
    run(scenario())


def test_unknown_space_is_an_api_error_naming_the_operation() -> None:
    async def scenario() -> None:
        async with client_for(make_app()) as client:
            with pytest.raises(ApiError) as caught:
                await client.list_phone_numbers("999")
        error = caught.value
        assert (error.code, error.http_status) == ("Unknown.ResourceOwnerId", 400)
        assert error.request_id and str(error).startswith("QueryChatappPhoneNumbers:")
    run(scenario())


@pytest.mark.parametrize(("credentials", "code", "masked"), [
    (Credentials("LTAI5tTestKey", "wrong-secret", origin="a test"), "SignatureDoesNotMatch",
     "LTAI****tKey"),
    (Credentials("NoSuchKey", "test-secret", origin="a test"), "InvalidAccessKeyId.NotFound",
     "****"),
])
def test_refused_credentials(credentials: Credentials, code: str, masked: str) -> None:
    async def scenario() -> None:
        async with client_for(make_app(),
                              credentials=StaticCredentials(credentials)) as client:
            with pytest.raises(AccountWideError) as caught:
                await client.query_bind_waba(SPACE)
        cause = caught.value.cause
        assert isinstance(cause, AuthenticationError) and cause.code == code
        assert "wrong-secret" not in str(caught.value)
        # The message says which credentials were refused (the id masked) and what to check.
        assert f" Used credentials from a test (AccessKey {masked}). Check that " \
            in str(caught.value)
    run(scenario())


def test_stale_clock_and_replayed_nonce_are_refused() -> None:
    async def scenario() -> None:
        stale = lambda: datetime.now(UTC) - timedelta(minutes=16)  # noqa: E731
        async with client_for(make_app(), clock=stale) as client:
            with pytest.raises(AccountWideError, match=r"InvalidTimeStamp\.Expired.*clock"):
                await client.query_bind_waba(SPACE)
        async with client_for(make_app(), nonce=lambda: "same-nonce") as client:
            await client.query_bind_waba(SPACE)
            with pytest.raises(AccountWideError, match="SignatureNonceUsed"):
                await client.query_bind_waba(SPACE)
    run(scenario())


def test_reads_survive_throttling_5xx_and_dropped_connections() -> None:
    app = make_app(FaultPlan(throttle=0.1, server=0.1, drop=0.1, seed=7))

    async def scenario() -> None:
        async with client_for(app) as client:
            results = await asyncio.gather(*(client.list_phone_numbers(SPACE) for _ in range(60)))
        assert all(len(r.numbers) == 2 for r in results)
    run(scenario())
    assert app.stats.faults["throttle"] > 0 and app.stats.faults["server"] > 0
    assert app.stats.faults["drop"] > 0
    assert sum(app.stats.calls.values()) == 60 + app.stats.faulted


def test_reads_give_up_after_capped_attempts() -> None:
    app = make_app(FaultPlan(server=1.0))

    async def scenario() -> None:
        async with client_for(app, retry=RetryPolicy(max_attempts=3, base_delay=0.001)) as c:
            with pytest.raises(ServerError) as caught:
                await c.list_phone_numbers(SPACE)
        assert caught.value.code == "ServiceUnavailable"
    run(scenario())
    assert app.stats.calls["QueryChatappPhoneNumbers"] == 3


def test_add_with_lost_answer_is_ambiguous_and_was_applied() -> None:
    app = make_app(FaultPlan(lost_add=1.0))

    async def scenario() -> None:
        async with client_for(app) as client:
            with pytest.raises(AmbiguousWriteError) as caught:
                await client.add_phone_number(EMPTY_SPACE, "86", "13800001234", "Acme")
            assert isinstance(caught.value.cause, NetworkError)
            numbers = (await client.list_phone_numbers(EMPTY_SPACE)).numbers
        assert [n.phone_number for n in numbers] == ["8613800001234"]
    run(scenario())
    assert app.stats.calls["AddChatappPhoneNumber"] == 1  # never re-sent blindly


@pytest.mark.parametrize("faults", [FaultPlan(server=1.0), FaultPlan(drop=1.0)])
def test_add_with_unknown_outcome_is_not_retried(faults: FaultPlan) -> None:
    app = make_app(faults)

    async def scenario() -> None:
        async with client_for(app) as client:
            with pytest.raises(AmbiguousWriteError):
                await client.add_phone_number(EMPTY_SPACE, "86", "13800001234", "Acme")
    run(scenario())
    assert app.stats.calls["AddChatappPhoneNumber"] == 1


def test_throttled_add_is_retried_and_applied_once() -> None:
    app = make_app(FaultPlan(throttle=0.6, seed=3))

    async def scenario() -> None:
        async with client_for(app) as client:
            await client.add_phone_number(EMPTY_SPACE, "86", "13800001234", "Acme")
    run(scenario())
    assert app.stats.faults["throttle"] >= 1
    assert [n["PhoneNumber"] for n in app.state.spaces[EMPTY_SPACE].numbers] == ["8613800001234"]


def test_add_not_sent_when_connection_refused_is_retried_then_network_error() -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    async def scenario() -> None:
        async with open_client("http://127.0.0.1", transport=httpx.MockTransport(refuse),
                               credentials=StaticCredentials(Credentials("a", "b")),
                               retry=RetryPolicy(max_attempts=6, base_delay=0.001)) as client:
            with pytest.raises(AccountWideError) as caught:
                await client.add_phone_number(SPACE, "86", "13800001234", "Acme")
        assert isinstance(caught.value.cause, NetworkError)
        assert caught.value.cause.request_sent is False
    run(scenario())
    # An endpoint that cannot be reached stops the run: tried max_unreachable_attempts (3)
    # times, not max_attempts (6).
    assert calls == 3


def _fixed(status: int, body: bytes, headers: dict[str, str] | None = None
           ) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=body,
                                                              headers=headers or {}))


@pytest.mark.parametrize(("status", "body", "error"), [
    (200, b'{"Code": "Ram.PermissionDeny", "Message": "no", "RequestId": "R1"}',
     AccountWideError),
    (200, b"<html>proxy</html>", ResponseError),
    (200, b'{"Message": "no code"}', ResponseError),
    (502, b"<html>bad gateway</html>", ServerError),
    (429, b"{}", ThrottledError),
    (400, b'{"Code": "System.LimitControl", "Message": "x", "RequestId": "R2"}', ThrottledError),
])
def test_answers_map_onto_the_error_tree(status: int, body: bytes, error: type[Exception]
                                         ) -> None:
    async def scenario() -> None:
        async with open_client("http://127.0.0.1", transport=_fixed(status, body),
                               credentials=StaticCredentials(Credentials("a", "b")),
                               retry=RetryPolicy(max_attempts=2, max_throttled_attempts=2,
                                                 base_delay=0.001)) as client:
            with pytest.raises(error) as caught:
                await client.query_bind_waba(SPACE)
        assert str(caught.value).startswith("QueryChatappBindWaba:")
    run(scenario())


DENIAL_DETAIL = {"PolicyType": "AccountLevelIdentityBasedPolicy", "AuthPrincipalType": "SubUser",
                 "AuthPrincipalDisplayName": "ci-deployer", "NoPermissionType": "ImplicitDeny",
                 "AuthAction": "cams:QueryChatappBindWaba"}


@pytest.mark.parametrize(("code", "detail", "shown"), [
    ("Ram.PermissionDeny", DENIAL_DETAIL, '"AuthAction": "cams:QueryChatappBindWaba"'),
    ("Forbidden.RAM", "the caller may not call QueryChatappBindWaba", "may not call"),
])
def test_a_ram_denial_quotes_its_access_denied_detail(code: str, detail: object,
                                                      shown: str) -> None:
    body = json.dumps({"Code": code, "Message": "You are not authorized to do this action.",
                       "RequestId": "R-DENIED", "AccessDeniedDetail": detail,
                       "Recommend": "https://api.aliyun.com/troubleshoot?q=" + code})

    async def scenario() -> None:
        async with open_client("http://127.0.0.1", transport=_fixed(403, body.encode()),
                               credentials=StaticCredentials(Credentials("a", "s3cret-key")),
                               retry=RetryPolicy(max_attempts=1)) as client:
            with pytest.raises(AccountWideError) as caught:
                await client.query_bind_waba(SPACE)
        text = str(caught.value)
        cause = caught.value.cause
        assert type(cause) is ApiError and cause.code == code
        assert text.startswith(f"QueryChatappBindWaba: HTTP 403 {code}: You are not authorized")
        assert "(RequestId R-DENIED; AccessDeniedDetail: " in text and shown in text
        assert f"; Recommend: https://api.aliyun.com/troubleshoot?q={code})" in text
        assert "s3cret-key" not in text
    run(scenario())


def test_other_errors_quote_only_their_request_id() -> None:
    body = {"Code": "PhoneNumber.AlreadyExists", "Message": "exists", "RequestId": "R3",
            "Recommend": "https://api.aliyun.com/troubleshoot?q=PhoneNumber.AlreadyExists"}

    async def scenario() -> None:
        async with open_client("http://127.0.0.1",
                               transport=_fixed(400, json.dumps(body).encode()),
                               credentials=StaticCredentials(Credentials("a", "b"))) as client:
            with pytest.raises(ApiError) as caught:
                await client.add_phone_number(SPACE, "86", "13800001234", "Acme")
        assert str(caught.value) == ("AddChatappPhoneNumber: HTTP 400 PhoneNumber.AlreadyExists: "
                                     "exists (RequestId R3)")
    run(scenario())


def test_retry_after_header_is_honoured() -> None:
    sleeps: list[float] = []
    answers = iter([
        httpx.Response(400, json={"Code": "Throttling.User", "Message": "slow", "RequestId": "1"},
                       headers={"x-acs-retry-after": "250"}),
        httpx.Response(200, json={"Code": "OK", "RequestId": "2"}),
    ])

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async def scenario() -> None:
        policy = RetryPolicy(base_delay=0.001, max_delay=0.002, sleep=record)
        async with open_client("http://127.0.0.1",
                               transport=httpx.MockTransport(lambda r: next(answers)),
                               credentials=StaticCredentials(Credentials("a", "b")),
                               retry=policy) as client:
            result = await client.query_bind_waba(SPACE)
        assert result.waba is None and result.request_id == "2"
    run(scenario())
    assert sleeps == [0.25]


def test_parallelism_bounds_calls_in_flight() -> None:
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return httpx.Response(200, json={"Code": "OK", "RequestId": "r"})

    async def scenario() -> None:
        async with open_client("http://127.0.0.1", parallelism=3, qps=10000,
                               transport=httpx.MockTransport(slow),
                               credentials=StaticCredentials(Credentials("a", "b"))) as client:
            await asyncio.gather(*(client.query_bind_waba(SPACE) for _ in range(20)))
    run(scenario())
    assert peak == 3


def test_no_secret_in_client_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="reconciler.api")

    async def scenario() -> None:
        async with client_for(make_app()) as client:
            await client.query_bind_waba(SPACE)
            assert "test-secret" not in repr(client)
    run(scenario())
    assert "test-secret" not in caplog.text and "QueryChatappBindWaba" in caplog.text
    json.dumps(caplog.text)
