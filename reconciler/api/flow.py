"""Flow control of one client: how fast calls start, how many run at once, and when to retry.

Three parts, each shared by every call of one :class:`~reconciler.api.client.CamsClient`:

* :class:`PermitSchedule`: evenly spaced start permits at ``qps`` per second (burst of one),
  so no one-second window ever sees more than ``qps`` calls from us, whatever the window's
  phase. Its rate can be changed while calls are waiting (the adaptive limiter of a later
  issue slows it on throttling and restores it after).
* a semaphore of ``parallelism`` calls in flight;
* :class:`RetryPolicy`: exponential backoff with full jitter (tenacity), honouring the
  service's ``x-acs-retry-after``, with capped attempts and capped total time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from reconciler.api.errors import ConfigurationError, ThrottledError


class PermitSchedule:
    """Hands out start permits at evenly spaced instants, ``1/rate`` seconds apart.

    Hand-written rather than aiolimiter: aiolimiter's leaky bucket lets a burst of
    ``max_rate`` through after an idle spell, has no public way to change the rate, and loses
    the time by which each sleeper wakes late, which costs efficiency at a steady 10 QPS.
    Here each caller reserves the next slot of a fixed timetable synchronously (so permits
    are FIFO and need no lock), then sleeps until it; idle time is never banked, so the
    burst is one permit.
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
        self.set_rate(rate)

    @property
    def rate(self) -> float:
        return 1.0 / self._interval

    def set_rate(self, rate: float) -> None:
        """Change the permits per second; applies to permits not yet reserved."""
        if not rate > 0:
            raise ConfigurationError(f"qps must be positive, got {rate}")
        self._interval = 1.0 / rate

    async def acquire(self) -> None:
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)


class FlowControl:
    """The limiter and the concurrency bound shared by every call of one client."""

    def __init__(self, qps: float, parallelism: int) -> None:
        if parallelism < 1:
            raise ConfigurationError(f"parallelism must be at least 1, got {parallelism}")
        self.permits = PermitSchedule(qps)
        self._in_flight = asyncio.Semaphore(parallelism)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``parallelism`` slots, then wait for a start permit.

        Slot first, permit second: a permit taken while waiting for a slot would be spent
        late, and late permits bunch up into bursts on the wire.
        """
        async with self._in_flight:
            await self.permits.acquire()
            yield


@dataclass(frozen=True)
class RetryPolicy:
    """How reads (and definitely-unapplied writes) are retried.

    Backoff before attempt n+1 is uniform in [0, min(max_delay, base_delay * 2**n)] (full
    jitter), but never shorter than the service's ``x-acs-retry-after``. No attempt starts
    once ``max_elapsed`` seconds have passed since the first.
    """

    max_attempts: int = 6
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

    def retrying(self, should_retry: Callable[[BaseException], bool]) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_elapsed),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            reraise=True,
            sleep=self.sleep,
        )
