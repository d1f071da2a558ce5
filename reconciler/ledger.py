"""The drift ledger: one JSON line per ``plan``/``drift --ledger`` run, and what it tells.

This module owns the ledger's record format (:func:`record_of`, :func:`encode`,
:func:`parse`) and the two questions asked of it: since when a finding has been open
(:func:`opened_at`, :func:`open_since`) and which pending numbers have waited past the deadline
(:func:`overdue`). Pure: text in, values out; the run's moment is its plan's ``created_at``,
never a clock. Reading and appending the file is :mod:`reconciler.ledgerfile`'s.

A finding is followed across runs by its key, (space, phone, field): drift by its field,
an unmanaged number as ``unmanaged``, a pending number as ``status`` (so a pending number
that becomes drift, or is acknowledged, stays the same finding). It is open from the first
run of the latest unbroken series of runs that saw it; a run that read its space without
finding it closes it. Runs against another endpoint, and runs that did not read the space
(``--space``, ``--changed-since``), neither continue nor close it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler import wirevalues as wire
from reconciler.plan import (
    Acknowledged,
    Drift,
    FieldValue,
    FindingKey,
    Pending,
    Plan,
    Unmanaged,
    sort_findings,
)
from reconciler.planfile import PlanMeta
from reconciler.wirevalues import WireError

LEDGER_VERSION = 1
CATEGORIES = ("drift", "unmanaged", "pending", "acknowledged")
DEFAULT_PENDING_DEADLINE = "7d"


class LedgerError(ValueError):
    """A ledger line that is not a record camsctl wrote; ``line`` counts from 1."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class LedgerAcknowledgement:
    reason: str
    owner: str
    until: str
    """The acknowledgement's last day, ``YYYY-MM-DD``."""
    source: str | None = None
    """Where the acknowledgement is written (``file:line:column``); None in older lines."""


@dataclass(frozen=True)
class LedgerFinding:
    """One finding of a run. ``category`` is one of :data:`CATEGORIES`; a pending number's
    ``actual`` is its status, an unmanaged number's its live status (``expected`` None)."""

    space: str
    phone: str | None
    field: str
    category: str
    expected: FieldValue
    actual: FieldValue
    acknowledgement: LedgerAcknowledgement | None = None
    source: str | None = None
    """Where the number (or the WABA) is declared, ``file:line:column``; None for an unmanaged
    number, which no manifest declares, and in older lines."""

    @property
    def key(self) -> FindingKey:
        return (self.space, self.phone, self.field)


@dataclass(frozen=True)
class LedgerRecord:
    """One run. ``time`` is its plan's ``created_at`` (``YYYY-MM-DDTHH:MM:SSZ``); ``spaces``
    the ids it read; ``scope`` the plan JSON's ``scope`` (None for a full read)."""

    time: str
    endpoint: str
    scope: Mapping[str, object] | None
    spaces: tuple[str, ...]
    summary: Mapping[str, int]
    findings: tuple[LedgerFinding, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    """The label of each space read that has one; empty in older lines."""

    @property
    def moment(self) -> dt.datetime:
        return _moment(self.time)


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment


# --- from a plan ----------------------------------------------------------------------------


def _finding(item: Drift | Unmanaged, category: str,
             ack: LedgerAcknowledgement | None = None) -> LedgerFinding:
    if isinstance(item, Unmanaged):
        return LedgerFinding(item.space_id, item.phone, "unmanaged", category, None,
                             item.status, ack)
    return LedgerFinding(item.space_id, item.phone, item.field, category, item.expected,
                         item.actual, ack, str(item.source))


def _pending(item: Pending) -> LedgerFinding:
    return LedgerFinding(item.space_id, item.phone, "status", "pending",
                         item.allowed or None, item.status, source=str(item.source))


def _acknowledged(item: Acknowledged) -> LedgerFinding:
    return _finding(item.finding, "acknowledged",
                    LedgerAcknowledgement(item.reason, item.owner, item.until,
                                          str(item.source)))


def record_of(plan: Plan, meta: PlanMeta) -> LedgerRecord:
    """The ledger record of a run: its plan's findings, in the plan's order."""
    findings = [*(_finding(d, "drift") for d in plan.drift),
                *(_finding(u, "unmanaged") for u in plan.unmanaged),
                *(_pending(p) for p in plan.pending),
                *(_acknowledged(a) for a in plan.acknowledged)]
    scope = None if meta.scope is None else {
        "changed_since": meta.scope.changed_since, "declared": meta.scope.declared,
        "read": list(meta.scope.read)}
    return LedgerRecord(time=meta.created_at, endpoint=meta.endpoint, scope=scope,
                        spaces=tuple(space.id for space in plan.spaces),
                        summary=plan.summary(), findings=tuple(findings),
                        labels={space.id: space.label for space in plan.spaces if space.label})


# --- the line format ------------------------------------------------------------------------


def encode(record: LedgerRecord) -> str:
    """One line of JSON, with its newline."""
    line = {
        "ledger_version": LEDGER_VERSION,
        "time": record.time,
        "endpoint": record.endpoint,
        "scope": None if record.scope is None else dict(record.scope),
        "spaces": list(record.spaces),
        "summary": dict(record.summary),
        "findings": [{"space": f.space, "phone": f.phone, "field": f.field,
                      "category": f.category, "expected": wire.field_to_wire(f.expected),
                      "actual": wire.field_to_wire(f.actual), "source": f.source,
                      "acknowledgement": None if f.acknowledgement is None else {
                          "reason": f.acknowledgement.reason,
                          "owner": f.acknowledgement.owner,
                          "until": f.acknowledgement.until,
                          "source": f.acknowledgement.source}}
                     for f in record.findings],
        "labels": dict(record.labels),
    }
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


def _read_finding(value: object, index: int) -> LedgerFinding:
    item = wire.obj(value, f"finding {index}")
    category = item.get("category")
    if category not in CATEGORIES:
        raise WireError(f"finding {index}: category must be one of {', '.join(CATEGORIES)}")
    ack = item.get("acknowledgement")
    acknowledgement = None
    if ack is not None:
        fields = wire.obj(ack, f"finding {index}'s acknowledgement")
        reason, owner, until = (
            wire.text(fields.get(name), f"finding {index}'s acknowledgement {name}")
            for name in ("reason", "owner", "until"))
        acknowledgement = LedgerAcknowledgement(
            reason, owner, until,
            wire.opt_text(fields.get("source"), f"finding {index}'s acknowledgement source"))
    return LedgerFinding(space=wire.text(item.get("space"), f"finding {index}'s space"),
                         phone=wire.opt_text(item.get("phone"), f"finding {index}'s phone"),
                         field=wire.text(item.get("field"), f"finding {index}'s field"),
                         category=str(category),
                         expected=wire.field_value(item.get("expected"),
                                                   f"finding {index}'s expected"),
                         actual=wire.field_value(item.get("actual"),
                                                 f"finding {index}'s actual"),
                         acknowledgement=acknowledgement,
                         source=wire.opt_text(item.get("source"), f"finding {index}'s source"))


def _record(line: str) -> LedgerRecord:
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        raise WireError("not a JSON record") from None
    root = wire.obj(raw, "a record")
    if root.get("ledger_version") != LEDGER_VERSION:
        raise WireError(f"unknown ledger_version {root.get('ledger_version')!r}: this camsctl "
                   f"writes {LEDGER_VERSION}")
    time = wire.text(root.get("time"), "time")
    try:
        _moment(time)
    except ValueError:
        raise WireError(f"time {time!r} is not an ISO 8601 moment with its zone") from None
    scope = root.get("scope")
    summary = wire.obj(root.get("summary"), "summary")
    labels = wire.obj(root.get("labels", {}), "labels")
    return LedgerRecord(
        time=time, endpoint=wire.text(root.get("endpoint"), "endpoint"),
        scope=None if scope is None else wire.obj(scope, "scope"),
        spaces=tuple(wire.text(s, "spaces") for s in wire.items(root.get("spaces"), "spaces")),
        summary={wire.text(k, "summary"): wire.count(v, f"summary {k}")
                 for k, v in summary.items()},
        findings=tuple(_read_finding(f, index) for index, f in
                       enumerate(wire.items(root.get("findings"), "findings"), start=1)),
        labels={wire.text(k, "labels"): wire.text(v, f"label of {k}") for k, v in labels.items()})


def parse(text: str) -> list[LedgerRecord]:
    """Every record of a ledger's text, in order. A last line without its newline is a run
    killed mid-write: skipped if it is not a whole record. Any other line that is not a
    record raises :class:`LedgerError` naming it (blank lines are allowed)."""
    records = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(_record(line))
        except WireError as exc:
            if number == len(lines):  # no newline after it: torn
                continue
            raise LedgerError(number, str(exc)) from None
    return records


# --- what the ledger tells ------------------------------------------------------------------


def opened_at(records: Sequence[LedgerRecord], key: FindingKey) -> dt.datetime | None:
    """The moment of the first run of the latest unbroken series of runs holding ``key``;
    None if the latest run that read its space (of the last record's endpoint) does not."""
    if not records:
        return None
    endpoint = records[-1].endpoint
    opened = None
    for record in reversed(records):
        if record.endpoint != endpoint or key[0] not in record.spaces:
            continue  # another account, or the run did not look: no news of this finding
        if not any(finding.key == key for finding in record.findings):
            break
        opened = record.moment
    return opened


def open_since(records: Sequence[LedgerRecord], key: FindingKey) -> dt.date | None:
    """The date :func:`opened_at` says, in UTC."""
    moment = opened_at(records, key)
    return None if moment is None else moment.astimezone(dt.UTC).date()


def opened(records: Sequence[LedgerRecord]) -> dict[FindingKey, dt.date]:
    """Since when each finding of the last record has been open."""
    if not records:
        return {}
    keys = {finding.key for finding in records[-1].findings}
    return {key: since for key in keys if (since := open_since(records, key)) is not None}


_DURATION = re.compile(r"([0-9]{1,9})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> dt.timedelta:
    """``30s``, ``15m``, ``12h``, ``7d``; ValueError otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 12h or 7d")
    return dt.timedelta(**{_UNITS[match[2]]: int(match[1])})


def overdue(plan: Plan, records: Sequence[LedgerRecord], now: dt.datetime,
            deadline: dt.timedelta) -> Plan:
    """``plan`` with every number pending for longer than ``deadline`` at ``now``, per
    ``records`` (which should end with this run's), turned into drift of its status: the
    allowed statuses expected, the pending status actual."""
    spaces = []
    for space in plan.spaces:
        late = [p for p in space.pending
                if (since := opened_at(records, p.key)) is not None and now - since > deadline]
        if not late:
            spaces.append(space)
            continue
        drift = [Drift(p.space_id, p.phone, "status", p.allowed or None, p.status, p.source)
                 for p in late]
        spaces.append(sort_findings(replace(
            space, pending=tuple(p for p in space.pending if p not in late),
            drift=(*space.drift, *drift))))
    return replace(plan, spaces=tuple(spaces))


def follow(plan: Plan, meta: PlanMeta, records: Sequence[LedgerRecord],
           deadline: dt.timedelta) -> tuple[Plan, PlanMeta, LedgerRecord]:
    """A run with a ledger: the plan with overdue pending numbers as drift, its meta with
    since when each finding is open, and the record to append. ``records`` are the ledger's
    so far; the run's moment is ``meta.created_at``."""
    now = _moment(meta.created_at)
    seen = [*records, record_of(plan, meta)]
    late = overdue(plan, seen, now, deadline)
    record = record_of(late, meta)
    history = [*records, record]
    return late, replace(meta, opened=opened(history)), record
