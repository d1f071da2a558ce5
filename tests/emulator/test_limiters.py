"""The emulator's three rate-limit algorithms (``--limiter bucket|fixed|sliding``).

Each on a fake clock: it admits no more than it promises in any window it defines, refuses
beyond, and its retry-after is exact (a call that waits that long is admitted, one a
millisecond sooner is not). Then through the app, in-process and on a socket, with the
app's clocks injected: the throttled answer and its ``x-acs-retry-after``. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from click.testing import CliRunner

from reconciler.api.credentials import Credentials
from reconciler.api.signing import RpcCall, sign_request
from reconciler.emulator import EmulatorApp, InProcessTransport, emulator, serve_in_thread
from reconciler.emulator.ratelimits import (
    Algorithm,
    FixedWindow,
    RateLimit,
    SlidingWindow,
    TokenBucket,
    new_rate_limit,
)
from reconciler.emulator.state import parse_state

KEY = Credentials("emulator", "emulator-secret")
START = 1_800_000_000.25  # a wall-clock time a quarter of a second into a second


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _limit(algorithm: Algorithm, clock: Clock, rate: float = 10.0) -> RateLimit:
    return new_rate_limit(algorithm, rate, monotonic=clock, wall_clock=clock)


def _offer(limit: RateLimit, clock: Clock, times: list[float]) -> list[float]:
    """Offer one call at each time; return the times of those admitted."""
    admitted = []
    for when in times:
        clock.now = when
        if limit.take() is None:
            admitted.append(when)
    return admitted


def _demand(seed: int, calls: int = 600, mean_gap: float = 0.05) -> list[float]:
    """Calls at 20 per second on average, bunched and spread at random."""
    draw = random.Random(seed)
    times, now = [], START
    for _ in range(calls):
        now += draw.expovariate(1 / mean_gap)
        times.append(now)
    return times


@pytest.mark.parametrize("seed", range(5))
def test_a_sliding_window_admits_at_most_qps_within_any_second(seed: int) -> None:
    clock = Clock()
    admitted = _offer(SlidingWindow(10.0, clock), clock, _demand(seed))
    for i, start in enumerate(admitted):  # every window (start - 1 s, start]
        assert sum(1 for t in admitted[: i + 1] if t > start - 1.0) <= 10
    # ... and it refuses beyond: twice the rate offered, about the rate admitted.
    assert 0.9 * 10 <= len(admitted) / (admitted[-1] - admitted[0]) <= 10


@pytest.mark.parametrize("seed", range(5))
def test_a_fixed_window_admits_at_most_qps_per_wall_clock_second(seed: int) -> None:
    clock = Clock()
    admitted = _offer(FixedWindow(10.0, clock), clock, _demand(seed))
    seconds: dict[int, int] = {}
    for t in admitted:
        seconds[int(t)] = seconds.get(int(t), 0) + 1
    assert max(seconds.values()) == 10  # full windows: the demand exceeds every one
    assert len(admitted) <= 10 * len(seconds)


@pytest.mark.parametrize("seed", range(5))
def test_a_token_bucket_admits_its_capacity_plus_its_refill(seed: int) -> None:
    clock = Clock()
    admitted = _offer(TokenBucket(10.0, clock), clock, _demand(seed))
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            assert j - i + 1 <= 10 + 10 * (admitted[j] - start) + 1e-9
    assert len(admitted) < 600


def test_a_fixed_window_lets_two_bursts_straddle_a_boundary() -> None:
    clock = Clock()
    limit = FixedWindow(10.0, clock)
    burst = [START + 0.65 + 0.01 * i for i in range(20)]
    # 10 in the second that ends at START + 0.75, 10 in the next: 20 within 0.2 s.
    assert len(_offer(limit, clock, burst)) == 20


def test_a_sliding_window_refuses_an_even_stream_at_the_rate_with_a_little_jitter() -> None:
    clock = Clock()
    limit = SlidingWindow(10.0, clock)
    even = [START + 0.1 * i for i in range(10)]
    assert _offer(limit, clock, even) == even
    # The 11th call of the stream arrives 2 ms early: 11 calls within one second.
    clock.now = START + 0.998
    assert limit.take() == pytest.approx(0.002, abs=1e-6)


def _exact_retry_after(limit: RateLimit, clock: Clock, refused_at: float) -> None:
    clock.now = refused_at
    wait = limit.take()
    assert wait is not None and wait > 0
    clock.now = refused_at + wait - 0.001
    assert limit.take() is not None, "admitted before its retry-after"
    clock.now = refused_at + wait + 1e-6  # the clock's resolution at this epoch: 2.4e-7 s
    assert limit.take() is None, "refused after its retry-after"


def test_retry_after_of_a_token_bucket_is_when_the_next_token_is_back() -> None:
    clock = Clock()
    limit = TokenBucket(10.0, clock)
    assert len(_offer(limit, clock, [START] * 12)) == 10
    clock.now = START + 0.03
    assert limit.take() == pytest.approx(0.07, abs=1e-6)
    _exact_retry_after(limit, clock, START + 0.03)


def test_retry_after_of_a_fixed_window_is_the_start_of_the_next_window() -> None:
    clock = Clock()
    limit = FixedWindow(10.0, clock)
    assert len(_offer(limit, clock, [START] * 10)) == 10
    clock.now = START + 0.5
    assert limit.take() == pytest.approx(0.25, abs=1e-6)  # the window ends at START + 0.75
    _exact_retry_after(limit, clock, START + 0.6)


def test_retry_after_of_a_sliding_window_is_when_the_oldest_call_leaves_it() -> None:
    clock = Clock()
    limit = SlidingWindow(10.0, clock)
    admitted = [START + 0.05 * i for i in range(10)]
    assert _offer(limit, clock, admitted) == admitted
    clock.now = START + 0.7
    assert limit.take() == pytest.approx(0.3, abs=1e-6)  # the call at START leaves at START + 1
    _exact_retry_after(limit, clock, START + 0.7)


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_a_rate_below_one_per_second_admits_one_call_per_its_period(
        algorithm: Algorithm) -> None:
    clock = Clock(1_800_000_000.0)
    limit = _limit(algorithm, clock, rate=0.5)
    assert limit.take() is None
    clock.now += 1.0
    assert limit.take() == pytest.approx(1.0)  # one call per 2 s
    clock.now += 1.0
    assert limit.take() is None


# -- through the app -----------------------------------------------------------------------


def _app(algorithm: str, clock: Clock, qps: float = 10.0) -> EmulatorApp:
    return EmulatorApp(parse_state({"spaces": {"1": {"numbers": []}}}), qps=qps,
                       limiter=algorithm, monotonic=clock, wall_clock=clock)


def _signed(url: str, clock: Clock) -> httpx.Request:
    call = RpcCall(action="QueryChatappPhoneNumbers", params=(("CustSpaceId", "1"),),
                   host=httpx.URL(url).netloc.decode())
    signed = sign_request(call, KEY, datetime.fromtimestamp(clock.now, UTC), uuid.uuid4().hex)
    return httpx.Request("POST", f"{url}/?{signed.query_string}", headers=signed.headers)


async def _in_process(app: EmulatorApp, clock: Clock, times: list[float]
                      ) -> list[tuple[int, str | None, str | None]]:
    answers = []
    async with httpx.AsyncClient(transport=InProcessTransport(app)) as http:
        for when in times:
            clock.now = when
            response = await http.send(_signed("http://localhost", clock))
            answers.append((response.status_code, response.json().get("Code"),
                            response.headers.get("x-acs-retry-after")))
    return answers


@pytest.mark.parametrize(("algorithm", "retry_after_ms"), [
    # 10 calls from START on leave 0.9 token; refilled at 10/s and spent at + 0.28, + 0.29
    # and + 0.33, 0.35 token is there at + 0.335: the next is 0.065 s away.
    ("bucket", "65"),
    ("fixed", "415"),  # the window of the first 10 calls ends at START + 0.75
    ("sliding", "665"),  # the first call (at START) leaves the window at START + 1
])
def test_the_app_throttles_per_algorithm_with_a_meaningful_retry_after(
        algorithm: str, retry_after_ms: str) -> None:
    clock = Clock()
    app = _app(algorithm, clock)
    first = [START + 0.01 * i for i in range(10)]
    later = [START + 0.28, START + 0.29, START + 0.33, START + 0.335]
    answers = asyncio.run(_in_process(app, clock, first + later))
    assert all(status == 200 for status, _, _ in answers[:10])
    if algorithm == "bucket":
        assert [a[0] for a in answers[10:]] == [200, 200, 200, 400]
    else:
        assert [a[0] for a in answers[10:]] == [400, 400, 400, 400]
    status, code, retry_after = answers[-1]
    assert (status, code, retry_after) == (400, "Throttling.User", retry_after_ms)
    assert app.stats.throttled == sum(1 for a in answers if a[0] == 400)


def test_retry_after_is_rounded_up_to_the_millisecond() -> None:
    clock = Clock()
    app = _app("sliding", clock)
    times = [START + 0.01 * i for i in range(10)] + [START + 0.9996]
    answers = asyncio.run(_in_process(app, clock, times))
    assert answers[-1][2] == "1"  # 0.4 ms: never "0", never early


def test_on_a_socket_each_algorithm_refuses_the_eleventh_call_of_a_second() -> None:
    for algorithm in Algorithm:
        clock = Clock()  # frozen: every call lands at the same instant
        app = _app(algorithm, clock)
        with serve_in_thread(app, "127.0.0.1", 0) as server, \
                httpx.Client(trust_env=False, timeout=10.0) as http:
            statuses = [http.send(_signed(server.url, clock)).status_code for _ in range(12)]
        assert statuses == [200] * 10 + [400] * 2, algorithm
        assert app.stats.throttled == 2


@pytest.mark.parametrize(("inbound", "way_in", "way_out"),
                         [(0.1, (0.02, 0.03), (0.18, 0.27)),
                          (0.5, (0.1, 0.15), (0.1, 0.15))])
def test_latency_comes_in_two_parts_each_jittered_within_its_share(
        inbound: float, way_in: tuple[float, float], way_out: tuple[float, float]) -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    app = EmulatorApp(parse_state({"spaces": {"1": {"numbers": []}}}), latency_ms=250,
                      latency_jitter=0.2, latency_inbound=inbound, monotonic=clock,
                      wall_clock=clock, sleep=sleep)
    asyncio.run(_in_process(app, clock, [START + i for i in range(50)]))
    assert len(slept) == 100  # two parts per call, the way in first
    ins, outs = slept[0::2], slept[1::2]
    assert all(way_in[0] <= s <= way_in[1] for s in ins)
    assert all(way_out[0] <= s <= way_out[1] for s in outs)
    assert max(ins) - min(ins) > 0.6 * (way_in[1] - way_in[0])  # really jittered
    again: list[float] = []

    async def sleep_again(seconds: float) -> None:
        again.append(seconds)

    same_seed = EmulatorApp(parse_state({"spaces": {"1": {"numbers": []}}}), latency_ms=250,
                            latency_jitter=0.2, latency_inbound=inbound, monotonic=clock,
                            wall_clock=clock, sleep=sleep_again)
    asyncio.run(_in_process(same_seed, clock, [START + i for i in range(50)]))
    assert again == slept  # seeded: repeatable


def test_an_unknown_limiter_or_a_bad_jitter_is_refused() -> None:
    state = parse_state({"spaces": {}})
    with pytest.raises(ValueError):
        EmulatorApp(state, limiter="leaky")
    with pytest.raises(ValueError, match="jitter"):
        EmulatorApp(state, latency_jitter=1.5)
    with pytest.raises(ValueError, match="inbound"):
        EmulatorApp(state, latency_inbound=-0.1)


def test_serve_takes_a_limiter_and_a_jitter() -> None:
    runner = CliRunner()
    help_text = runner.invoke(emulator, ["serve", "--help"]).output
    assert "--limiter [bucket|fixed|sliding]" in help_text and "--latency-jitter" in help_text
    assert "--latency-inbound" in help_text
    bad = runner.invoke(emulator, ["serve", "--state", "x.yaml", "--limiter", "leaky"])
    assert bad.exit_code == 2 and "--limiter" in bad.output

