"""The plan: what differs between the manifests and the account, and the one function that says so.

``build_plan(desired, live)`` is pure (no I/O, no clock, no randomness). It keys both sides by
space id and E.164 number and does set arithmetic, as a schema differ does: declared but not
live → :class:`AddNumber`; live but not declared → :class:`Unmanaged`; in both → compare fields
and report :class:`Drift`. Drift and unmanaged numbers are only ever reported: the only action a
plan can hold is an add. Renderers and apply read this value; nothing recomputes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntFlag
from functools import cached_property

from deepdiff import DeepDiff

from reconciler.diagnostics import Location
from reconciler.live import Live, LiveNumber, LiveSpace
from reconciler.manifest import Desired, DesiredNumber, DesiredSpace, normalise_name
from reconciler.phone import PhoneNumber
from reconciler.signals import (
    PENDING_STATUSES,
    QUALITY_RATINGS,
    Acknowledgement,
    tier_below,
)

FieldValue = str | tuple[str, ...] | None
"""A compared value: text, a list of texts (statuses, websites), or None for "absent"."""

FindingKey = tuple[str, str | None, str]
"""What a finding is about, across runs: (space id, E.164 number or None, field). The ledger
follows findings by this key (see :mod:`reconciler.ledger`)."""


class Finding(IntFlag):
    """Exit-code bits of ``--detailed-exitcode`` and ``drift``; 0 means in sync."""

    ADD = 2
    DRIFT = 4
    UNMANAGED = 8
    PENDING = 16


@dataclass(frozen=True)
class AddNumber:
    """A declared number missing from its space: exactly one AddChatappPhoneNumber call."""

    space_id: str
    phone: PhoneNumber
    verified_name: str
    source: Location

    def request(self) -> dict[str, str]:
        """The call's parameters, by their API names."""
        return {"CustSpaceId": self.space_id, "Cc": self.phone.country_code,
                "PhoneNumber": self.phone.national_number, "VerifiedName": self.verified_name}


@dataclass(frozen=True)
class Drift:
    """A declared field whose live value differs. Reported, never changed.

    ``phone`` is the E.164 number, or None for a field of the space's WABA. ``field`` is
    ``verified_name``, ``status``, ``profile.<name>`` or ``waba.<name>``. ``expected`` for a
    status is the allowed set; ``actual`` None means the live side has no value at all.
    """

    space_id: str
    phone: str | None
    field: str
    expected: FieldValue
    actual: FieldValue
    source: Location

    @property
    def key(self) -> FindingKey:
        return (self.space_id, self.phone, self.field)


@dataclass(frozen=True)
class Unmanaged:
    """A live number of a declared space that no manifest declares. Reported, never touched."""

    space_id: str
    phone: str
    verified_name: str
    status: str

    @property
    def key(self) -> FindingKey:
        return (self.space_id, self.phone, "unmanaged")


@dataclass(frozen=True)
class Pending:
    """A declared number WhatsApp is still verifying: live ``PENDING`` or ``UNVERIFIED``, which
    its allowed statuses do not include. Not drift: what every number is right after an add."""

    space_id: str
    phone: str
    status: str
    source: Location
    allowed: tuple[str, ...] = ()
    """The statuses the manifest allows, sorted: what a pending number overdue is expected to
    have (see ``--pending-deadline``). Not in the plan JSON: a saved plan reads it as ()."""

    @property
    def key(self) -> FindingKey:
        return (self.space_id, self.phone, "status")


@dataclass(frozen=True)
class Acknowledged:
    """A finding that an acknowledgement in force covers: shown, with why and until when, and
    counted in no exit bit. ``source`` is where the acknowledgement is written."""

    finding: Drift | Unmanaged
    reason: str
    owner: str
    until: str
    """The acknowledgement's last day, ``YYYY-MM-DD``."""
    source: Location

    @property
    def space_id(self) -> str:
        return self.finding.space_id

    @property
    def phone(self) -> str | None:
        return self.finding.phone

    @property
    def field(self) -> str:
        return self.finding.field if isinstance(self.finding, Drift) else "unmanaged"

    @property
    def key(self) -> FindingKey:
        return self.finding.key


@dataclass(frozen=True)
class PlanWarning:
    """Something a reviewer should know that is not a change, e.g. an add that may be rejected."""

    space_id: str
    phone: str | None
    message: str
    source: Location | None


@dataclass(frozen=True)
class SpaceReads:
    """Which calls refresh made for a space, so a saved plan can be checked by the same reads."""

    sync: bool
    waba: bool
    profiles: tuple[str, ...]
    """E.164 numbers whose business profile was read."""


@dataclass(frozen=True)
class PlannedSpace:
    """A declared space as the plan saw it, with everything the plan found in it.

    ``live_digest`` hashes everything read for the space (a saved plan is stale when it
    changes). Each tuple is sorted by phone (then field or message); the WABA's drift has no
    phone and comes first.
    """

    id: str
    label: str | None
    isv_code: str | None
    live_digest: str
    reads: SpaceReads
    adds: tuple[AddNumber, ...] = ()
    drift: tuple[Drift, ...] = ()
    unmanaged: tuple[Unmanaged, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    pending: tuple[Pending, ...] = ()
    acknowledged: tuple[Acknowledged, ...] = ()
    notes: tuple[PlanWarning, ...] = ()
    """Things to tidy that change nothing, such as an acknowledgement that matches nothing."""

    @property
    def title(self) -> str:
        return f"space {self.id}" + (f" ({self.label})" if self.label else "")

    @property
    def has_findings(self) -> bool:
        """Whether there is anything to show for this space."""
        return bool(self.adds or self.drift or self.unmanaged or self.warnings or self.pending
                    or self.acknowledged or self.notes)


@dataclass(frozen=True)
class Plan:
    """The difference between desired and live, grouped by space (sorted by id).

    Each space owns its adds, drift, unmanaged numbers and warnings; the flat tuples below
    are derived from them, in space order, for readers that want every entry of one kind.
    ``unchanged`` counts the declared numbers in sync.
    """

    spaces: tuple[PlannedSpace, ...]
    unchanged: int = 0

    @cached_property
    def adds(self) -> tuple[AddNumber, ...]:
        return tuple(add for space in self.spaces for add in space.adds)

    @cached_property
    def drift(self) -> tuple[Drift, ...]:
        return tuple(drift for space in self.spaces for drift in space.drift)

    @cached_property
    def unmanaged(self) -> tuple[Unmanaged, ...]:
        return tuple(item for space in self.spaces for item in space.unmanaged)

    @cached_property
    def warnings(self) -> tuple[PlanWarning, ...]:
        return tuple(warning for space in self.spaces for warning in space.warnings)

    @cached_property
    def pending(self) -> tuple[Pending, ...]:
        return tuple(item for space in self.spaces for item in space.pending)

    @cached_property
    def acknowledged(self) -> tuple[Acknowledged, ...]:
        return tuple(item for space in self.spaces for item in space.acknowledged)

    @cached_property
    def notes(self) -> tuple[PlanWarning, ...]:
        return tuple(note for space in self.spaces for note in space.notes)

    def findings(self) -> Finding:
        """The exit-code bits: one place that maps a plan to ``--detailed-exitcode``.
        Acknowledged findings, warnings and notes set none."""
        flags = Finding(0)
        if self.adds:
            flags |= Finding.ADD
        if self.drift:
            flags |= Finding.DRIFT
        if self.unmanaged:
            flags |= Finding.UNMANAGED
        if self.pending:
            flags |= Finding.PENDING
        return flags

    def summary(self) -> dict[str, int]:
        return {"add": len(self.adds), "drift": len(self.drift),
                "unmanaged": len(self.unmanaged), "pending": len(self.pending),
                "acknowledged": len(self.acknowledged), "unchanged": self.unchanged,
                "warnings": len(self.warnings)}


def sort_findings(space: PlannedSpace) -> PlannedSpace:
    """``space`` with its entries in the plan's order (see :class:`PlannedSpace`)."""
    return replace(
        space,
        adds=tuple(sorted(space.adds, key=lambda a: a.phone.e164)),
        drift=tuple(sorted(space.drift, key=lambda d: (d.phone or "", d.field))),
        unmanaged=tuple(sorted(space.unmanaged, key=lambda u: u.phone)),
        warnings=tuple(sorted(space.warnings, key=lambda w: (w.phone or "", w.message))),
        pending=tuple(sorted(space.pending, key=lambda p: p.phone)),
        acknowledged=tuple(sorted(space.acknowledged, key=lambda a: (a.phone or "", a.field))),
        notes=tuple(sorted(space.notes, key=lambda n: (n.phone or "", n.message))))


def live_digest(space: LiveSpace) -> str:
    """``sha256:<hex>`` of everything read for ``space``, in a canonical order."""
    canonical = {
        "id": space.id,
        "numbers": [[n.phone.e164, n.verified_name, n.status, n.name_status, n.quality_rating,
                     n.messaging_limit_tier]
                    for _, n in sorted(space.numbers.items())],
        "waba": None if not space.waba_read else
        (space.waba.fields() if space.waba is not None else "none"),
        "profiles": {e164: {k: list(v) if isinstance(v, tuple) else v
                            for k, v in p.fields().items()}
                     for e164, p in sorted(space.profiles.items())},
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _comparable(value: FieldValue) -> FieldValue:
    """Text is compared NFC-normalised and trimmed; empty counts as absent."""
    if isinstance(value, tuple):
        return tuple(normalise_name(v) for v in value)
    if value is None:
        return None
    text = normalise_name(value)
    return text or None


def changed_fields(expected: Mapping[str, FieldValue],
                   actual: Mapping[str, FieldValue]) -> list[str]:
    """The declared fields whose live value differs, in declaration order.

    deepdiff compares the two structures (lists in order, strings exactly after normalisation)
    and names the top-level keys it found changed.
    """
    wanted = {name: _comparable(value) for name, value in expected.items()}
    seen = {name: _comparable(actual.get(name)) for name in expected}
    diff = DeepDiff(wanted, seen, ignore_order=False)
    changed = {str(key) for key in diff.affected_root_keys}
    return [name for name in expected if name in changed]


@dataclass
class _Found:
    """What the rules found in one space, before acknowledgements are applied."""

    drift: list[Drift] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    warnings: list[PlanWarning] = field(default_factory=list)


def _health(space_id: str, number: DesiredNumber, current: LiveNumber, found: _Found) -> None:
    """Quality rating and messaging limit tier against the number's expectations."""
    e164 = number.phone.e164
    if number.quality_ratings is not None:
        rating = current.quality_rating
        if rating in number.quality_ratings:
            pass  # allowed, even a rating the documentation does not list but the manifest does
        elif rating not in QUALITY_RATINGS:
            found.warnings.append(PlanWarning(space_id, e164, _cannot_compare(
                "quality rating", rating), number.source))
        else:
            allowed = tuple(r for r in QUALITY_RATINGS if r in number.quality_ratings)
            found.drift.append(Drift(space_id, e164, "quality_rating", allowed, rating,
                                     number.source))
    if number.min_tier is not None:
        tier = current.messaging_limit_tier
        below = tier_below(tier, number.min_tier) if tier is not None else None
        if below is None:
            found.warnings.append(PlanWarning(space_id, e164, _cannot_compare(
                "messaging limit tier", tier), number.source))
        elif below:
            found.drift.append(Drift(space_id, e164, "messaging_limit_tier", number.min_tier,
                                     tier, number.source))


def _cannot_compare(what: str, value: str | None) -> str:
    if value is None:
        return f"the service gave no {what}: cannot compare it with the expectation"
    return f"the service gave the {what} {value}, which camsctl does not know: cannot " \
        "compare it with the expectation"


def _number_findings(space: DesiredSpace, number: DesiredNumber, live: LiveSpace,
                     found: _Found) -> bool:
    """Compare one declared, live number; whether it is in sync."""
    current = live.numbers[number.phone.e164]
    e164 = number.phone.e164
    before = (len(found.drift), len(found.pending))
    live_name = normalise_name(current.verified_name)
    if live_name != number.verified_name:
        found.drift.append(Drift(space.id, e164, "verified_name", number.verified_name,
                                 current.verified_name, number.source))
    if current.status not in number.statuses:
        if current.status in PENDING_STATUSES:
            found.pending.append(Pending(space.id, e164, current.status, number.source,
                                         tuple(sorted(number.statuses))))
        else:
            found.drift.append(Drift(space.id, e164, "status", tuple(sorted(number.statuses)),
                                     current.status, number.source))
    if current.status not in PENDING_STATUSES:  # no rating, lowest tier: nothing to check yet
        _health(space.id, number, current, found)
    if number.profile is not None and e164 in live.profiles:
        expected = number.profile.declared()
        actual = live.profiles[e164].fields()
        found.drift.extend(Drift(space.id, e164, f"profile.{name}", expected[name],
                                 actual[name], number.source)
                           for name in changed_fields(expected, actual))
    return (len(found.drift), len(found.pending)) == before


def _as_text(value: FieldValue) -> str | None:
    """A finding's live value as an acknowledgement's ``actual`` names it."""
    return ", ".join(value) if isinstance(value, tuple) else value


def _acknowledge(space: PlannedSpace, acknowledgements: Sequence[Acknowledgement],
                 today: dt.date | None) -> PlannedSpace:
    """Move the findings an acknowledgement in force covers to ``acknowledged``; warn of
    expired acknowledgements that still cover a finding; note those that cover none."""
    if not acknowledgements:
        return space
    if today is None:
        raise ValueError("acknowledgements need the date of the run")
    covered: set[Acknowledgement] = set()
    acknowledged: list[Acknowledged] = []

    def keep(finding: Drift | Unmanaged) -> bool:
        field_name = finding.field if isinstance(finding, Drift) else "unmanaged"
        actual = _as_text(finding.actual) if isinstance(finding, Drift) else None
        for ack in acknowledgements:
            if ack.covers(finding.space_id, finding.phone, field_name, actual):
                covered.add(ack)
                if ack.in_force(today):
                    acknowledged.append(Acknowledged(finding, ack.reason, ack.owner,
                                                     ack.until.isoformat(), ack.source))
                    return False
        return True

    drift = tuple(d for d in space.drift if keep(d))
    unmanaged = tuple(u for u in space.unmanaged if keep(u))
    warnings = list(space.warnings)
    notes = list(space.notes)
    for ack in acknowledgements:
        if ack not in covered:
            notes.append(PlanWarning(space.id, ack.phone, f"the acknowledgement of {ack.field} "
                                     f"by {ack.owner} matches nothing: remove it", ack.source))
        elif not ack.in_force(today):
            warnings.append(PlanWarning(space.id, ack.phone, f"the acknowledgement of "
                                        f"{ack.field} by {ack.owner} expired on "
                                        f"{ack.until.isoformat()}: the finding counts again",
                                        ack.source))
    return sort_findings(replace(space, drift=drift, unmanaged=unmanaged,
                                 acknowledged=tuple(acknowledged), warnings=tuple(warnings),
                                 notes=tuple(notes)))


def _space_plan(space: DesiredSpace, live: LiveSpace, reads: SpaceReads) \
        -> tuple[PlannedSpace, int]:
    """The space's plan, and how many of its declared numbers are in sync."""
    adds: list[AddNumber] = []
    found = _Found()
    drift, warnings = found.drift, found.warnings
    unchanged = 0
    for e164, number in space.numbers.items():
        if not number.phone.valid:
            # The number is the warning's subject (masked by renderers), never in its text.
            warnings.append(PlanWarning(space.id, e164, "possible but not a valid number for "
                                        "its country (libphonenumber)", number.source))
        if e164 not in live.numbers:
            adds.append(AddNumber(space.id, number.phone, number.verified_name, number.source))
            continue
        unchanged += _number_findings(space, number, live, found)
    unmanaged = [Unmanaged(space.id, e164, n.verified_name, n.status)
                 for e164, n in live.numbers.items() if e164 not in space.numbers]
    if space.waba is not None and live.waba_read:
        expected = space.waba.declared()
        actual = live.waba.fields() if live.waba is not None else {}
        drift.extend(Drift(space.id, None, f"waba.{name}", expected[name], actual.get(name),
                           space.source)
                     for name in changed_fields(expected, actual))
    if adds and live.waba_read:
        count = f"{len(adds)} number{'s' if len(adds) != 1 else ''}"
        if live.waba is None:
            warnings.append(PlanWarning(space.id, None, f"no WhatsApp Business Account is "
                                        f"bound to this space: adding {count} may be "
                                        "rejected", space.source))
        elif live.waba.review_status != "APPROVED":
            warnings.append(PlanWarning(space.id, None, f"the space's WhatsApp Business "
                                        f"Account is {live.waba.review_status or 'unreviewed'}"
                                        f", not APPROVED: adding {count} may be rejected",
                                        space.source))
    return sort_findings(PlannedSpace(
        id=space.id, label=space.label, isv_code=space.isv_code,
        live_digest=live_digest(live), reads=reads, adds=tuple(adds), drift=tuple(drift),
        unmanaged=tuple(unmanaged), warnings=tuple(warnings),
        pending=tuple(found.pending))), unchanged


def build_plan(desired: Desired, live: Live, sync: bool = False,
               today: dt.date | None = None) -> Plan:
    """Compare every declared space with its live state. Pure.

    ``live`` must hold every declared space (refresh fails otherwise); ``sync`` only records
    how the numbers were read, for a saved plan's staleness check. ``today``, the date of the
    run, decides which acknowledgements are in force; it is required when there are any.
    """
    by_space: dict[str, list[Acknowledgement]] = {}
    for ack in desired.acknowledgements:
        by_space.setdefault(ack.space_id, []).append(ack)
    planned = []
    for space_id, space in sorted(desired.spaces.items()):
        current = live.spaces[space_id]
        reads = SpaceReads(sync=sync, waba=current.waba_read,
                           profiles=tuple(sorted(current.profiles)))
        planned_space, unchanged = _space_plan(space, current, reads)
        planned.append((_acknowledge(planned_space, by_space.get(space_id, ()), today),
                        unchanged))
    return Plan(spaces=tuple(space for space, _ in planned),
                unchanged=sum(unchanged for _, unchanged in planned))
