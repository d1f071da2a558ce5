"""The drift ledger's pure core: the record format, since when a finding is open, the pending
deadline, and what a torn or malformed ledger does. No I/O: plans in, records and text out."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest

from reconciler.diagnostics import Location
from reconciler.ledger import (
    LedgerError,
    LedgerFinding,
    LedgerRecord,
    encode,
    follow,
    open_since,
    opened_at,
    overdue,
    parse,
    parse_duration,
    record_of,
)
from reconciler.plan import Drift, Finding, Pending, Plan, PlannedSpace, SpaceReads
from reconciler.planfile import PlanMeta
from reconciler.scope import Scope
from reconciler.views import view_for
from tests.core.planbuild import example_plan

ENDPOINT = "https://cams.ap-southeast-1.aliyuncs.com"
SPACE = "293483938849493"
PHONE = "+8613800002468"
PENDING_KEY = (SPACE, PHONE, "status")
NAME_KEY = (SPACE, "+8613800005678", "verified_name")


def meta(time: str, endpoint: str = ENDPOINT, scope: Scope | None = None) -> PlanMeta:
    return PlanMeta(created_at=time, endpoint=endpoint, scope=scope)


def record(time: str, *keys: tuple[str, str | None, str], spaces: tuple[str, ...] = (SPACE,),
           endpoint: str = ENDPOINT) -> LedgerRecord:
    return LedgerRecord(time=time, endpoint=endpoint, scope=None, spaces=spaces, summary={},
                        findings=tuple(LedgerFinding(space, phone, field, "drift", None, "X")
                                       for space, phone, field in keys))


def pending_plan() -> Plan:
    pending = Pending(SPACE, PHONE, "PENDING", Location("m.yaml", 28, 9), ("CONNECTED",))
    return Plan(spaces=(PlannedSpace(id=SPACE, label=None, isv_code=None, live_digest="x",
                                     reads=SpaceReads(False, False, ()),
                                     pending=(pending,)),))


# --- the record ------------------------------------------------------------------------------


def test_a_record_holds_every_finding_by_key_and_reads_back_the_same() -> None:
    plan = example_plan()
    rec = record_of(plan, meta("2026-11-20T12:00:00Z",
                               scope=Scope("main", 3, ("293483938849493",))))
    by_key = {f.key: f for f in rec.findings}
    assert by_key[NAME_KEY].category == "drift"
    assert by_key[NAME_KEY].expected == "Acme Retail" and by_key[NAME_KEY].actual == "ACME"
    assert by_key[(SPACE, "+8613800009999", "unmanaged")].category == "unmanaged"
    assert by_key[PENDING_KEY].category == "pending"
    assert by_key[PENDING_KEY].actual == "PENDING"
    acknowledged = by_key[(SPACE, "+8613800004321", "status")]
    assert acknowledged.category == "acknowledged"
    assert acknowledged.acknowledgement is not None
    assert acknowledged.acknowledgement.owner == "ops@acme.example"
    assert acknowledged.acknowledgement.until == "2027-11-20"
    # Where each is written, for the auditor's report; an unmanaged number has no place.
    assert by_key[NAME_KEY].source is not None and \
        by_key[NAME_KEY].source == "m.yaml:20:9"
    assert by_key[PENDING_KEY].source is not None
    assert by_key[(SPACE, "+8613800009999", "unmanaged")].source is None
    assert acknowledged.acknowledgement.source is not None
    assert rec.labels[SPACE] == "acme-retail"
    assert len(rec.findings) == len(plan.drift) + len(plan.unmanaged) + len(plan.pending) \
        + len(plan.acknowledged)
    assert rec.summary == plan.summary()

    line = encode(rec)
    assert line.endswith("\n") and line.count("\n") == 1
    wire = json.loads(line)
    assert wire["time"] == "2026-11-20T12:00:00Z" and wire["endpoint"] == ENDPOINT
    assert wire["scope"] == {"changed_since": "main", "declared": 3, "read": [SPACE]}
    assert parse(line) == [rec]
    assert parse(line * 2) == [rec, rec]


def test_a_line_written_before_sources_and_labels_still_reads() -> None:
    wire = json.loads(encode(record_of(example_plan(), meta("2026-11-20T12:00:00Z"))))
    del wire["labels"]
    for finding in wire["findings"]:
        del finding["source"]
        if finding["acknowledgement"] is not None:
            del finding["acknowledgement"]["source"]
    [old] = parse(json.dumps(wire) + "\n")
    assert old.labels == {}
    assert all(f.source is None for f in old.findings)
    assert len(old.findings) == len(wire["findings"])


def test_a_full_read_has_no_scope() -> None:
    assert json.loads(encode(record_of(example_plan(), meta("2026-11-20T12:00:00Z"))))[
        "scope"] is None


# --- since when ------------------------------------------------------------------------------


def test_a_finding_is_open_since_the_first_run_of_its_unbroken_series() -> None:
    records = [record("2026-11-18T12:00:00Z", NAME_KEY),
               record("2026-11-19T12:00:00Z"),                       # gone: closes it
               record("2026-11-20T12:00:00Z", NAME_KEY),
               record("2026-11-22T12:00:00Z", NAME_KEY),
               record("2026-11-26T12:00:00Z", NAME_KEY)]
    assert open_since(records, NAME_KEY) == dt.date(2026, 11, 20)
    assert open_since(records[:1], NAME_KEY) == dt.date(2026, 11, 18)
    assert open_since(records[:2], NAME_KEY) is None                 # closed in the last run
    assert open_since([], NAME_KEY) is None
    assert opened_at(records, NAME_KEY) == dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def test_runs_that_did_not_look_neither_continue_nor_close_a_finding() -> None:
    records = [record("2026-11-20T12:00:00Z", NAME_KEY),
               record("2026-11-21T12:00:00Z", spaces=("120000000000001",)),  # --space other
               record("2026-11-22T12:00:00Z", endpoint="emulator:x"),        # other account
               record("2026-11-26T12:00:00Z", NAME_KEY)]
    assert open_since(records, NAME_KEY) == dt.date(2026, 11, 20)


def test_the_views_say_since_when_only_when_given() -> None:
    plan = example_plan()
    plain = meta("2026-11-26T12:00:00Z")
    dated = replace(plain, opened={NAME_KEY: dt.date(2026, 11, 20),
                                   PENDING_KEY: dt.date(2026, 11, 25)})
    for fmt in ("text", "markdown"):
        view = view_for(fmt)
        assert "since" not in view.plan(plan, plain)
        shown = view.plan(plan, dated)
        assert "since 2026-11-20, 6 days" in shown
        assert "since 2026-11-25, 1 day" in shown
        assert shown.count("since 20") == 2


# --- the pending deadline --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "delta"), [
    ("30s", dt.timedelta(seconds=30)), ("15m", dt.timedelta(minutes=15)),
    ("12h", dt.timedelta(hours=12)), ("7d", dt.timedelta(days=7)), ("0s", dt.timedelta())])
def test_durations(text: str, delta: dt.timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["", "7", "d", "7w", "-1d", "1.5h", "7 d x", "1e3s"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("first", "deadline", "late"), [
    ("2026-11-19T12:00:00Z", "7d", False),     # exactly 7 days: not longer
    ("2026-11-19T11:59:59Z", "7d", True),
    ("2026-11-26T11:59:00Z", "30s", True),
    ("2026-11-26T11:59:00Z", "15m", False),
    ("2026-11-26T00:00:00Z", "12h", False),
    ("2026-11-25T23:59:59Z", "12h", True),
])
def test_a_number_pending_past_the_deadline_is_drift(first: str, deadline: str,
                                                     late: bool) -> None:
    now = "2026-11-26T12:00:00Z"
    records = [record(first, PENDING_KEY), record(now, PENDING_KEY)]
    plan = overdue(pending_plan(), records, dt.datetime.fromisoformat(now),
                   parse_duration(deadline))
    if late:
        assert plan.pending == ()
        assert plan.drift == (Drift(SPACE, PHONE, "status", ("CONNECTED",), "PENDING",
                                    Location("m.yaml", 28, 9)),)
        assert plan.findings() == Finding.DRIFT
    else:
        assert plan == pending_plan()
        assert plan.findings() == Finding.PENDING


def test_a_first_run_has_no_history_and_nothing_is_late() -> None:
    plan, run_meta, rec = follow(pending_plan(), meta("2026-11-26T12:00:00Z"), [],
                                 dt.timedelta())
    assert plan.pending and not plan.drift
    assert run_meta.opened == {PENDING_KEY: dt.date(2026, 11, 26)}
    assert [f.category for f in rec.findings] == ["pending"]


def test_follow_records_the_late_number_as_drift_and_keeps_its_age() -> None:
    earlier = record_of(pending_plan(), meta("2026-11-10T12:00:00Z"))
    plan, run_meta, rec = follow(pending_plan(), meta("2026-11-26T12:00:00Z"), [earlier],
                                 dt.timedelta(days=7))
    assert plan.findings() == Finding.DRIFT
    assert [(f.key, f.category, f.actual) for f in rec.findings] == \
        [(PENDING_KEY, "drift", "PENDING")]
    assert run_meta.opened == {PENDING_KEY: dt.date(2026, 11, 10)}
    assert "since 2026-11-10, 16 days" in view_for("text").plan(plan, run_meta)


# --- torn and malformed ledgers --------------------------------------------------------------


def test_a_torn_last_line_is_skipped() -> None:
    line = encode(record("2026-11-20T12:00:00Z", NAME_KEY))
    assert parse(line + line[:40]) == parse(line)
    assert parse(line[:-1]) == parse(line)          # whole but unfinished: still a record
    assert parse("") == [] and parse("\n") == []


@pytest.mark.parametrize(("text", "line", "message"), [
    ("not json\n", 1, "not a JSON record"),
    ("[1, 2]\n", 1, "a record must be an object"),
    ("{}\n", 1, "unknown ledger_version"),
    ('{"ledger_version": 1, "time": 3}\n', 1, "time must be a string"),
    ('{"ledger_version": 1, "time": "yesterday"}\n', 1, "not an ISO 8601 moment"),
])
def test_a_malformed_line_names_its_number(text: str, line: int, message: str) -> None:
    with pytest.raises(LedgerError, match=message) as caught:
        parse(text)
    assert caught.value.line == line


def test_wrong_types_inside_a_record_name_the_line() -> None:
    good = json.loads(encode(record_of(example_plan(), meta("2026-11-20T12:00:00Z"))))
    cases = [("findings", "x", "findings must be a list"),
             ("spaces", [1], "spaces must be a string"),
             ("summary", {"add": -1}, "summary add must be a count"),
             ("findings", [{**good["findings"][0], "category": "odd"}], "category must be"),
             ("findings", [{**good["findings"][0], "expected": 3}], "expected must be"),
             ("findings", [{**good["findings"][0], "acknowledgement": {"reason": "r"}}],
              "acknowledgement owner must be a string")]
    for key, value, message in cases:
        bad = json.dumps({**good, key: value})
        with pytest.raises(LedgerError, match=message) as caught:
            parse(encode(record("2026-11-19T12:00:00Z")) + bad + "\n")
        assert caught.value.line == 2
