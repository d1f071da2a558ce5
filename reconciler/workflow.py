"""The application layer: what each command does, as async functions over typed options.

Plan, check a saved plan, apply and import, each taking values and returning values. No click,
no terminal: the command line (``cli.py``) turns flags into these options, calls one function,
hands the result to a view and sets the exit code; a program can call the same functions.
What a run wants to tell a person while it works (progress, a throttling note, each add's
outcome) reaches the caller through the :class:`Listener` it passes in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from reconciler.api import CamsClient, open_client
from reconciler.apply import Stop, apply_adds, rereads_within
from reconciler.emulator import EmulatorApp, open_emulated_client
from reconciler.emulator.inprocess import kept_app
from reconciler.journal import Journal, adds_in_doubt, possibly_applied, read_journal
from reconciler.live import Live, LiveSpace
from reconciler.lock import ApplyLock
from reconciler.manifest import Desired
from reconciler.outcome import Outcome
from reconciler.plan import Plan, build_plan, live_digest
from reconciler.planfile import PlanMeta
from reconciler.refresh import read_for_import, refresh, reread
from reconciler.savedplan import saved_plan_problems
from reconciler.scope import Scope


class Refused(Exception):
    """The run stopped before sending anything, for the reason in its message.

    ``details`` are the reasons one by one (each a line of the message after ``message``), so
    a caller can escape each on its own line.
    """

    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        self.message = message
        self.details = details
        super().__init__("\n  ".join([message, *details]))


@dataclass(frozen=True)
class Connection:
    """How to reach CAMS: the global options of every command that talks to it."""

    endpoint: str | None = None
    region: str = "ap-southeast-1"
    profile: str | None = None
    qps: float = 10.0
    parallelism: int = 8
    emulator: Path | None = None
    """A state file: talk to an in-process emulator seeded from it instead of the cloud."""
    timeout: float = 30.0
    emulator_folder: Path | None = None
    """Where the emulator keeps its state between runs (the CLI: ``.camsctl/emulator``);
    None: not kept, every run starts from the state file."""


class Listener:
    """What a run tells its caller while it works. The default ignores everything."""

    def progress(self, message: str) -> None:
        """A step of a long read (``refreshed 3/10 spaces``)."""

    def note(self, message: str) -> None:
        """Something worth a line on stderr that is not an error (throttling, waiting)."""

    def planned(self, result: PlanResult) -> None:
        """Apply has its plan (made now, or saved and checked), before anything is sent."""

    def outcome(self, outcome: Outcome) -> None:
        """One add has ended."""


@dataclass(frozen=True)
class Session:
    """An authenticated client and the name of the endpoint it talks to (plans record it)."""

    client: CamsClient
    endpoint: str


@asynccontextmanager
async def connect(connection: Connection, listener: Listener) -> AsyncIterator[Session]:
    """An authenticated session; on the way out, a note if the service throttled us."""
    emulator: Path | EmulatorApp | None = connection.emulator
    if connection.emulator is not None and connection.emulator_folder is not None:
        emulator = kept_app(connection.emulator, connection.emulator_folder, listener.note)
    opened = open_emulated_client(
        emulator, qps=connection.qps, parallelism=connection.parallelism,
        timeout=connection.timeout,
    ) if emulator is not None else open_client(
        endpoint=connection.endpoint, region=connection.region, profile=connection.profile,
        qps=connection.qps, parallelism=connection.parallelism, timeout=connection.timeout)
    async with opened as client:
        try:
            await client.authenticate()
            label = f"emulator:{connection.emulator}" if connection.emulator \
                else client.endpoint.url
            yield Session(client, label)
        finally:
            rate = client.flow.rate
            if rate.throttled_answers:
                count = rate.throttled_answers
                why = ("another client may be using this AccessKey's quota" if rate.cuts else
                       "calls paced at the limit reach the service unevenly")
                listener.note(f"Note: the service throttled {count} answer"
                              f"{'' if count == 1 else 's'}; camsctl slowed to "
                              f"{rate.lowest:.1f} calls/s at the lowest and retried ({why}).")


# --- plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    meta: PlanMeta


async def make_plan(session: Session, desired: Desired, *, created_at: str, sync: bool = False,
                    scope: Scope | None = None, listener: Listener | None = None) -> PlanResult:
    """Read the declared spaces and compare them with the manifests. ``created_at`` (ISO 8601,
    UTC) is the moment of the run: its date decides which acknowledgements are in force."""
    listener = listener or Listener()
    live = await refresh(session.client, desired, sync=sync, progress=listener.progress)
    today = dt.date.fromisoformat(created_at[:10])
    return PlanResult(build_plan(desired, live, sync=sync, today=today),
                      PlanMeta(created_at=created_at, endpoint=session.endpoint, scope=scope))


async def plan(connection: Connection, desired: Desired, *, created_at: str,
               sync: bool = False, scope: Scope | None = None,
               listener: Listener | None = None) -> PlanResult:
    """``camsctl plan`` and ``drift``: connect, refresh, build the plan. With ``scope``,
    ``desired`` holds only the spaces it reads."""
    listener = listener or Listener()
    async with connect(connection, listener) as session:
        return await make_plan(session, desired, created_at=created_at, sync=sync,
                               scope=scope, listener=listener)


# --- saved plans ------------------------------------------------------------------------------


def _with_digests_now(saved: Plan, live: Live) -> dict[str, str]:
    return {space.id: live_digest(live.spaces[space.id]) for space in saved.spaces
            if space.id in live.spaces}


async def check_saved_plan(session: Session, saved: PlanResult, desired: Desired, *,
                           mask: bool = False, listener: Listener | None = None) -> Plan:
    """The saved plan, once it has been found to match the manifests and the live state.

    Every change must be a declared number with the manifests' request fields, made against
    the endpoint in use (:mod:`reconciler.savedplan`); then the spaces it adds to are read
    again with the calls the plan made, and any whose digest changed makes it stale. Raises
    :class:`Refused` naming every difference; nothing is sent either way.
    """
    listener = listener or Listener()
    problems = saved_plan_problems(saved.plan, saved.meta.endpoint, desired, session.endpoint,
                                   mask=mask)
    if problems:
        raise Refused("the saved plan does not match the manifests; nothing was added:",
                      tuple(problems))
    touched = [space for space in saved.plan.spaces if space.adds]
    now = _with_digests_now(saved.plan, await reread(session.client, touched,
                                                     progress=listener.progress))
    stale = [space.id for space in touched if now.get(space.id) != space.live_digest]
    if stale:
        raise Refused(f"the plan is stale: the live state of space {', '.join(stale)} changed "
                      "since it was made. Nothing was added; run `camsctl plan` again.")
    return saved.plan


# --- apply ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyOptions:
    journal: Path
    lock_timeout: float = 60.0
    visibility_window: float = 600.0
    max_adds: int | None = None
    mask: bool = False
    scope: Scope | None = None
    """With ``--changed-since``: the desired state holds only the spaces it reads."""


@dataclass(frozen=True)
class ApplyResult:
    """What an apply did. ``plan`` is None when it stopped before planning anything to add
    (``cancelled``: the confirmation was refused)."""

    plan: PlanResult | None
    outcomes: tuple[Outcome, ...]
    stop: Stop
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """Exit 0: not cancelled, not stopped, every add settled."""
        return not self.cancelled and not self.stop.requested \
            and all(o.result.settled for o in self.outcomes)


Confirm = Callable[[PlanResult], bool]
"""Shown the plan, says whether to go on (the caller may ask a person)."""


class _Interrupts:
    """SIGINT and SIGTERM while adds are being sent: the first stops every add not yet sent
    and lets those under way finish and be journaled; the second ends the process at once
    (the journal then holds them as sent, and the next apply re-reads before sending)."""

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stop: Stop, listener: Listener) -> None:
        self._stop = stop
        self._listener = listener

    def _received(self, signum: int) -> None:
        if self._stop.interrupted:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        self._stop.interrupt()
        self._listener.note("Interrupted: no further add is sent; finishing the adds under way "
                            "(interrupt again to stop at once).")

    def __enter__(self) -> _Interrupts:
        loop = asyncio.get_running_loop()
        for signum in self._SIGNALS:
            loop.add_signal_handler(signum, self._received, signum)
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._SIGNALS:
            loop.remove_signal_handler(signum)


async def apply(connection: Connection, desired: Desired, options: ApplyOptions, *,
                created_at: str, saved: PlanResult | None = None,
                confirm: Confirm = lambda _: True,
                listener: Listener | None = None) -> ApplyResult:
    """``camsctl apply``: one at a time (the lock), journal opened before anything is read,
    plan (or check the saved plan), guard, confirm, then the adds.

    Raises :class:`Refused` (stale or tampered plan, more adds than ``max_adds``), and the
    lock's and journal's errors when they cannot be opened; nothing is sent then.
    """
    listener = listener or Listener()
    lock = ApplyLock(options.journal.with_name("apply.lock"), options.lock_timeout,
                     listener.note)
    with lock:  # held from before the refresh to the last add: a second apply plans after us
        async with connect(connection, listener) as session:
            earlier = read_journal(options.journal)
            with Journal(options.journal, session.endpoint) as journal:
                # Doubts are judged at the moment the live state is read, not later: a number
                # sent just over the window before a read may have been listed only after it.
                read_at = datetime.now(UTC)
                if saved is not None:
                    planned = replace(saved, plan=await check_saved_plan(
                        session, saved, desired, mask=options.mask, listener=listener))
                else:
                    planned = await make_plan(session, desired, created_at=created_at,
                                              scope=options.scope, listener=listener)
                listener.planned(planned)
                adds = planned.plan.adds
                if options.max_adds is not None and len(adds) > options.max_adds:
                    raise Refused(f"the plan adds {len(adds)} numbers, more than --max-adds "
                                  f"{options.max_adds}; nothing was added.")
                stop = Stop()
                if not confirm(planned):
                    return ApplyResult(planned, (), stop, cancelled=True)
                if not adds:
                    return ApplyResult(planned, (), stop)
                with _Interrupts(stop, listener):
                    outcomes = await apply_adds(
                        session.client, planned.plan, journal,
                        in_doubt=adds_in_doubt(earlier, session.endpoint, read_at,
                                               options.visibility_window),
                        sent_before=possibly_applied(earlier, session.endpoint), stop=stop,
                        reread_delays=rereads_within(options.visibility_window),
                        progress=listener.outcome)
                return ApplyResult(planned, outcomes, stop)


# --- import -----------------------------------------------------------------------------------


async def import_spaces(connection: Connection, space_ids: tuple[str, ...],
                        isv_code: str | None,
                        listener: Listener | None = None) -> tuple[LiveSpace, ...]:
    """``camsctl import``: each space's numbers and bound WABA, in the order asked."""
    listener = listener or Listener()
    async with connect(connection, listener) as session:
        live = await read_for_import(session.client, tuple(dict.fromkeys(space_ids)), isv_code,
                                     progress=listener.progress)
    return tuple(live.spaces[space_id] for space_id in dict.fromkeys(space_ids))


__all__ = ["ApplyOptions", "ApplyResult", "Connection", "Listener", "PlanResult", "Refused",
           "Session", "apply", "check_saved_plan", "connect", "import_spaces", "make_plan",
           "plan"]
