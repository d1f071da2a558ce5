"""Our client against the emulator on a real socket: resets, lost answers, the rate limit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconciler.api import AmbiguousWriteError, RetryPolicy, open_client
from reconciler.api.credentials import Credentials, StaticCredentials
from reconciler.emulator import EmulatorApp, FaultPlan, load_state, serve_in_thread

STATE_FILE = Path(__file__).parent / "state.yaml"
SPACE = "293483938849493"
EMPTY_SPACE = "100000000000001"
KEY = StaticCredentials(Credentials("LTAI5tTestKey", "test-secret"))
FAST = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01)


def test_reads_survive_resets_5xx_and_throttling_over_a_socket() -> None:
    app = EmulatorApp(load_state(STATE_FILE), qps=1000,
                      faults=FaultPlan(throttle=0.1, server=0.1, drop=0.15, seed=11))

    async def scenario(url: str) -> None:
        # A fault on 35 % of attempts: 12 attempts make a read that fails every one of them
        # a 1-in-300,000 event (with 8, one of the 40 reads failed in about 1 run in 100).
        patient = RetryPolicy(max_attempts=12, base_delay=0.001, max_delay=0.01)
        async with open_client(url, credentials=KEY, qps=1000, retry=patient) as client:
            results = await asyncio.gather(*(client.list_phone_numbers(SPACE)
                                             for _ in range(40)))
        assert all(len(r.numbers) == 2 for r in results)

    with serve_in_thread(app) as server:
        asyncio.run(scenario(server.url))
    assert app.stats.faults["drop"] > 0 and app.stats.faults["server"] > 0


def test_lost_add_over_a_socket_is_ambiguous_then_found_on_reread() -> None:
    app = EmulatorApp(load_state(STATE_FILE), faults=FaultPlan(lost_add=1.0))

    async def scenario(url: str) -> None:
        async with open_client(url, credentials=KEY, retry=FAST) as client:
            with pytest.raises(AmbiguousWriteError):
                await client.add_phone_number(EMPTY_SPACE, "39", "0612345678", "Roma")
            numbers = (await client.list_phone_numbers(EMPTY_SPACE)).numbers
        assert [n.phone_number for n in numbers] == ["390612345678"]

    with serve_in_thread(app) as server:
        asyncio.run(scenario(server.url))
    assert app.stats.calls["AddChatappPhoneNumber"] == 1


def test_two_hundred_calls_at_default_qps_are_never_throttled() -> None:
    """~20 s: 200 calls at the default 10 QPS against the emulator's default 10 QPS limit."""
    app = EmulatorApp(load_state(STATE_FILE))  # defaults: 10 QPS per key, no faults

    async def scenario(url: str) -> None:
        async with open_client(url, credentials=KEY) as client:  # defaults: 10 QPS, 8 wide
            calls = [client.list_phone_numbers(SPACE) if i % 2 else client.query_bind_waba(SPACE)
                     for i in range(200)]
            await asyncio.gather(*calls)

    with serve_in_thread(app) as server:
        asyncio.run(scenario(server.url))
    assert sum(app.stats.calls.values()) == 200
    assert app.stats.throttled == 0
