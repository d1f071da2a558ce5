"""Refresh: read the live state of the declared spaces, making exactly the calls the SPEC lists.

Per declared space: one read of its numbers (QueryChatappPhoneNumbers, or ChatappSyncPhoneNumber
with ``--sync``); QueryChatappBindWaba only when the space has a ``waba:`` block or a number to
add; QueryPhoneBusinessProfile only for live numbers whose manifest entry has a ``profile:``
block. Nothing else. Spaces are read concurrently; the client's flow control keeps the pace.
This is the network edge of planning: it turns API answers into :mod:`reconciler.live` values.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType

from reconciler.api import AccountWideError, CamsClient, CamsError, ListedNumber
from reconciler.live import Live, LiveNumber, LiveProfile, LiveSpace, LiveWaba
from reconciler.manifest import Desired, DesiredSpace
from reconciler.phone import PhoneNumber, from_live_digits
from reconciler.plan import PlannedSpace

PROBES = 2
"""Reads sent after the first before its answer (see :func:`_read_all`)."""

Progress = Callable[[str], None]


class RefreshError(Exception):
    """One or more spaces could not be read; ``failures`` maps space id to its error."""

    def __init__(self, failures: Mapping[str, CamsError]) -> None:
        self.failures = dict(sorted(failures.items()))
        lines = [f"space {space}: {error}" for space, error in self.failures.items()]
        super().__init__("could not read the live state:\n  " + "\n  ".join(lines))


def waba_needed(space: DesiredSpace, live_numbers: Iterable[str]) -> bool:
    """QueryChatappBindWaba is called for a space with a ``waba:`` block or a pending add."""
    present = set(live_numbers)
    return space.waba is not None or any(e164 not in present for e164 in space.numbers)


def profiles_needed(space: DesiredSpace, live_numbers: Iterable[str]) -> tuple[str, ...]:
    """The live numbers whose business profile is read: those declared with a ``profile:``."""
    return tuple(sorted(e164 for e164 in live_numbers
                        if e164 in space.numbers and space.numbers[e164].profile is not None))


def _live_number(number: ListedNumber, known: Mapping[str, PhoneNumber]) -> LiveNumber:
    return LiveNumber(phone=from_live_digits(number.phone_number, known),
                      verified_name=number.verified_name or "",
                      status=number.status or "UNKNOWN",
                      name_status=number.name_status,
                      quality_rating=number.quality_rating,
                      messaging_limit_tier=number.messaging_limit_tier)


@dataclass(frozen=True)
class _Reads:
    space_id: str
    isv_code: str | None
    sync: bool
    waba: Callable[[Iterable[str]], bool]
    profiles: Callable[[Iterable[str]], tuple[str, ...]]
    known: Mapping[str, PhoneNumber] = field(default_factory=dict)  # declared, parsed


async def _read_space(client: CamsClient, reads: _Reads) -> LiveSpace:
    if reads.sync:
        listed = await client.sync_phone_numbers(reads.space_id)
    else:
        listed = await client.list_phone_numbers(reads.space_id, reads.isv_code)
    numbers = {n.phone.e164: n for n in (_live_number(api, reads.known)
                                         for api in listed.numbers)}
    read_waba = reads.waba(numbers)
    profile_numbers = reads.profiles(numbers)

    async def waba() -> LiveWaba | None:
        answer = (await client.query_bind_waba(reads.space_id, reads.isv_code)).waba
        if answer is None:
            return None
        return LiveWaba(id=answer.id, name=answer.name,
                        review_status=answer.account_review_status)

    async def profile(e164: str) -> tuple[str, LiveProfile]:
        answer = (await client.query_business_profile(reads.space_id, e164[1:])).profile
        return e164, LiveProfile(about=answer.about, email=answer.email,
                                 websites=answer.websites, vertical=answer.vertical,
                                 address=answer.address, description=answer.description,
                                 profile_picture_url=answer.profile_picture_url)

    waba_task = asyncio.ensure_future(waba()) if read_waba else None
    profiles = dict(await asyncio.gather(*(profile(e) for e in profile_numbers)))
    bound = await waba_task if waba_task is not None else None
    return LiveSpace(id=reads.space_id, numbers=MappingProxyType(dict(sorted(numbers.items()))),
                     waba_read=read_waba, waba=bound,
                     profiles=MappingProxyType(dict(sorted(profiles.items()))))


async def _read_all(client: CamsClient, plans: list[_Reads], progress: Progress | None) -> Live:
    done = 0

    async def one(reads: _Reads) -> LiveSpace:
        nonlocal done
        space = await _read_space(client, reads)
        done += 1
        if progress is not None:
            progress(f"refreshed {done}/{len(plans)} spaces")
        return space

    # The first answer before more than PROBES + 1 reads are sent: a failure no space could
    # escape (credentials refused, no route to the endpoint) then ends the run with one
    # error, after at most three calls, instead of one identical error per space, each
    # spending a call of the account's quota. The probes keep the pace while the first read
    # is under way, so a healthy plan does not wait one round trip for it. A later space can
    # still meet such a failure (the endpoint goes away mid-run): that error is then the run's.
    results: list[LiveSpace | BaseException] = []
    if plans:
        answered = asyncio.Event()

        async def after_first(index: int, reads: _Reads) -> LiveSpace:
            if index > PROBES:
                await answered.wait()
            return await one(reads)

        first = asyncio.ensure_future(one(plans[0]))
        first.add_done_callback(lambda _: answered.set())
        rest = asyncio.gather(*(after_first(index, reads)
                                for index, reads in enumerate(plans[1:], start=1)),
                              return_exceptions=True)
        try:
            try:
                results.append(await first)
            except AccountWideError:
                raise
            except CamsError as exc:
                results.append(exc)
        except BaseException:  # the run ends here: the probes' answers do not matter
            rest.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rest
            raise
        results += await rest
    failures: dict[str, CamsError] = {}
    spaces: dict[str, LiveSpace] = {}
    for result in results:
        if isinstance(result, AccountWideError):
            raise result
    for reads, result in zip(plans, results, strict=True):
        if isinstance(result, CamsError):
            failures[reads.space_id] = result
        elif isinstance(result, BaseException):
            raise result
        else:
            spaces[reads.space_id] = result
    if failures:
        raise RefreshError(failures)
    return Live(spaces=MappingProxyType(spaces))


async def refresh(client: CamsClient, desired: Desired, *, sync: bool = False,
                  progress: Progress | None = None) -> Live:
    """Read every declared space. Raises :class:`RefreshError` naming each space that failed."""
    plans = [_Reads(space.id, space.isv_code, sync, waba=partial(waba_needed, space),
                    profiles=partial(profiles_needed, space),
                    known={e164: number.phone for e164, number in space.numbers.items()})
             for space in desired.spaces.values()]
    return await _read_all(client, plans, progress)


def _always(_live_numbers: Iterable[str]) -> bool:
    return True


def _none(_live_numbers: Iterable[str]) -> tuple[str, ...]:
    return ()


async def read_for_import(client: CamsClient, space_ids: Iterable[str], isv_code: str | None,
                          *, progress: Progress | None = None) -> Live:
    """Read each space's numbers and its bound WABA, for ``camsctl import``."""
    plans = [_Reads(space_id, isv_code, sync=False, waba=_always, profiles=_none)
             for space_id in space_ids]
    return await _read_all(client, plans, progress)


def _as_planned_waba(space: PlannedSpace, _live_numbers: Iterable[str]) -> bool:
    return space.reads.waba


def _as_planned_profiles(space: PlannedSpace, live_numbers: Iterable[str]) -> tuple[str, ...]:
    present = set(live_numbers)
    return tuple(e164 for e164 in space.reads.profiles if e164 in present)


async def reread(client: CamsClient, spaces: Iterable[PlannedSpace], *,
                 progress: Progress | None = None) -> Live:
    """Read ``spaces`` again with the same calls a saved plan made, to check its digests."""
    plans = [_Reads(space.id, space.isv_code, space.reads.sync,
                    waba=partial(_as_planned_waba, space),
                    profiles=partial(_as_planned_profiles, space))
             for space in spaces]
    return await _read_all(client, plans, progress)
