"""The apply engine against the in-process emulator with faults: every add ends exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from planbuild import desired, space, want

from reconciler.api import Credentials, RetryPolicy, open_client
from reconciler.api.credentials import StaticCredentials
from reconciler.apply import Outcome, Result, apply_adds
from reconciler.emulator import EmulatorApp, FaultPlan, InProcessTransport
from reconciler.emulator.state import EmulatorState, parse_state
from reconciler.journal import Journal, read_journal
from reconciler.manifest import Desired
from reconciler.plan import Plan, build_plan
from reconciler.refresh import refresh

FAST = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01, max_elapsed=10.0)
KEY = Credentials("emulator", "emulator-secret")


def _state(spaces: dict[str, list[str]]) -> EmulatorState:
    document = {"spaces": {sid: {"waba": {"Id": "1", "Name": "W",
                                          "AccountReviewStatus": "APPROVED"},
                                 "numbers": [{"PhoneNumber": d, "VerifiedName": "Live",
                                              "Status": "CONNECTED"} for d in digits]}
                           for sid, digits in spaces.items()}}
    return parse_state(document)


def _run(app: EmulatorApp, declared: Desired, journal: Path) -> tuple[Plan, tuple[Outcome, ...]]:
    async def go() -> tuple[Plan, tuple[Outcome, ...]]:
        async with open_client("http://127.0.0.1", qps=1000, transport=InProcessTransport(app),
                               credentials=StaticCredentials(KEY), retry=FAST) as client:
            plan = build_plan(declared, await refresh(client, declared))
            with Journal(journal) as log:
                return plan, await apply_adds(client, plan, log)
    return asyncio.run(go())


def _declared() -> Desired:
    return desired(space("100", want("+86 138 0000 0001", "A"), want("+86 138 0000 0002", "B")),
                   space("200", want("+86 138 0000 0003", "C")))


def test_adds_every_missing_number_once(tmp_path: Path) -> None:
    app = EmulatorApp(_state({"100": [], "200": []}))
    plan, outcomes = _run(app, _declared(), tmp_path / "j.jsonl")
    assert [o.result for o in outcomes] == [Result.ADDED] * 3
    assert app.stats.calls["AddChatappPhoneNumber"] == 3
    events = [(e["phone"], e["event"]) for e in read_journal(tmp_path / "j.jsonl")]
    for add in plan.adds:
        sending = events.index((add.phone.e164, "sending"))
        assert events.index((add.phone.e164, "added")) > sending


def test_lost_answers_are_resolved_by_re_reading_never_by_blind_resending(tmp_path: Path) -> None:
    app = EmulatorApp(_state({"100": [], "200": []}), faults=FaultPlan(lost_add=1.0, seed=1))
    _, outcomes = _run(app, _declared(), tmp_path / "j.jsonl")
    assert {o.result for o in outcomes} == {Result.ADDED}
    assert all(o.reason == "confirmed by re-reading the space"
               for o in outcomes)
    assert app.stats.calls["AddChatappPhoneNumber"] == 3  # each sent once, none re-sent
    assert "PhoneNumber.AlreadyExists" not in app.stats.rejected
    ambiguous = [e for e in read_journal(tmp_path / "j.jsonl") if e["event"] == "ambiguous"]
    assert len(ambiguous) == 3


def test_one_failure_does_not_stop_the_others(tmp_path: Path) -> None:
    # +8613800000003 already lives in another space: that add fails, the others go through.
    app = EmulatorApp(_state({"100": [], "200": [], "300": ["8613800000003"]}))
    plan, outcomes = _run(app, _declared(), tmp_path / "j.jsonl")
    results = {o.add.phone.e164: o for o in outcomes}
    assert results["+8613800000001"].result is Result.ADDED
    assert results["+8613800000002"].result is Result.ADDED
    failed = results["+8613800000003"]
    assert failed.result is Result.FAILED
    assert failed.reason.startswith("PhoneNumber.AlreadyExists: ")
    assert "(RequestId " in failed.reason
    assert len(plan.adds) == 3


def test_a_number_added_meanwhile_in_the_same_space_is_already_present(tmp_path: Path) -> None:
    app = EmulatorApp(_state({"100": [], "200": []}))
    declared = _declared()

    async def go() -> tuple[Outcome, ...]:
        async with open_client("http://127.0.0.1", qps=1000, transport=InProcessTransport(app),
                               credentials=StaticCredentials(KEY), retry=FAST) as client:
            plan = build_plan(declared, await refresh(client, declared))
            # Another apply wins the race for one number after our plan was made.
            await client.add_phone_number("200", "86", "13800000003", "C")
            with Journal(tmp_path / "j.jsonl") as log:
                return await apply_adds(client, plan, log)
    outcomes = asyncio.run(go())
    results = {o.add.phone.e164: o.result for o in outcomes}
    assert results["+8613800000003"] is Result.ALREADY_PRESENT
    assert results["+8613800000001"] is Result.ADDED


def test_server_errors_on_adds_are_never_blindly_retried(tmp_path: Path) -> None:
    app = EmulatorApp(_state({"100": [], "200": []}), faults=FaultPlan(server=0.5, seed=7))
    _, outcomes = _run(app, _declared(), tmp_path / "j.jsonl")
    final = {(e["phone"]) for e in read_journal(tmp_path / "j.jsonl")
             if e["event"] in ("added", "failed")}
    assert len(final) == 3
    present = {n["PhoneNumber"] for s in app.state.spaces.values() for n in s.numbers}
    added = {o.add.phone.digits for o in outcomes
             if o.result is Result.ADDED}
    assert added <= present
    assert "PhoneNumber.AlreadyExists" not in app.stats.rejected


def test_a_torn_journal_line_does_not_swallow_the_next_entry(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    journal.write_text('{"time": "t", "event": "added"}\n{"time": "t", "ev')  # crash mid-write
    with Journal(journal) as log:
        log.record("sending", "100", "+8613800000001")
    entries = read_journal(journal)
    assert [e["event"] for e in entries] == ["added", "sending"]
