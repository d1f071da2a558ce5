"""Apply: carry out a plan's adds, never sending one twice while it may have been applied.

Adds run concurrently across spaces (one at a time within a space, so that re-reading a space
after an ambiguous answer tells the truth about that add alone), within the client's flow
control. Every add is journaled before it is sent. The service may list a new number only some
time after adding it, so an add whose answer was lost is never sent again in the same run: the
space is re-read a few times over seconds; listed means added, still absent means ``unknown``
("re-run apply later"). The journal carries that doubt to later runs (:func:`~reconciler.journal.
adds_in_doubt`): within the visibility window they re-read instead of sending. A refused add is
decided by what the space lists, whatever code the service used. A failed add never stops the
others; a journal that cannot be written, or an interruption, stops every add not yet sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from reconciler.api import (
    AccountWideError,
    AmbiguousWriteError,
    ApiError,
    CamsClient,
    CamsError,
)
from reconciler.journal import Doubt, EarlierAdd, Journal, JournalError
from reconciler.outcome import Outcome, Result
from reconciler.plan import AddNumber, Plan

REREAD_DELAYS = (1.0, 2.0, 3.0)
"""Seconds between the re-reads that look for an add whose answer was lost (6 s in all)."""


def rereads_within(window_seconds: float) -> tuple[float, ...]:
    """:data:`REREAD_DELAYS`, shortened to fit in the visibility window when that is shorter:
    past the window the add is sent again anyway, so waiting longer tells nothing more."""
    scale = min(1.0, window_seconds / sum(REREAD_DELAYS))
    return tuple(delay * scale for delay in REREAD_DELAYS)


@dataclass
class Stop:
    """Why no further add may be sent, once something says so (shared by every space)."""

    journal_error: JournalError | None = None
    interrupted: bool = False
    account_wide: AccountWideError | None = None

    def journal_failed(self, error: JournalError) -> None:
        if self.journal_error is None:
            self.journal_error = error

    def interrupt(self) -> None:
        self.interrupted = True

    def every_call_fails(self, error: AccountWideError) -> None:
        if self.account_wide is None:
            self.account_wide = error

    @property
    def requested(self) -> bool:
        return self.interrupted or self.journal_error is not None or \
            self.account_wide is not None

    @property
    def reason(self) -> str:
        if self.journal_error is not None:
            return f"not sent: the journal could not be written ({self.journal_error})"
        if self.account_wide is not None:
            return (f"not sent: {describe_error(self.account_wide)} would refuse every "
                    "add")
        return "not sent: apply was interrupted"


def describe_error(error: CamsError) -> str:
    """A failure for humans: the service's code and message, its RequestId when known, and
    for a RAM denial the detail that says what was denied."""
    if isinstance(error, AccountWideError):
        error = error.cause
    if isinstance(error, ApiError):
        return f"{error.code}: {error.answer.message}{error.answer.notes}"
    return str(error)


RETRY_LATER = "re-run apply later: it is sent again only once --visibility-window has passed"


class _SpaceApplier:
    def __init__(self, client: CamsClient, journal: Journal, isv_code: str | None,
                 stop: Stop, reread_delays: Sequence[float],
                 progress: Callable[[Outcome], None] | None) -> None:
        self._client = client
        self._journal = journal
        self._isv_code = isv_code
        self._stop = stop
        self._delays = reread_delays
        self._progress = progress

    async def _listed(self, add: AddNumber) -> bool:
        listed = await self._client.list_phone_numbers(add.space_id, self._isv_code)
        return any(n.phone_number == add.phone.digits for n in listed.numbers)

    async def _appears(self, add: AddNumber, *, at_once: bool) -> bool:
        """Whether the space lists the number, re-reading over :data:`REREAD_DELAYS`."""
        delays = (0.0, *self._delays) if at_once else tuple(self._delays)
        for delay in delays:
            if delay:
                await asyncio.sleep(delay)
            if await self._listed(add):
                return True
        return False

    def _record(self, event: str, add: AddNumber, *, request_id: str | None = None,
                error: str | None = None) -> bool:
        """Journal an event; on failure stop every later add (this outcome still stands)."""
        try:
            self._journal.record(event, add.space_id, add.phone.e164, request_id=request_id,
                                 error=error)
        except JournalError as exc:
            self._stop.journal_failed(exc)
            return False
        return True

    def _end(self, outcome: Outcome) -> Outcome:
        event = {Result.AWAITING_VISIBILITY: "awaiting-visibility"}.get(
            outcome.result, outcome.result.value)
        if outcome.result is not Result.NOT_SENT:
            self._record(event, outcome.add, request_id=outcome.request_id,
                         error=None if outcome.result.settled else outcome.reason)
        if self._progress is not None:
            self._progress(outcome)
        return outcome

    async def add(self, add: AddNumber, earlier: EarlierAdd | None, sent_before: bool) \
            -> Outcome:
        if earlier is not None and earlier.doubt is Doubt.ADDED:
            return self._end(Outcome(add, Result.AWAITING_VISIBILITY,
                                     request_id=earlier.request_id,
                                     reason=f"journal: added at {earlier.time}"))
        if self._stop.requested:
            return self._end(Outcome(add, Result.NOT_SENT, reason=self._stop.reason))
        try:
            if earlier is not None:  # sent by an earlier run, never settled
                return await self._confirm_earlier(add, earlier)
            return await self._send(add, sent_before)
        except CamsError as exc:  # a re-read failed: the add may or may not be there
            if isinstance(exc, AccountWideError):  # and no other call would succeed
                self._stop.every_call_fails(exc)
            return self._end(Outcome(add, Result.UNKNOWN, reason=(
                f"the space could not be re-read ({describe_error(exc)}); {RETRY_LATER}")))

    async def _confirm_earlier(self, add: AddNumber, earlier: EarlierAdd) -> Outcome:
        if await self._appears(add, at_once=False):
            return self._end(Outcome(add, Result.ADDED, reason=(
                f"sent at {earlier.time} by an earlier run; confirmed by re-reading the space")))
        return self._end(Outcome(add, Result.UNKNOWN, reason=(
            f"sent at {earlier.time} by an earlier run that got no answer, and the service "
            f"does not list it yet; {RETRY_LATER}")))

    async def _send(self, add: AddNumber, sent_before: bool) -> Outcome:
        if not self._record("sending", add):
            return self._end(Outcome(add, Result.NOT_SENT, reason=self._stop.reason))
        request = add.request()
        try:
            request_id = await self._client.add_phone_number(
                request["CustSpaceId"], request["Cc"], request["PhoneNumber"],
                request["VerifiedName"])
        except AmbiguousWriteError as exc:
            self._record("ambiguous", add, error=describe_error(exc))
            if await self._appears(add, at_once=True):
                return self._end(Outcome(add, Result.ADDED,
                                         reason="confirmed by re-reading the space"))
            return self._end(Outcome(add, Result.UNKNOWN, reason=(
                "sent; the answer was lost and the service does not list it yet; "
                + RETRY_LATER)))
        except ApiError as exc:
            # Refused. If the space lists it anyway (another apply won a race, or an earlier
            # send of ours landed), that is the state we wanted, whatever code said no.
            present = await (self._appears(add, at_once=True) if sent_before
                             else self._listed(add))
            if present:
                return self._end(Outcome(add, Result.ALREADY_PRESENT,
                                         request_id=exc.request_id))
            if sent_before:
                return self._end(Outcome(add, Result.UNKNOWN, request_id=exc.request_id,
                                         reason=(
                    f"sent again and refused ({describe_error(exc)}), and the service does "
                    f"not list it yet; {RETRY_LATER}")))
            return self._end(Outcome(add, Result.FAILED, request_id=exc.request_id,
                                     reason=describe_error(exc)))
        except AccountWideError as exc:  # refused or unsent, as every add would be
            self._stop.every_call_fails(exc)
            return self._end(Outcome(add, Result.UNKNOWN if sent_before else Result.FAILED,
                                     reason=f"{describe_error(exc)}; no other add was "
                                            "sent: each would fail the same way"))
        except CamsError as exc:  # it never reached the service
            return self._end(Outcome(add, Result.FAILED, reason=describe_error(exc)))
        return self._end(Outcome(add, Result.ADDED, request_id=request_id))


async def apply_adds(client: CamsClient, plan: Plan, journal: Journal, *,
                     in_doubt: Mapping[tuple[str, str], EarlierAdd] | None = None,
                     sent_before: Collection[tuple[str, str]] = (),
                     stop: Stop | None = None,
                     reread_delays: Sequence[float] = REREAD_DELAYS,
                     progress: Callable[[Outcome], None] | None = None) -> tuple[Outcome, ...]:
    """Send every add of ``plan``; returns one outcome per add, in the plan's order.

    ``in_doubt`` (by space and E.164, from the journal) holds adds an earlier run may have
    applied that the service may not list yet: they are re-read, never sent. ``sent_before``
    holds every add an earlier run may have applied, however long ago: a refusal of such a
    re-send is decided by re-reading. ``stop`` is shared with whoever may interrupt the
    run; it is also set when the journal cannot be written.
    """
    stop = stop or Stop()
    doubts = in_doubt or {}
    isv_codes = {space.id: space.isv_code for space in plan.spaces}
    by_space: dict[str, list[AddNumber]] = {}
    for add in plan.adds:
        by_space.setdefault(add.space_id, []).append(add)

    # The first add goes alone: a failure every add would meet (a RAM denial of the action,
    # an endpoint gone) then stops the run after one call, not after one call per space.
    first_answered = asyncio.Event()

    async def space_worker(adds: Sequence[AddNumber], leads: bool) -> list[Outcome]:
        applier = _SpaceApplier(client, journal, isv_codes.get(adds[0].space_id), stop,
                                reread_delays, progress)
        if not leads:
            await first_answered.wait()
        outcomes = []
        for add in adds:
            try:
                outcomes.append(await applier.add(
                    add, doubts.get(key := (add.space_id, add.phone.e164)), key in sent_before))
            finally:
                first_answered.set()
        return outcomes

    results = await asyncio.gather(*(space_worker(adds, leads=index == 0)
                                     for index, adds in enumerate(by_space.values())))
    outcomes = {(o.add.space_id, o.add.phone.e164): o for group in results for o in group}
    return tuple(outcomes[(a.space_id, a.phone.e164)] for a in plan.adds)

