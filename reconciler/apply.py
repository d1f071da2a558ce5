"""Apply: carry out a plan's adds, exactly once each, and say how each one ended.

Adds run concurrently across spaces (one at a time within a space, so that re-reading a space
after an ambiguous answer tells the truth about that add alone), within the client's flow control.
Every add is journaled before it is sent. An add whose outcome is unknown is never re-sent
blindly: the space is re-read; present means done, absent means send again. A failed add never
stops the others. Every add ends ``added``, ``already-present`` or ``failed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from reconciler.api import AmbiguousWriteError, ApiError, CamsClient, CamsError
from reconciler.journal import Journal
from reconciler.plan import AddNumber, Plan

MAX_SENDS = 3
"""How many times one add is sent when each answer is lost and the number stays absent."""


class Result(Enum):
    ADDED = "added"
    ALREADY_PRESENT = "already-present"
    AWAITING_VISIBILITY = "added, awaiting visibility"
    """Added by an earlier run moments ago (the journal says so) but not listed yet."""
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """How one add ended. ``reason`` says why it failed (or how it was confirmed)."""

    add: AddNumber
    result: Result
    request_id: str | None = None
    reason: str | None = None


def describe_error(error: CamsError) -> str:
    """A failure for humans: the service's code and message, and its RequestId when known."""
    if isinstance(error, ApiError):
        rid = f" (RequestId {error.request_id})" if error.request_id else ""
        return f"{error.code}: {error.answer.message}{rid}"
    return str(error)


class _SpaceApplier:
    def __init__(self, client: CamsClient, journal: Journal, isv_code: str | None,
                 progress: Callable[[Outcome], None] | None) -> None:
        self._client = client
        self._journal = journal
        self._isv_code = isv_code
        self._progress = progress

    async def _present(self, add: AddNumber) -> bool:
        listed = await self._client.list_phone_numbers(add.space_id, self._isv_code)
        return any(n.phone_number == add.phone.digits for n in listed.numbers)

    def _end(self, outcome: Outcome) -> Outcome:
        add = outcome.add
        self._journal.record(outcome.result.value, add.space_id, add.phone.e164,
                             request_id=outcome.request_id,
                             error=outcome.reason if outcome.result is Result.FAILED else None)
        if self._progress is not None:
            self._progress(outcome)
        return outcome

    async def add(self, add: AddNumber) -> Outcome:
        request = add.request()
        for _ in range(MAX_SENDS):
            self._journal.record("sending", add.space_id, add.phone.e164)
            try:
                request_id = await self._client.add_phone_number(
                    request["CustSpaceId"], request["Cc"], request["PhoneNumber"],
                    request["VerifiedName"])
            except AmbiguousWriteError as exc:
                self._journal.record("ambiguous", add.space_id, add.phone.e164,
                                     error=describe_error(exc))
                try:
                    if await self._present(add):
                        return self._end(Outcome(add, Result.ADDED,
                                                 reason="confirmed by re-reading the space"))
                except CamsError as reread:
                    return self._end(Outcome(add, Result.FAILED, reason=(
                        "outcome unknown and the space could not be re-read "
                        f"({describe_error(reread)}); run apply again to converge")))
                continue  # absent: the add was not applied, so sending again is safe
            except ApiError as exc:
                # The service refused it. If the number is in the space anyway (another apply
                # won a race), that is the state we wanted.
                try:
                    present = await self._present(add)
                except CamsError:
                    present = False
                if present:
                    return self._end(Outcome(add, Result.ALREADY_PRESENT,
                                             request_id=exc.request_id))
                return self._end(Outcome(add, Result.FAILED, request_id=exc.request_id,
                                         reason=describe_error(exc)))
            except CamsError as exc:
                return self._end(Outcome(add, Result.FAILED, reason=describe_error(exc)))
            return self._end(Outcome(add, Result.ADDED, request_id=request_id))
        return self._end(Outcome(add, Result.FAILED, reason=(
            f"sent {MAX_SENDS} times, every answer was lost and the number is still absent")))


async def apply_adds(client: CamsClient, plan: Plan, journal: Journal, *,
                     progress: Callable[[Outcome], None] | None = None,
                     recently_added: Mapping[tuple[str, str], Mapping[str, object]]
                     | None = None) -> tuple[Outcome, ...]:
    """Send every add of ``plan``; returns one outcome per add, in the plan's order.

    An add the journal recorded as ``added`` moments ago (``recently_added``, keyed by space
    and E.164) is not sent again: the service may not list it yet.
    """
    by_space: dict[str, list[AddNumber]] = {}
    waiting: list[Outcome] = []
    for add in plan.adds:
        earlier = (recently_added or {}).get((add.space_id, add.phone.e164))
        if earlier is not None:
            rid = earlier.get("request_id")
            outcome = Outcome(add, Result.AWAITING_VISIBILITY,
                              request_id=rid if isinstance(rid, str) else None,
                              reason=f"journal: added at {earlier.get('time')}")
            journal.record("awaiting-visibility", add.space_id, add.phone.e164,
                           request_id=outcome.request_id)
            if progress is not None:
                progress(outcome)
            waiting.append(outcome)
            continue
        by_space.setdefault(add.space_id, []).append(add)
    isv_codes = {space.id: space.isv_code for space in plan.spaces}

    async def space_worker(adds: Sequence[AddNumber]) -> list[Outcome]:
        applier = _SpaceApplier(client, journal, isv_codes.get(adds[0].space_id), progress)
        return [await applier.add(add) for add in adds]

    results = await asyncio.gather(*(space_worker(adds) for adds in by_space.values()))
    outcomes = {(o.add.space_id, o.add.phone.e164): o
                for group in (*results, waiting) for o in group}
    return tuple(outcomes[(a.space_id, a.phone.e164)] for a in plan.adds)


def stale_spaces(plan: Plan, fresh: Plan) -> list[str]:
    """Spaces of ``plan`` with adds whose digest differs in ``fresh`` (re-read the same way)."""
    touched = {a.space_id for a in plan.adds}
    now = {s.id: s.live_digest for s in fresh.spaces}
    return sorted(s.id for s in plan.spaces if s.id in touched and now.get(s.id) != s.live_digest)
