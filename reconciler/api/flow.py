"""Flow control of one client: how fast calls start, how many run at once, and when to retry.

Three parts, each shared by every call of one :class:`~reconciler.api.client.CamsClient`:

* :class:`AdaptiveRate` over a :class:`PermitSchedule`: evenly spaced start permits (burst of
  one), so no one-second window ever sees more than the current rate of calls from us as we
  send them, whatever the window's phase; the rate adapts to throttling (below);
* a semaphore of ``parallelism`` calls under way (a call keeps its slot through all its
  attempts and back-offs, so a retry never queues behind calls made after it);
* :class:`RetryPolicy`: exponential backoff with full jitter (tenacity), honouring the
  service's ``x-acs-retry-after``, with capped attempts and capped total time.

The adaptive rate (AIMD, as TCP's congestion control): the rate starts at ``--qps``, the
ceiling it never exceeds. A throttled answer is either ours (arrival jitter) or a neighbour's
(contention), and the two are met differently:

* jitter: calls sent evenly at the limit reach the service unevenly (latency varies), so a
  gateway that counts in fixed or sliding 1-second windows sees ``ceiling + 1`` of them in
  some window. A throttled answer to a permit that, with ours granted in the
  ``1 + jitter_allowance`` seconds (1.1) before it, makes more than ``ceiling`` calls could
  be ours alone (a network spreads arrivals by much less than 0.1 s): the limiter then paces
  ``jitter_step`` (2.5 %) further under the ceiling (the safety *margin*, learned one step
  per such episode, up to ``max_margin``, 7.5 %) and does not cut. The margin halves every
  ``margin_half_life`` seconds (60), so it is kept only while throttling says so;
* contention: any other throttled answer (fewer of our calls could fill the window, or the
  margin is already at its most: another client spends part of the same AccessKey's quota)
  cuts the rate to ``decrease`` (0.7) times itself, down to a floor of
  ``ceiling * floor_share`` (multiplicative decrease). A cut also forgets the margin: the
  steps before it were probably the neighbour's doing too (at the start of a plan, ours
  alone could have filled the window), and once the neighbour leaves the rate should climb
  back to the ceiling, not stop under it.

Either way, one step or cut per episode (answers to permits granted before the last one were
sent at the old rate, so they change nothing), and every throttled answer holds all permits
until ``x-acs-retry-after`` has passed (when the service says it), re-spacing permits already
reserved at the new rate. Additive increase: each success of a permit granted since the last
step or cut raises the rate by ``recovery / rate``, i.e. by ``recovery`` calls per second for
every second of success (``recovery`` = ``ceiling * recovery_share``: from 70 % back to 100 %
of the ceiling takes about 6 s), up to the ceiling less the margin.

The throttled call itself is retried by :class:`RetryPolicy`, on a later permit. Alone on an
account, a token bucket never throttles evenly spaced permits and the rate stays at the
ceiling; a window-counting gateway costs one to three throttled answers (one per step),
then the rate stays a few percent under it. Shared, the rate saw-tooths just around the share
the other clients leave, so throttling stays rare and no call fails.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from reconciler.api.errors import ConfigurationError, NetworkError, ThrottledError


class PermitSchedule:
    """Hands out start permits at evenly spaced instants, ``1/rate`` seconds apart.

    Hand-written rather than aiolimiter: aiolimiter's leaky bucket lets a burst of
    ``max_rate`` through after an idle spell, has no public way to change the rate, and loses
    the time by which each sleeper wakes late, which costs efficiency at a steady 10 QPS.
    Here each caller reserves the next slot of a fixed timetable synchronously (so permits
    are FIFO and need no lock), then sleeps until it; idle time is never banked, so the
    burst is one permit. :meth:`hold` redraws the timetable: callers whose reserved slot was
    drawn before it reserve again on waking.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._interval = 0.0
        self._next_slot = float("-inf")
        self._last_granted = float("-inf")
        self._timetable = 0  # bumped by hold(): slots reserved before it are void
        self.set_rate(rate)

    @property
    def rate(self) -> float:
        return 1.0 / self._interval

    def set_rate(self, rate: float) -> None:
        """Change the permits per second; applies to permits not yet reserved."""
        if not rate > 0:
            raise ConfigurationError(f"qps must be positive, got {rate}")
        self._interval = 1.0 / rate

    def hold(self, until: float) -> None:
        """Grant no permit before ``until`` and re-space reserved permits at the current rate."""
        self._next_slot = max(until, self._last_granted + self._interval)
        self._timetable += 1

    async def acquire(self) -> None:
        # Each pass but the last follows a hold(), so this loops at most once per hold.
        while True:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
            timetable = self._timetable
            if slot > now:
                await self._sleep(slot - now)
            if timetable == self._timetable:
                self._last_granted = slot
                return


@dataclass(frozen=True)
class Permit:
    """A granted start permit; ``sequence`` orders it among the permits of one client, and
    ``recent`` counts that client's permits granted within ``1 + jitter_allowance`` seconds up
    to this one, this one included."""

    sequence: int
    recent: int = 1


class AdaptiveRate:
    """The AIMD limiter with a learned margin described in the module docstring, over one
    :class:`PermitSchedule`."""

    def __init__(
        self,
        ceiling: float,
        *,
        decrease: float = 0.7,
        recovery_share: float = 0.05,
        floor_share: float = 0.01,
        jitter_step: float = 0.025,
        jitter_allowance: float = 0.1,
        max_margin: float = 0.075,
        margin_half_life: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.schedule = PermitSchedule(ceiling, clock=clock, sleep=sleep)
        self.ceiling = ceiling
        self._decrease = decrease
        self._recovery = ceiling * recovery_share
        self._floor = ceiling * floor_share
        self._step = jitter_step
        self._window = 1.0 + jitter_allowance  # how far back our own calls are counted
        self._max_margin = max_margin
        self._half_life = margin_half_life
        self._margin = 0.0  # share of the ceiling, as of _margin_at
        self._margin_at = 0.0
        self._clock = clock
        self._sleep = sleep
        self._granted = 0  # permits granted so far
        self._recent: deque[float] = deque()  # grant times of our permits within _window
        # Grant times of our last floor(ceiling) permits: the span guard (see acquire).
        self._last: deque[float] = deque(maxlen=max(1, math.floor(ceiling)))
        self._cut_at = 0  # permits numbered below this were granted before the last step or cut
        self.throttled_answers = 0
        self.cuts = 0  # multiplicative decreases (contention)
        self.steps = 0  # margin steps (jitter)
        self.lowest = ceiling  # the lowest rate the limiter has been cut to

    @property
    def rate(self) -> float:
        return self.schedule.rate

    @property
    def margin(self) -> float:
        """The share of the ceiling the limiter now keeps clear, decayed to this instant."""
        if self._margin == 0.0:
            return 0.0
        return self._margin * math.pow(0.5, (self._clock() - self._margin_at) / self._half_life)

    async def acquire(self) -> Permit:
        await self.schedule.acquire()
        await self._guard_span()
        now = self._clock()
        self._last.append(now)
        self._recent.append(now)
        while self._recent[0] <= now - self._window:
            self._recent.popleft()
        permit = Permit(self._granted, len(self._recent))
        self._granted += 1
        return permit

    async def _guard_span(self) -> None:
        """Never more than ``floor(ceiling)`` permits within the span they take at the top
        rate (one second at the ceiling, longer with a margin).

        The timetable is kept when a sleeper wakes late (a busy event loop), so the permit
        after a late one comes on time, and the ``ceiling + 1`` permits that end with it
        span less than a second by as much as the first was late: a window-counting gateway
        throttles that. Holding such a permit back by the same amount costs nothing while
        permits are on time.
        """
        while len(self._last) == self._last.maxlen:
            top = self.ceiling * (1.0 - self.margin)
            earliest = self._last[0] + len(self._last) / top
            now = self._clock()
            if now >= earliest - 1e-9:
                return
            await self._sleep(earliest - now)

    def throttled(self, permit: Permit, retry_after: float | None) -> None:
        """A call started on ``permit`` was answered "slow down"."""
        self.throttled_answers += 1
        if permit.sequence >= self._cut_at:
            self._cut_at = self._granted
            margin = self.margin + self._step
            # Our own calls could have filled the window (a gateway counts at least one
            # call per window, hence the 1 for ceilings below one call per second).
            if permit.recent > max(1.0, self.ceiling) and margin <= self._max_margin + 1e-9:
                self.steps += 1
                self._margin, self._margin_at = margin, self._clock()
                self.schedule.set_rate(min(self.rate, self.ceiling * (1.0 - margin)))
            else:
                self.cuts += 1
                self._margin = 0.0
                self.schedule.set_rate(max(self._floor, self.rate * self._decrease))
            self.lowest = min(self.lowest, self.rate)
        self.schedule.hold(self._clock() + (retry_after or 0.0))

    def succeeded(self, permit: Permit) -> None:
        """A call started on ``permit`` was answered without throttling."""
        rate = self.rate
        top = self.ceiling * (1.0 - self.margin)
        if permit.sequence >= self._cut_at and rate < top:
            self.schedule.set_rate(min(top, rate + self._recovery / rate))


class FlowControl:
    """The limiter and the concurrency bound shared by every call of one client."""

    def __init__(
        self,
        qps: float,
        parallelism: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if parallelism < 1:
            raise ConfigurationError(f"parallelism must be at least 1, got {parallelism}")
        self.rate = AdaptiveRate(qps, clock=clock, sleep=sleep)
        self._in_flight = asyncio.Semaphore(parallelism)

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        """Hold one of the ``parallelism`` slots for a whole call: every attempt, and the
        back-off between them.

        A retry therefore keeps its place: it waits for a start permit among at most
        ``parallelism - 1`` other calls, not behind every call queued since it began (at a
        shared 3 QPS, the 200th place of a plan is a minute away, far beyond the retry
        budget). A call that backs off also leaves its slot unused, so many failing calls
        slow the whole client down instead of hammering.
        """
        async with self._in_flight:
            yield

    async def permit(self) -> Permit:
        """Wait for a start permit, inside :meth:`call`; report the answer to it with
        :meth:`throttled` or :meth:`succeeded`.

        Slot first, permit second: a permit taken while waiting for a slot would be spent
        late, and late permits bunch up into bursts on the wire.
        """
        return await self.rate.acquire()

    def throttled(self, permit: Permit, retry_after: float | None) -> None:
        self.rate.throttled(permit, retry_after)

    def succeeded(self, permit: Permit) -> None:
        self.rate.succeeded(permit)


class _Budget(stop_base):
    """When a call stops retrying: after ``limit`` attempts (``throttled_limit`` when the last
    one was throttled), or when the next attempt would start ``max_elapsed`` seconds or more
    after the first was sent.

    The time is counted from the first send, not from when the call was made: a call queued
    behind this client's own limiter (the 200th read of a plan waits ~20 s for its permit)
    has spent none of its budget yet.
    """

    def __init__(self, limit: int, throttled_limit: int, unreachable_limit: int,
                 max_elapsed: float, first_sent: Callable[[], float | None]) -> None:
        self.limit = limit
        self.throttled_limit = throttled_limit
        self.unreachable_limit = unreachable_limit
        self.max_elapsed = max_elapsed
        self.first_sent = first_sent

    def _limit(self, failure: BaseException | None) -> int:
        if isinstance(failure, ThrottledError):
            return self.throttled_limit
        if isinstance(failure, NetworkError) and not failure.request_sent:
            return self.unreachable_limit
        return self.limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        if retry_state.attempt_number >= self._limit(failure):
            return True
        sent = self.first_sent()
        start = retry_state.start_time if sent is None else sent
        elapsed = time.monotonic() - start  # tenacity's clock, as its start_time
        return elapsed + retry_state.upcoming_sleep >= self.max_elapsed


@dataclass(frozen=True)
class RetryPolicy:
    """How reads (and definitely-unapplied writes) are retried.

    Backoff before attempt n+1 is uniform in [0, min(max_delay, base_delay * 2**n)] (full
    jitter), but never shorter than the service's ``x-acs-retry-after``. No attempt starts
    ``max_elapsed`` seconds or more after the first was sent (time spent queued for this
    client's own permits before the first send does not count).

    A throttled answer is the service asking us to wait, not a fault: while it keeps saying
    so, a call may try up to ``max_throttled_attempts`` times (still within ``max_elapsed``),
    so a neighbour that shares the AccessKey cannot make a read fail by winning a few races.
    An endpoint that cannot be reached at all (DNS, connect, TLS) is tried
    ``max_unreachable_attempts`` times: it stops the whole run (``is_account_wide``), so it
    should say so in seconds. Other failures stop after ``max_attempts``.
    """

    max_attempts: int = 6
    max_throttled_attempts: int = 20
    max_unreachable_attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_elapsed: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # injectable for tests

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.base_delay, max=self.max_delay)(state)
        outcome = state.outcome
        failure = outcome.exception() if outcome is not None else None
        if isinstance(failure, ThrottledError) and failure.retry_after is not None:
            return max(backoff, failure.retry_after)
        return backoff

    def retrying(self, should_retry: Callable[[BaseException], bool],
                 first_sent: Callable[[], float | None] = lambda: None) -> AsyncRetrying:
        """Retry a call; ``first_sent`` gives the ``time.monotonic()`` of its first send, or
        None before it (then the budget counts from the call's start)."""
        return AsyncRetrying(
            stop=_Budget(self.max_attempts, self.max_throttled_attempts,
                         self.max_unreachable_attempts, self.max_elapsed, first_sent),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            reraise=True,
            sleep=self.sleep,
        )
