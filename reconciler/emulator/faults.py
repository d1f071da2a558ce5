"""Seeded fault injection: which authenticated call the emulator spoils, and how.

A :class:`FaultPlan` gives a rate (0..1) per kind of fault; a :class:`FaultInjector` draws one
random number per authenticated API call from a generator seeded with ``seed``, so the same
sequence of calls meets the same faults on every run. Kinds:

* ``throttle``  HTTP 400 ``Throttling.User`` before anything is done (nothing applied);
* ``server``    HTTP 503 ``ServiceUnavailable`` (nothing applied);
* ``drop``      the connection is closed without an answer (nothing applied);
* ``lost_add``  AddChatappPhoneNumber only: the number IS added, then the answer is lost
  (connection dropped), the case where a client cannot know the outcome;
* ``no_list``   QueryChatappPhoneNumbers and ChatappSyncPhoneNumber only: ``Code: OK`` without
  its ``PhoneNumbers`` list, a broken answer a client must not read as an empty space.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from reconciler.api.operations import NUMBER_READS, Operation


class Fault(Enum):
    THROTTLE = "throttle"
    SERVER = "server"
    DROP = "drop"
    LOST_ADD = "lost_add"
    NO_LIST = "no_list"


@dataclass(frozen=True)
class FaultPlan:
    """Per-kind fault rates (probability per call) and the seed that makes them repeatable."""

    throttle: float = 0.0
    server: float = 0.0
    drop: float = 0.0
    lost_add: float = 0.0
    no_list: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("throttle", "server", "drop", "lost_add", "no_list"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate {name} must be between 0 and 1, got {rate}")
        if self.throttle + self.server + self.drop > 1.0:
            raise ValueError("fault rates throttle + server + drop must not exceed 1")

    @property
    def active(self) -> bool:
        return any((self.throttle, self.server, self.drop, self.lost_add, self.no_list))


class FaultInjector:
    """Draws the fault (or none) for each call, in call order, from the plan's seed."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._random = random.Random(plan.seed)

    def draw(self, action: str) -> Fault | None:
        if not self.plan.active:
            return None
        # Always two draws per call, whatever the action and the outcome, so the faults met
        # depend only on the seed and the position of the call in the run.
        roll = self._random.random()
        lost = self._random.random()  # the answer's fate, for the kinds that spoil answers
        if action == Operation.ADD_PHONE_NUMBER and lost < self.plan.lost_add:
            return Fault.LOST_ADD
        if action in NUMBER_READS and lost < self.plan.no_list:
            return Fault.NO_LIST
        bound = self.plan.throttle
        if roll < bound:
            return Fault.THROTTLE
        bound += self.plan.server
        if roll < bound:
            return Fault.SERVER
        bound += self.plan.drop
        if roll < bound:
            return Fault.DROP
        return None
