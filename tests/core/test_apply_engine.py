"""The apply engine against the in-process emulator with faults: every add ends exactly once,
and no add is sent again while the service may still be about to list it."""

from __future__ import annotations

import asyncio
import errno
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from planbuild import desired, space, want

from reconciler.api import RetryPolicy
from reconciler.apply import Outcome, Result, Stop, apply_adds
from reconciler.emulator import EmulatorApp, FaultPlan, open_emulated_client
from reconciler.emulator.state import EmulatorState, parse_state
from reconciler.journal import (
    TIME_FORMAT,
    Doubt,
    EarlierAdd,
    Journal,
    JournalError,
    adds_in_doubt,
    possibly_applied,
    read_journal,
)
from reconciler.lock import ApplyLock, LockError
from reconciler.manifest import Desired
from reconciler.plan import Plan, build_plan
from reconciler.refresh import refresh

FAST = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01, max_elapsed=10.0)
ENDPOINT = "http://127.0.0.1"
REREADS = (0.01, 0.01, 0.01)
ADD = "AddChatappPhoneNumber"


def _app(state: EmulatorState, **options: Any) -> EmulatorApp:
    """The emulator, never throttling (a throttled add is re-sent by the client, safely, and
    would count as a second call here)."""
    return EmulatorApp(state, qps=1000.0, **options)


def _state(spaces: dict[str, list[str]]) -> EmulatorState:
    document = {"spaces": {sid: {"waba": {"Id": "1", "Name": "W",
                                          "AccountReviewStatus": "APPROVED"},
                                 "numbers": [{"PhoneNumber": d, "VerifiedName": "Live",
                                              "Status": "CONNECTED"} for d in digits]}
                           for sid, digits in spaces.items()}}
    return parse_state(document)


def _run(app: EmulatorApp, declared: Desired, journal: Path | Journal,
         **options: Any) -> tuple[Plan, tuple[Outcome, ...]]:
    async def go() -> tuple[Plan, tuple[Outcome, ...]]:
        async with open_emulated_client(app, qps=1000, retry=FAST) as client:
            plan = build_plan(declared, await refresh(client, declared))
            log = journal if isinstance(journal, Journal) else Journal(journal, ENDPOINT)
            with log:
                return plan, await apply_adds(client, plan, log, reread_delays=REREADS,
                                              **options)
    return asyncio.run(go())


def _declared() -> Desired:
    return desired(space("100", want("+86 138 0000 0001", "A"), want("+86 138 0000 0002", "B")),
                   space("200", want("+86 138 0000 0003", "C")))


def _events(journal: Path) -> list[tuple[str, str]]:
    return [(str(e["phone"]), str(e["event"])) for e in read_journal(journal)]


def test_adds_every_missing_number_once(tmp_path: Path) -> None:
    app = _app(_state({"100": [], "200": []}))
    plan, outcomes = _run(app, _declared(), tmp_path / "j.jsonl")
    assert [o.result for o in outcomes] == [Result.ADDED] * 3
    assert app.stats.calls[ADD] == 3
    events = _events(tmp_path / "j.jsonl")
    for add in plan.adds:
        sending = events.index((add.phone.e164, "sending"))
        assert events.index((add.phone.e164, "added")) > sending
    assert {e["endpoint"] for e in read_journal(tmp_path / "j.jsonl")} == {ENDPOINT}


def test_lost_answers_are_resolved_by_re_reading_never_by_blind_resending(tmp_path: Path) -> None:
    app = _app(_state({"100": [], "200": []}), faults=FaultPlan(lost_add=1.0, seed=1))
    _, outcomes = _run(app, _declared(), tmp_path / "j.jsonl")
    assert {o.result for o in outcomes} == {Result.ADDED}
    assert all(o.reason == "confirmed by re-reading the space" for o in outcomes)
    assert app.stats.calls[ADD] == 3  # each sent once, none re-sent
    assert "PhoneNumber.AlreadyExists" not in app.stats.rejected
    assert [e for _, e in _events(tmp_path / "j.jsonl")].count("ambiguous") == 3


def test_a_lost_answer_not_listed_yet_ends_unknown_and_is_never_sent_again(
        tmp_path: Path) -> None:
    # The service added them, lost the answers, and lists them only a minute later.
    app = _app(_state({"100": [], "200": []}), faults=FaultPlan(lost_add=1.0, seed=1),
                      visibility_delay_ms=60_000)
    _, outcomes = _run(app, _declared(), tmp_path / "j.jsonl")
    assert {o.result for o in outcomes} == {Result.UNKNOWN}
    assert all("re-run apply later" in (o.reason or "") for o in outcomes)
    assert app.stats.calls[ADD] == 3
    assert not app.stats.rejected
    # 1 immediate re-read and 3 more over REREADS per add, on top of the plan's 2 reads.
    assert app.stats.calls["QueryChatappPhoneNumbers"] == 2 + 3 * 4
    assert [e for _, e in _events(tmp_path / "j.jsonl")].count("unknown") == 3


def _entry(minutes_ago: float, event: str, phone: str = "+8613800000001", space_id: str = "100",
           endpoint: str = ENDPOINT, now: datetime = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)) \
        -> dict[str, object]:
    moment = now - timedelta(minutes=minutes_ago)
    return {"time": moment.strftime(TIME_FORMAT), "endpoint": endpoint, "space": space_id,
            "phone": phone, "event": event, "request_id": "R", "error": None}


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("events", "expected"), [
    # (minutes ago, event) in journal order -> the doubt, if any, within a 10-minute window
    ([(3, "sending"), (3, "added")], Doubt.ADDED),
    ([(3, "sending")], Doubt.UNSETTLED),  # killed after the entry, before any answer
    ([(3, "sending"), (3, "ambiguous")], Doubt.UNSETTLED),
    ([(3, "sending"), (3, "ambiguous"), (1, "unknown")], Doubt.UNSETTLED),
    ([(3, "sending"), (3, "failed")], None),
    ([(3, "sending"), (3, "already-present")], None),
    ([(30, "sending")], None),  # the window has passed: send again
    ([(30, "sending"), (30, "ambiguous"), (2, "unknown")], None),  # counted from the send
    ([(30, "sending"), (30, "added"), (2, "awaiting-visibility")], None),
    ([(30, "sending"), (30, "failed"), (2, "sending")], Doubt.UNSETTLED),
], ids=str)
def test_which_earlier_adds_are_in_doubt(events: list[tuple[float, str]],
                                         expected: Doubt | None) -> None:
    entries = [_entry(minutes, event, now=NOW) for minutes, event in events]
    earlier = adds_in_doubt(entries, ENDPOINT, NOW, window_seconds=600).get(
        ("100", "+8613800000001"))
    assert (earlier.doubt if earlier else None) is expected


def test_only_the_journal_of_the_endpoint_in_use_counts() -> None:
    entries = [_entry(1, "sending", endpoint="emulator:state.yaml", now=NOW),
               _entry(1, "added", endpoint="emulator:state.yaml", now=NOW),
               _entry(1, "sending", phone="+8613800000002", now=NOW),
               {"time": "torn", "event": "sending"}, {"event": "added"}]
    assert set(adds_in_doubt(entries, ENDPOINT, NOW, 600)) == {("100", "+8613800000002")}
    assert possibly_applied(entries, ENDPOINT) == {("100", "+8613800000002")}
    # However long ago, sent and not refused since; a refused one was not applied.
    old = [_entry(90, "sending", now=NOW), _entry(90, "ambiguous", now=NOW),
           _entry(85, "sending", phone="+8613800000002", now=NOW),
           _entry(85, "added", phone="+8613800000002", now=NOW),
           _entry(80, "sending", phone="+8613800000003", now=NOW),
           _entry(80, "failed", phone="+8613800000003", now=NOW)]
    assert possibly_applied(old, ENDPOINT) == {("100", "+8613800000001"),
                                               ("100", "+8613800000002")}
    assert adds_in_doubt(entries, "https://cams.ap-southeast-1.aliyuncs.com", NOW, 600) == {}


def test_an_earlier_unsettled_add_is_re_read_never_sent(tmp_path: Path) -> None:
    app = _app(_state({"100": [], "200": []}))
    doubt = EarlierAdd(Doubt.UNSETTLED, "2026-11-26T12:00:00.000000Z")
    in_doubt = {("100", "+8613800000002"): doubt, ("200", "+8613800000003"): doubt}
    _, outcomes = _run(app, _declared(), tmp_path / "j.jsonl", in_doubt=in_doubt)
    results = {o.add.phone.e164: o for o in outcomes}
    assert results["+8613800000001"].result is Result.ADDED
    assert results["+8613800000002"].result is Result.UNKNOWN
    assert "earlier run" in (results["+8613800000002"].reason or "")
    assert results["+8613800000003"].result is Result.UNKNOWN
    assert app.stats.calls[ADD] == 1  # only the number nobody sent before


def test_an_earlier_unsettled_add_that_appears_is_added(tmp_path: Path) -> None:
    app = _app(_state({"100": [], "200": []}))
    declared = desired(space("100", want("+86 138 0000 0001", "A")))
    doubt = EarlierAdd(Doubt.UNSETTLED, "2026-11-26T12:00:00.000000Z")

    async def go() -> tuple[Outcome, ...]:
        async with open_emulated_client(app, qps=1000, retry=FAST) as client:
            plan = build_plan(declared, await refresh(client, declared))
            # The earlier run's add lands now, after the plan was made.
            await client.add_phone_number("100", "86", "13800000001", "A")
            with Journal(tmp_path / "j.jsonl", ENDPOINT) as log:
                return await apply_adds(client, plan, log, reread_delays=REREADS,
                                        in_doubt={("100", "+8613800000001"): doubt})
    [outcome] = asyncio.run(go())
    assert outcome.result is Result.ADDED
    assert app.stats.calls[ADD] == 1
    assert _events(tmp_path / "j.jsonl") == [("+8613800000001", "added")]


def test_an_earlier_add_the_service_confirmed_awaits_visibility(tmp_path: Path) -> None:
    app = _app(_state({"100": [], "200": []}))
    in_doubt = {("100", "+8613800000001"): EarlierAdd(Doubt.ADDED, "t", "RID")}
    _, outcomes = _run(app, _declared(), tmp_path / "j.jsonl", in_doubt=in_doubt)
    assert outcomes[0].result is Result.AWAITING_VISIBILITY
    assert outcomes[0].request_id == "RID"
    assert app.stats.calls[ADD] == 2


def _resend_refused(tmp_path: Path, code: str, visibility_ms: float) -> tuple[Outcome, EmulatorApp]:
    """An earlier run's add landed; the service lists it only after ``visibility_ms`` and
    refuses the re-send with ``code``."""
    app = _app(_state({"100": [], "200": []}), exists_code=code,
               visibility_delay_ms=visibility_ms)
    declared = desired(space("100", want("+86 138 0000 0001", "A")))

    async def go() -> tuple[Outcome, ...]:
        async with open_emulated_client(app, qps=1000, retry=FAST) as client:
            plan = build_plan(declared, await refresh(client, declared))
            await client.add_phone_number("100", "86", "13800000001", "A")
            with Journal(tmp_path / "j.jsonl", ENDPOINT) as log:
                return await apply_adds(client, plan, log, reread_delays=(0.05, 0.05),
                                        sent_before={("100", "+8613800000001")})
    [outcome] = asyncio.run(go())
    return outcome, app


@pytest.mark.parametrize("code", ["PhoneNumber.AlreadyExists", "InvalidParameter"])
def test_a_refused_re_send_is_decided_by_what_the_space_lists(tmp_path: Path, code: str) -> None:
    outcome, app = _resend_refused(tmp_path, code, visibility_ms=30)
    assert outcome.result is Result.ALREADY_PRESENT
    assert app.stats.rejected[code] == 1


def test_a_refused_re_send_never_listed_is_unknown_not_failed(tmp_path: Path) -> None:
    outcome, _ = _resend_refused(tmp_path, "Some.OtherCode", visibility_ms=60_000)
    assert outcome.result is Result.UNKNOWN
    assert "Some.OtherCode" in (outcome.reason or "")


def test_one_failure_does_not_stop_the_others(tmp_path: Path) -> None:
    # +8613800000003 already lives in another space: that add fails, the others go through.
    app = _app(_state({"100": [], "200": [], "300": ["8613800000003"]}))
    plan, outcomes = _run(app, _declared(), tmp_path / "j.jsonl")
    results = {o.add.phone.e164: o for o in outcomes}
    assert results["+8613800000001"].result is Result.ADDED
    assert results["+8613800000002"].result is Result.ADDED
    failed = results["+8613800000003"]
    assert failed.result is Result.FAILED
    assert (failed.reason or "").startswith("PhoneNumber.AlreadyExists: ")
    assert "(RequestId " in (failed.reason or "")
    assert len(plan.adds) == 3


def test_a_number_added_meanwhile_in_the_same_space_is_already_present(tmp_path: Path) -> None:
    app = _app(_state({"100": [], "200": []}))
    declared = _declared()

    async def go() -> tuple[Outcome, ...]:
        async with open_emulated_client(app, qps=1000, retry=FAST) as client:
            plan = build_plan(declared, await refresh(client, declared))
            # Another apply wins the race for one number after our plan was made.
            await client.add_phone_number("200", "86", "13800000003", "C")
            with Journal(tmp_path / "j.jsonl", ENDPOINT) as log:
                return await apply_adds(client, plan, log, reread_delays=REREADS)
    outcomes = asyncio.run(go())
    results = {o.add.phone.e164: o.result for o in outcomes}
    assert results["+8613800000003"] is Result.ALREADY_PRESENT
    assert results["+8613800000001"] is Result.ADDED


def test_server_errors_on_adds_are_never_blindly_retried(tmp_path: Path) -> None:
    app = _app(_state({"100": [], "200": []}), faults=FaultPlan(server=0.5, seed=7))
    _, outcomes = _run(app, _declared(), tmp_path / "j.jsonl")
    present = {n["PhoneNumber"] for s in app.state.spaces.values() for n in s.numbers}
    added = {o.add.phone.digits for o in outcomes if o.result is Result.ADDED}
    assert added <= present
    assert app.stats.calls[ADD] == 3
    assert not app.stats.rejected


class _FillingJournal(Journal):
    """A journal on a disk that fills up after ``room`` more entries."""

    def __init__(self, path: Path, room: int) -> None:
        super().__init__(path, ENDPOINT)
        self.room = room

    def _write(self, data: bytes) -> None:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        super()._write(data)


@pytest.mark.parametrize("room", [0, 1, 2, 3])
def test_a_journal_that_cannot_be_written_stops_every_later_add(tmp_path: Path,
                                                                room: int) -> None:
    app = _app(_state({"100": [], "200": []}))
    declared = desired(space("100", *(want(f"+86 138 0000 000{i}", "A") for i in range(1, 6))))
    stop = Stop()
    journal = _FillingJournal(tmp_path / "j.jsonl", room)
    _, outcomes = _run(app, declared, journal, stop=stop)
    assert stop.journal_error is not None
    assert "No space left on device" in str(stop.journal_error)
    sent = app.stats.calls[ADD]
    # Every add sent was announced first; none after the failure; each says how it ended.
    assert sent == len([e for _, e in _events(tmp_path / "j.jsonl") if e == "sending"])
    assert sent == (room + 1) // 2
    assert [o.result for o in outcomes] == \
        [Result.ADDED] * sent + [Result.NOT_SENT] * (5 - sent)
    assert all("journal could not be written" in (o.reason or "")
               for o in outcomes if o.result is Result.NOT_SENT)


def test_an_interruption_stops_every_add_not_yet_sent(tmp_path: Path) -> None:
    app = _app(_state({"100": [], "200": []}))
    stop = Stop()
    stop.interrupt()
    _, outcomes = _run(app, _declared(), tmp_path / "j.jsonl", stop=stop)
    assert {o.result for o in outcomes} == {Result.NOT_SENT}
    assert app.stats.calls[ADD] == 0


def test_a_torn_journal_line_does_not_swallow_the_next_entry(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    journal.write_text('{"time": "t", "event": "added"}\n{"time": "t", "ev')  # crash mid-write
    with Journal(journal, ENDPOINT) as log:
        log.record("sending", "100", "+8613800000001")
    assert [e["event"] for e in read_journal(journal)] == ["added", "sending"]


def test_hostile_journal_lines_are_skipped(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    journal.write_bytes(b'{"event": "\xe2\x82"}\n' + b"[" * 100_000 + b"\n"
                        + b'{"n": ' + b"9" * 5000 + b"}\n" + b'{"event": "added"}\n')
    assert read_journal(journal) == [{"event": "\N{REPLACEMENT CHARACTER}"}, {"event": "added"}]


def test_the_journal_and_the_lock_never_follow_a_symlink(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    (tmp_path / "journal.jsonl").symlink_to(precious)
    (tmp_path / "apply.lock").symlink_to(precious)
    with pytest.raises(JournalError, match="symbolic link"):
        Journal(tmp_path / "journal.jsonl", ENDPOINT)
    with pytest.raises(JournalError, match="symbolic link"):
        read_journal(tmp_path / "journal.jsonl")
    with pytest.raises(LockError, match="symbolic link"), \
            ApplyLock(tmp_path / "apply.lock", timeout=0):
        pass
    assert precious.read_text() == "keep me\n"


def test_a_journal_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(JournalError, match="is a file, not a folder"):
        Journal(tmp_path / "file" / "journal.jsonl", ENDPOINT)
