"""The adaptive limiter (AIMD over evenly spaced permits), on a fake clock: nothing sleeps."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Coroutine
from typing import Any

import pytest

from reconciler.api.flow import AdaptiveRate, FlowControl, Permit


class FakeTime:
    """A virtual clock: ``sleep`` parks the caller until :meth:`run` moves time to its wake-up."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
        await future

    async def _settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def run(self, *work: Coroutine[Any, Any, Any], until: float | None = None) -> None:
        """Run ``work`` concurrently, jumping the clock from one wake-up to the next."""
        tasks = [asyncio.ensure_future(w) for w in work]
        for _ in range(10_000):  # bounded: every pass wakes one sleeper
            await self._settle()
            if all(t.done() for t in tasks) or not self._sleepers:
                break
            wake, _, future = heapq.heappop(self._sleepers)
            if until is not None and wake > until:
                heapq.heappush(self._sleepers, (wake, -1, future))
                break
            self.now = max(self.now, wake)
            future.set_result(None)
        for task in tasks:
            if task.done():
                task.result()


def _limiter(time: FakeTime, ceiling: float = 10.0) -> AdaptiveRate:
    return AdaptiveRate(ceiling, clock=time.clock, sleep=time.sleep)


def test_alone_the_rate_stays_at_the_ceiling_and_permits_are_evenly_spaced() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    granted: list[float] = []

    async def caller() -> None:
        for _ in range(20):
            permit = await limiter.acquire()
            granted.append(round(time.now - 100.0, 6))
            limiter.succeeded(permit)

    asyncio.run(time.run(caller()))
    assert granted == [round(0.1 * i, 6) for i in range(20)]
    assert limiter.rate == 10.0 and limiter.cuts == 0


def test_a_throttled_answer_cuts_the_rate_and_holds_per_retry_after() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    granted: list[float] = []

    async def scenario() -> None:
        first = await limiter.acquire()
        limiter.throttled(first, retry_after=0.5)
        for _ in range(3):
            await limiter.acquire()
            granted.append(round(time.now - 100.0, 6))

    asyncio.run(time.run(scenario()))
    assert limiter.rate == pytest.approx(7.0)
    # Nothing before the retry-after; then spaced at the new rate, 1/7 s apart.
    assert granted == [0.5, round(0.5 + 1 / 7, 6), round(0.5 + 2 / 7, 6)]


def test_answers_to_permits_sent_before_a_cut_do_not_cut_again() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> list[Permit]:
        return [await limiter.acquire() for _ in range(5)]

    before = asyncio.run(_collect(time, scenario()))
    for permit in before:  # a burst of answers, all to permits of the old rate
        limiter.throttled(permit, retry_after=None)
    assert limiter.cuts == 1 and limiter.rate == pytest.approx(7.0)
    assert limiter.throttled_answers == 5

    after = asyncio.run(_collect(time, scenario()))
    limiter.throttled(after[0], retry_after=None)  # sent at the new rate: a new episode
    assert limiter.cuts == 2 and limiter.rate == pytest.approx(4.9)


def test_recovery_is_additive_per_second_of_success_and_capped_at_the_ceiling() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def one() -> Permit:
        return await limiter.acquire()

    old = asyncio.run(_collect(time, one()))
    limiter.throttled(old, retry_after=None)
    assert limiter.rate == pytest.approx(7.0)
    limiter.succeeded(old)  # an answer to a permit from before the cut: no increase
    assert limiter.rate == pytest.approx(7.0)

    rates = [(time.now, limiter.rate)]

    async def successes() -> None:
        for _ in range(200):
            permit = await limiter.acquire()
            limiter.succeeded(permit)
            rates.append((time.now, limiter.rate))

    asyncio.run(time.run(successes()))
    values = [rate for _, rate in rates]
    assert values == sorted(values) and max(values) == 10.0  # rises steadily, never above
    # recovery = 5 % of the ceiling per second: 0.5 QPS/s, so 7 -> 10 QPS takes about 6 s.
    reached = next(t for t, rate in rates if rate == 10.0)
    assert 5.5 < reached - rates[0][0] < 6.5


def test_the_rate_never_falls_below_its_floor() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def one() -> Permit:
        return await limiter.acquire()

    for _ in range(40):
        permit = asyncio.run(_collect(time, one()))
        limiter.throttled(permit, retry_after=None)
    assert limiter.rate == pytest.approx(0.1)  # 1 % of the ceiling


def test_a_hold_re_spaces_permits_already_reserved() -> None:
    time = FakeTime()
    flow = FlowControl(10.0, 8, clock=time.clock, sleep=time.sleep)
    starts: list[float] = []

    async def call(throttle: bool) -> None:
        async with flow.call():
            permit = await flow.permit()
            starts.append(round(time.now - 100.0, 6))
        if throttle:
            flow.throttled(permit, retry_after=1.0)
        else:
            flow.succeeded(permit)

    async def scenario() -> None:
        # Four callers reserve slots 0, 0.1, 0.2, 0.3; the first is answered "throttled"
        # at once, while the other three sleep on slots of the old timetable.
        await time.run(call(True), call(False), call(False), call(False))

    asyncio.run(scenario())
    step = 1 / 7
    assert starts == [0.0, 1.0, round(1.0 + step, 6), round(1.0 + 2 * step, 6)]


async def _collect(time: FakeTime, work: Coroutine[Any, Any, Any]) -> Any:
    results: list[Any] = []

    async def keep() -> None:
        results.append(await work)

    await time.run(keep())
    return results[0]


# -- arrival jitter: a learned margin, not a cut -------------------------------------------


def _paced(time: FakeTime, limiter: AdaptiveRate, calls: int) -> list[Permit]:
    """``calls`` permits taken back to back, every answer but the last's a success."""
    permits: list[Permit] = []

    async def caller() -> None:
        for _ in range(calls):
            permits.append(await limiter.acquire())
            if len(permits) < calls:
                limiter.succeeded(permits[-1])

    asyncio.run(time.run(caller()))
    return permits


def test_a_throttle_our_own_pace_explains_steps_the_margin_instead_of_cutting() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    permits = _paced(time, limiter, 11)  # 11 permits within 1 s: a window may see them all
    assert permits[-1].recent == 11
    limiter.throttled(permits[-1], retry_after=0.02)
    assert (limiter.steps, limiter.cuts) == (1, 0)
    assert limiter.margin == pytest.approx(0.025)
    assert limiter.rate == pytest.approx(9.75)  # 2.5 % under the ceiling, not 30 %
    granted: list[float] = []

    async def after() -> None:
        for _ in range(3):
            await limiter.acquire()
            granted.append(round(time.now - 100.0, 6))

    asyncio.run(time.run(after()))
    # The last ten permits (0.1 s to 1.0 s) must now span 10 / 9.75 s: the next waits for
    # that, later than both the new timetable (1.0 + 1 / 9.75) and the retry-after.
    assert granted[0] == pytest.approx(0.1 + 10 / 9.75, abs=1e-4)  # (the margin decays)
    assert granted[1] - granted[0] == pytest.approx(0.1, abs=1e-4)


def test_a_permit_after_a_late_one_never_brings_eleven_within_a_second() -> None:
    time = FakeTime()
    sleeps = itertools.count()

    async def busy_once(seconds: float) -> None:
        # The event loop was busy when the sixth permit's sleeper was due: it wakes 50 ms late.
        await time.sleep(seconds + (0.05 if next(sleeps) == 4 else 0.0))

    limiter = AdaptiveRate(10.0, clock=time.clock, sleep=busy_once)
    granted: list[float] = []

    async def caller() -> None:
        for _ in range(30):
            permit = await limiter.acquire()
            granted.append(time.now - 100.0)
            limiter.succeeded(permit)

    asyncio.run(time.run(caller()))
    assert granted[5] == pytest.approx(0.55)  # late by 50 ms; the timetable is kept, so
    assert granted[6] == pytest.approx(0.6)  # the next comes on time (no time is lost)...
    spans = [granted[i + 10] - granted[i] for i in range(len(granted) - 10)]
    assert min(spans) >= 1.0 - 1e-9  # ...but the tenth after the late one waits for it
    assert granted[15] == pytest.approx(1.55)
    assert granted[16] == pytest.approx(1.6)
    assert granted[-1] == pytest.approx(2.9)  # and the pace is back on the timetable


def test_a_throttle_fewer_of_our_calls_could_cause_is_contention_and_cuts() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    permits = _paced(time, limiter, 11)
    time.now += 0.65  # a pause: only 6 of our calls in the 1.1 s up to the next one
    last = _paced(time, limiter, 1)[0]
    assert last.recent == 6
    limiter.throttled(last, retry_after=None)
    assert (limiter.steps, limiter.cuts) == (0, 1)
    assert limiter.rate == pytest.approx(7.0) and limiter.margin == 0.0
    assert len(permits) == 11


def test_the_margin_grows_one_step_per_episode_up_to_its_most_then_a_cut_forgets_it(
) -> None:
    time = FakeTime()
    limiter = _limiter(time)
    kinds: list[str] = []
    for _ in range(4):
        last = _paced(time, limiter, 15)[-1]
        steps, cuts = limiter.steps, limiter.cuts
        limiter.throttled(last, retry_after=None)
        kinds.append("step" if limiter.steps > steps else "cut" if limiter.cuts > cuts else "-")
        if kinds[-1] == "step":
            assert limiter.rate == pytest.approx(10 * (1 - limiter.margin))
    # At 10, 9.75 and 9.5 calls/s, 11 of ours fit in 1.1 s: a step each time. At 9.25 they
    # still fit, but the margin is at its most (7.5 %): a neighbour's doing, so a cut.
    assert kinds == ["step", "step", "step", "cut"]
    assert limiter.margin == 0.0
    assert limiter.rate == pytest.approx(0.7 * 10 * (1 - 0.075), rel=0.01)
    _paced(time, limiter, 200)  # the neighbour gone: back to the ceiling itself
    assert limiter.rate == 10.0


def test_at_nine_calls_a_second_our_own_calls_cannot_explain_a_throttle() -> None:
    time = FakeTime()
    limiter = AdaptiveRate(10.0, clock=time.clock, sleep=time.sleep, max_margin=0.5)
    limiter.schedule.set_rate(9.0)  # 10 permits per 1.1 s: one short of filling a window

    async def unanswered() -> list[Permit]:  # no successes, so the rate stays at 9
        return [await limiter.acquire() for _ in range(15)]

    last = asyncio.run(_collect(time, unanswered()))[-1]
    assert last.recent == 10
    limiter.throttled(last, retry_after=None)
    assert (limiter.steps, limiter.cuts) == (0, 1)


def test_answers_to_permits_granted_before_a_step_do_not_step_again() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    permits = _paced(time, limiter, 14)
    for permit in permits[-4:]:
        limiter.throttled(permit, retry_after=None)
    assert (limiter.steps, limiter.cuts, limiter.throttled_answers) == (1, 0, 4)
    assert limiter.margin == pytest.approx(0.025)


def test_the_margin_decays_and_the_rate_climbs_back_with_it() -> None:
    time = FakeTime()
    limiter = _limiter(time)
    limiter.throttled(_paced(time, limiter, 11)[-1], retry_after=None)
    assert limiter.rate == pytest.approx(9.75)
    _paced(time, limiter, 590)  # about 60 s of successes: one half-life
    assert limiter.margin == pytest.approx(0.0125, rel=0.05)
    assert limiter.rate == pytest.approx(10 * (1 - limiter.margin), rel=0.002)
    _paced(time, limiter, 3000)  # five more minutes: the margin is all but gone
    assert limiter.rate > 9.99 and limiter.cuts == 0


def test_a_ceiling_below_one_call_per_second_never_blames_jitter() -> None:
    time = FakeTime()
    limiter = _limiter(time, ceiling=0.5)
    last = _paced(time, limiter, 3)[-1]
    limiter.throttled(last, retry_after=None)
    assert (limiter.steps, limiter.cuts) == (0, 1)
