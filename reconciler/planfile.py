"""The plan's wire format: the JSON of ``plan --format json`` and of ``plan --out FILE``.

This module alone knows the encoding (published as ``schemas/plan.schema.json``). It writes
snake_case keys, string enums and sorted lists so that the same plan gives the same bytes, and it
reads back only format versions it knows. Internal types may change; this format changes only
with ``format_version``. A plan file holds no credentials.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, TypeVar

from reconciler import __version__
from reconciler import wirevalues as wire
from reconciler.api.operations import Operation
from reconciler.diagnostics import Location
from reconciler.phone import PhoneNumberError, parse_phone
from reconciler.plan import (
    Acknowledged,
    AddNumber,
    Drift,
    FindingKey,
    Pending,
    Plan,
    PlannedSpace,
    PlanWarning,
    SpaceReads,
    Unmanaged,
    sort_findings,
)
from reconciler.safefile import UnsafeFile, read_regular
from reconciler.scope import Scope
from reconciler.wirevalues import WireError

FORMAT_VERSION = "1.1"
"""1.1 added ``pending``, ``acknowledged``, ``notes`` (and their summary counts) and ``scope``;
a 1.0 file reads as a plan with none of them."""
_KNOWN_MAJOR = "1"


class PlanFileError(ValueError):
    """A plan file that cannot be used: unreadable, of an unknown version, or malformed."""


@dataclass(frozen=True)
class PlanMeta:
    """Where and when a plan was made; not part of the comparison."""

    created_at: str
    endpoint: str
    generated_by: str = f"camsctl {__version__}"
    scope: Scope | None = None
    """Set when the plan read only the spaces changed since a revision (``--changed-since``)."""
    opened: Mapping[FindingKey, dt.date] = field(default_factory=dict)
    """With ``--ledger``: since when each finding has been open, by its key, for the views to
    say. Not written to the plan JSON (the ledger holds the history)."""


def _source(location: Location | None) -> str | None:
    return location.short if location is not None else None


def to_wire(plan: Plan, meta: PlanMeta) -> dict[str, object]:
    """The plan as plain JSON values, in the published format."""
    return {
        "format_version": FORMAT_VERSION,
        "generated_by": meta.generated_by,
        "created_at": meta.created_at,
        "endpoint": meta.endpoint,
        "scope": None if meta.scope is None else {
            "changed_since": meta.scope.changed_since, "declared": meta.scope.declared,
            "read": list(meta.scope.read)},
        "summary": plan.summary(),
        "spaces": [{"id": s.id, "label": s.label, "isv_code": s.isv_code,
                    "live_digest": s.live_digest,
                    "reads": {"numbers": Operation.SYNC_PHONE_NUMBERS.value if s.reads.sync
                              else Operation.LIST_PHONE_NUMBERS.value,
                              "waba": s.reads.waba, "profiles": list(s.reads.profiles)}}
                   for s in plan.spaces],
        "changes": [{"action": "add", "space": a.space_id, "phone": a.phone.e164,
                     "request": a.request(), "source": _source(a.source)} for a in plan.adds],
        "drift": [{"space": d.space_id, "phone": d.phone, "field": d.field,
                   "expected": wire.field_to_wire(d.expected),
                   "actual": wire.field_to_wire(d.actual),
                   "source": _source(d.source)} for d in plan.drift],
        "unmanaged": [{"space": u.space_id, "phone": u.phone, "verified_name": u.verified_name,
                       "status": u.status} for u in plan.unmanaged],
        "warnings": [_message(w) for w in plan.warnings],
        "pending": [{"space": p.space_id, "phone": p.phone, "status": p.status,
                     "source": _source(p.source)} for p in plan.pending],
        "acknowledged": [{**_acknowledged_finding(a.finding), "reason": a.reason,
                          "owner": a.owner, "until": a.until, "source": _source(a.source)}
                         for a in plan.acknowledged],
        "notes": [_message(n) for n in plan.notes],
    }


def _message(item: PlanWarning) -> dict[str, object]:
    return {"space": item.space_id, "phone": item.phone, "message": item.message,
            "source": _source(item.source)}


def _acknowledged_finding(finding: Drift | Unmanaged) -> dict[str, object]:
    """The covered finding's own keys, as in ``drift`` or ``unmanaged``, with its field."""
    if isinstance(finding, Unmanaged):
        return {"space": finding.space_id, "phone": finding.phone, "field": "unmanaged",
                "verified_name": finding.verified_name, "status": finding.status}
    return {"space": finding.space_id, "phone": finding.phone, "field": finding.field,
            "expected": wire.field_to_wire(finding.expected),
            "actual": wire.field_to_wire(finding.actual),
            "finding_source": _source(finding.source)}


def dumps(plan: Plan, meta: PlanMeta) -> str:
    """The plan as JSON text: stable key order and indentation, one trailing newline."""
    return json.dumps(to_wire(plan, meta), indent=2, ensure_ascii=False) + "\n"


# --- reading -------------------------------------------------------------------------------


def _location(value: object) -> Location | None:
    if not isinstance(value, str):
        return None
    file, _, line = value.rpartition(":")
    return Location(file, int(line)) if file and line.isascii() and line.isdigit() \
        else Location(value)


MAX_PLAN_BYTES = 64 * 1024 * 1024
"""The largest plan file read: 100,000 adds take about 40 MB."""


def read(path: Path) -> tuple[Plan, PlanMeta]:
    """Read a plan file: a regular file (never a FIFO or a device) of at most 64 MiB."""
    try:
        data = read_regular(path, "the plan file", MAX_PLAN_BYTES)
    except UnsafeFile as exc:
        raise PlanFileError(f"{exc}; give the file `plan --out` wrote") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"not UTF-8 text (byte {exc.start})") from None
    return loads(text)


class _OfSpace(Protocol):
    @property
    def space_id(self) -> str: ...


_E = TypeVar("_E", bound=_OfSpace)


def _by_space(entries: Sequence[_E]) -> defaultdict[str, list[_E]]:
    grouped: defaultdict[str, list[_E]] = defaultdict(list)
    for entry in entries:
        grouped[entry.space_id].append(entry)
    return grouped


def _drift(d: Mapping[str, object], source_key: str) -> Drift:
    return Drift(space_id=wire.text(d.get("space"), "drift space"),
                 phone=wire.opt_text(d.get("phone"), "drift phone"),
                 field=wire.text(d.get("field"), "drift field"),
                 expected=wire.field_value(d.get("expected"), "drift expected"),
                 actual=wire.field_value(d.get("actual"), "drift actual"),
                 source=_location(d.get(source_key)) or Location("?"))


def _unmanaged(u: Mapping[str, object]) -> Unmanaged:
    return Unmanaged(space_id=wire.text(u.get("space"), "space"),
                     phone=wire.text(u.get("phone"), "phone"),
                     verified_name=wire.text(u.get("verified_name"), "verified_name"),
                     status=wire.text(u.get("status"), "status"))


def _scope(value: object) -> Scope | None:
    if value is None:
        return None
    scope = wire.obj(value, "scope")
    return Scope(changed_since=wire.text(scope.get("changed_since"), "scope.changed_since"),
                 declared=wire.count(scope.get("declared"), "scope.declared"),
                 read=tuple(wire.text(s, "scope.read") for s in wire.items(scope.get("read"),
                                                                 "scope.read")))


def _read_message(value: object, what: str) -> PlanWarning:
    item = wire.obj(value, what)
    return PlanWarning(space_id=wire.text(item.get("space"), "space"),
                       phone=wire.opt_text(item.get("phone"), "phone"),
                       message=wire.text(item.get("message"), "message"),
                       source=_location(item.get("source")))


def _read_acknowledged(item: Mapping[str, object]) -> Acknowledged:
    finding = _unmanaged(item) if item.get("field") == "unmanaged" \
        else _drift(item, "finding_source")
    return Acknowledged(finding=finding, reason=wire.text(item.get("reason"), "reason"),
                        owner=wire.text(item.get("owner"), "owner"),
                        until=wire.text(item.get("until"), "until"),
                        source=_location(item.get("source")) or Location("?"))


def loads(text: str) -> tuple[Plan, PlanMeta]:
    """Read a plan file written by :func:`dumps`. Raises :class:`PlanFileError`."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"not a JSON plan file: {exc.msg} at line {exc.lineno}") from None
    except (ValueError, RecursionError):  # a number too long to read, nesting too deep
        raise PlanFileError("not a plan camsctl wrote (a number or nesting beyond bounds)") \
            from None
    try:
        return _from_wire(raw)
    except WireError as exc:
        raise PlanFileError(str(exc)) from None


def _from_wire(raw: object) -> tuple[Plan, PlanMeta]:
    root = wire.obj(raw, "the plan")
    version = root.get("format_version")
    if not isinstance(version, str) or version.split(".")[0] != _KNOWN_MAJOR:
        raise PlanFileError(f"unknown plan format_version {version!r}: this camsctl reads "
                            f"{FORMAT_VERSION}; make the plan again with this version")
    try:
        spaces = []
        for item in wire.items(root.get("spaces"), "spaces"):
            space = wire.obj(item, "a space")
            reads = wire.obj(space.get("reads"), "a space's reads")
            spaces.append(PlannedSpace(
                id=wire.text(space.get("id"), "space id"),
                label=wire.opt_text(space.get("label"), "space label"),
                isv_code=wire.opt_text(space.get("isv_code"), "space isv_code"),
                live_digest=wire.text(space.get("live_digest"), "live_digest"),
                reads=SpaceReads(
                    sync=reads.get("numbers") == Operation.SYNC_PHONE_NUMBERS,
                    waba=reads.get("waba") is True,
                    profiles=tuple(wire.text(p, "profile phone")
                                   for p in wire.items(reads.get("profiles", []), "profiles")))))
        adds: list[AddNumber] = []
        for item in wire.items(root.get("changes"), "changes"):
            change = wire.obj(item, "a change")
            if change.get("action") != "add":
                raise PlanFileError(f"unknown change action {change.get('action')!r}")
            request = wire.obj(change.get("request"), "a change's request")
            add = AddNumber(
                space_id=wire.text(request.get("CustSpaceId"), "CustSpaceId"),
                phone=parse_phone(wire.text(change.get("phone"), "phone")),
                verified_name=wire.text(request.get("VerifiedName"), "VerifiedName"),
                source=_location(change.get("source")) or Location("?"))
            # Apply sends add.request(): the file's request must be exactly that, or what
            # a reviewer read would not be what is sent.
            if dict(request) != add.request() or change.get("space") != add.space_id:
                raise PlanFileError(f"change {len(adds) + 1}: its request does not match its "
                                    "space and phone")
            adds.append(add)
        drift = [_drift(wire.obj(x, "a drift"), "source") for x in wire.items(root.get("drift"),
                                                                     "drift")]
        unmanaged = [_unmanaged(u) for u in (wire.obj(x, "an unmanaged number")
                                             for x in wire.items(root.get("unmanaged"),
                                                            "unmanaged"))]
        warnings = [_read_message(x, "a warning") for x in wire.items(root.get("warnings"),
                                                                 "warnings")]
        # Added in 1.1: absent from a 1.0 file.
        pending = [Pending(space_id=wire.text(p.get("space"), "space"),
                           phone=wire.text(p.get("phone"), "phone"),
                           status=wire.text(p.get("status"), "status"),
                           source=_location(p.get("source")) or Location("?"))
                   for p in (wire.obj(x, "a pending number")
                             for x in wire.items(root.get("pending", []), "pending"))]
        acknowledged = [_read_acknowledged(wire.obj(x, "an acknowledged finding"))
                        for x in wire.items(root.get("acknowledged", []), "acknowledged")]
        notes = [_read_message(x, "a note") for x in wire.items(root.get("notes", []), "notes")]
        summary = wire.obj(root.get("summary"), "summary")
        unchanged = summary.get("unchanged")
        meta = PlanMeta(created_at=wire.text(root.get("created_at"), "created_at"),
                        endpoint=wire.text(root.get("endpoint"), "endpoint"),
                        generated_by=wire.text(root.get("generated_by"), "generated_by"),
                        scope=_scope(root.get("scope")))
    except PhoneNumberError as exc:
        raise PlanFileError(f"a change holds a bad phone number: {exc}") from None
    adds_by, drift_by = _by_space(adds), _by_space(drift)
    unmanaged_by, warnings_by = _by_space(unmanaged), _by_space(warnings)
    pending_by, acknowledged_by = _by_space(pending), _by_space(acknowledged)
    notes_by = _by_space(notes)
    stray = sorted({*adds_by, *drift_by, *unmanaged_by, *warnings_by, *pending_by,
                    *acknowledged_by, *notes_by} - {s.id for s in spaces})
    if stray:
        raise PlanFileError(f"changes name spaces the plan did not read: {', '.join(stray)}")
    grouped = [sort_findings(replace(
        space, adds=tuple(adds_by[space.id]), drift=tuple(drift_by[space.id]),
        unmanaged=tuple(unmanaged_by[space.id]), warnings=tuple(warnings_by[space.id]),
        pending=tuple(pending_by[space.id]), acknowledged=tuple(acknowledged_by[space.id]),
        notes=tuple(notes_by[space.id])))
        for space in spaces]
    plan = Plan(spaces=tuple(sorted(grouped, key=lambda s: s.id)),
                unchanged=unchanged if isinstance(unchanged, int) else 0)
    return plan, meta
