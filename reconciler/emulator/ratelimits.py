"""How the emulator counts each AccessKey's calls per second: three gateway algorithms.

The service documents its limit (10 calls per second per AccessKey) but not how it counts,
and API gateways count in different ways. A client that must be efficient against any of
them is measured against each (``camsctl emulator serve --limiter``):

* ``bucket`` (the default): a token bucket holding ``rate`` tokens, refilled continuously at
  ``rate`` per second. A full bucket lets a burst of ``rate`` calls through at once;
* ``fixed``: at most ``rate`` calls per wall-clock second (per window of ``[n, n + 1)``
  seconds of the epoch). Two bursts either side of a boundary pass: up to twice the rate
  within one second, but never more than the rate within one window;
* ``sliding``: at most ``rate`` calls within *any* second (a log of the admitted calls'
  times). The strictest: a stream paced at exactly the rate is refused whenever arrival
  jitter puts ``rate + 1`` calls within one second.

Every algorithm answers "no" at once, with the seconds until a call would be admitted (the
``x-acs-retry-after`` of the throttled answer): until a token is back; until the next window
starts; until the oldest call in the window leaves it. Only admitted calls are counted.
A rate below 1 per second counts over a window of ``1 / rate`` seconds holding one call;
otherwise a window is 1 s and holds ``floor(rate)`` calls.

Hand-written: the three answer "no" at once rather than wait, which awaiting limiters
(aiolimiter) are not built for, and each is a few lines.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol


class Algorithm(StrEnum):
    BUCKET = "bucket"
    FIXED = "fixed"
    SLIDING = "sliding"


class RateLimit(Protocol):
    def take(self) -> float | None:
        """Admit one call: None if admitted, else seconds until one would be."""


class TokenBucket:
    """``rate`` tokens, refilled continuously at ``rate`` per second; a call takes one."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._clock = clock
        self._stamp = clock()

    def take(self) -> float | None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self._rate


def _window(rate: float) -> tuple[float, int]:
    """(seconds, calls) of one counting window for ``rate`` calls per second."""
    seconds = max(1.0, 1.0 / rate)
    return seconds, max(1, math.floor(rate * seconds + 1e-9))


class FixedWindow:
    """At most ``rate`` calls per window aligned on the clock (wall-clock seconds)."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self._length, self._allowance = _window(rate)
        self._clock = clock
        self._current = -1  # index of the window being counted
        self._count = 0

    def take(self) -> float | None:
        now = self._clock()
        index = math.floor(now / self._length)
        if index != self._current:
            self._current, self._count = index, 0
        if self._count < self._allowance:
            self._count += 1
            return None
        return (index + 1) * self._length - now


class SlidingWindow:
    """At most ``rate`` calls within any window: a call at ``t`` counts until ``t + 1 s``."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self._length, self._allowance = _window(rate)
        self._clock = clock
        self._admitted: deque[float] = deque()  # times of the calls still in the window

    def take(self) -> float | None:
        now = self._clock()
        while self._admitted and self._admitted[0] <= now - self._length:
            self._admitted.popleft()
        if len(self._admitted) < self._allowance:
            self._admitted.append(now)
            return None
        return self._admitted[0] + self._length - now


def new_rate_limit(algorithm: Algorithm, rate: float, *, monotonic: Callable[[], float],
                   wall_clock: Callable[[], float]) -> RateLimit:
    """One AccessKey's limit. Fixed windows follow the wall clock (their boundaries are the
    clock's seconds); the others measure intervals, on the monotonic clock."""
    if algorithm is Algorithm.FIXED:
        return FixedWindow(rate, wall_clock)
    if algorithm is Algorithm.SLIDING:
        return SlidingWindow(rate, monotonic)
    return TokenBucket(rate, monotonic)
