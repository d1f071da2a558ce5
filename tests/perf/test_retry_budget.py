"""Throttling is waited out longer than faults: a shared quota must not fail a read early."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

import pytest

from reconciler.api import RetryPolicy, ServerError, ThrottledError
from reconciler.api.client import CamsClient
from reconciler.emulator import EmulatorApp, FaultPlan, open_emulated_client
from reconciler.emulator.state import parse_state


async def _no_sleep(_seconds: float) -> None:
    return None


def _client(app: EmulatorApp, policy: RetryPolicy,
            parallelism: int = 8) -> AbstractAsyncContextManager[CamsClient]:
    return open_emulated_client(app, qps=10_000, parallelism=parallelism, retry=policy)


def _attempts(faults: FaultPlan) -> tuple[int, type[Exception]]:
    app = EmulatorApp(parse_state({"spaces": {"1": {"numbers": []}}}), qps=10_000,
                      faults=faults)
    policy = RetryPolicy(max_elapsed=3600, sleep=_no_sleep)

    async def go() -> type[Exception]:
        async with _client(app, policy) as client:
            with pytest.raises((ThrottledError, ServerError)) as caught:
                await client.list_phone_numbers("1")
            return type(caught.value)
    raised = asyncio.run(go())
    return app.stats.calls["QueryChatappPhoneNumbers"], raised


def test_a_throttled_read_is_tried_up_to_the_throttle_budget() -> None:
    attempts, raised = _attempts(FaultPlan(throttle=1.0))
    assert raised is ThrottledError
    assert attempts == RetryPolicy().max_throttled_attempts == 20


def test_a_failing_read_stops_at_the_ordinary_budget() -> None:
    attempts, raised = _attempts(FaultPlan(server=1.0))
    assert raised is ServerError
    assert attempts == RetryPolicy().max_attempts == 6


def test_time_queued_for_our_own_permits_is_not_spent_from_the_retry_budget() -> None:
    # One call in flight at a time, 150 ms each: the 8th read waits ~1 s for its first send,
    # longer than the whole 0.6 s budget. Seeded throttles fall on calls queued that long;
    # each must still get its retries (counted from its own first send) and succeed.
    faults = FaultPlan(throttle=0.3, seed=3)
    spaces = {str(100 + n): {"numbers": []} for n in range(12)}
    app = EmulatorApp(parse_state({"spaces": spaces}), qps=10_000, latency_ms=150,
                      faults=faults)
    policy = RetryPolicy(max_elapsed=0.6, base_delay=0.001, max_delay=0.002)

    async def go() -> None:
        async with _client(app, policy, parallelism=1) as client:
            await asyncio.gather(*(client.list_phone_numbers(s) for s in spaces))
    asyncio.run(go())
    assert app.stats.faults["throttle"] >= 3  # the seed throttles calls late in the queue
    assert app.stats.calls["QueryChatappPhoneNumbers"] == 12 + app.stats.faults["throttle"]


def test_a_retried_call_keeps_its_place_ahead_of_calls_queued_after_it() -> None:
    # One call at a time; seeded throttles. A throttled read is retried before any read that
    # was still waiting for a slot, so reads finish in the order they were made, and no
    # retry waits behind the whole queue (which at a shared 3 QPS outlasts the budget).
    faults = FaultPlan(throttle=0.4, seed=5)
    spaces = [str(100 + n) for n in range(15)]
    app = EmulatorApp(parse_state({"spaces": {s: {"numbers": []} for s in spaces}}),
                      qps=10_000, faults=faults)
    policy = RetryPolicy(base_delay=0.001, max_delay=0.002)
    finished: list[str] = []

    async def go() -> None:
        async with _client(app, policy, parallelism=1) as client:
            async def read(space: str) -> None:
                await client.list_phone_numbers(space)
                finished.append(space)
            await asyncio.gather(*(read(s) for s in spaces))
    asyncio.run(go())
    assert app.stats.faults["throttle"] >= 4
    assert finished == spaces
