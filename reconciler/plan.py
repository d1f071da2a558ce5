"""The plan: what differs between the manifests and the account, and the one function that says so.

``build_plan(desired, live)`` is pure (no I/O, no clock, no randomness). It keys both sides by
space id and E.164 number and does set arithmetic, as a schema differ does: declared but not
live → :class:`AddNumber`; live but not declared → :class:`Unmanaged`; in both → compare fields
and report :class:`Drift`. Drift and unmanaged numbers are only ever reported: the only action a
plan can hold is an add. Renderers and apply read this value; nothing recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import IntFlag
from functools import cached_property

from deepdiff import DeepDiff

from reconciler.diagnostics import Location
from reconciler.live import Live, LiveSpace
from reconciler.manifest import Desired, DesiredNumber, DesiredSpace, normalise_name
from reconciler.phone import PhoneNumber

FieldValue = str | tuple[str, ...] | None
"""A compared value: text, a list of texts (statuses, websites), or None for "absent"."""


class Finding(IntFlag):
    """Exit-code bits of ``--detailed-exitcode`` and ``drift``; 0 means in sync."""

    ADD = 2
    DRIFT = 4
    UNMANAGED = 8


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


@dataclass(frozen=True)
class Unmanaged:
    """A live number of a declared space that no manifest declares. Reported, never touched."""

    space_id: str
    phone: str
    verified_name: str
    status: str


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

    @property
    def title(self) -> str:
        return f"space {self.id}" + (f" ({self.label})" if self.label else "")

    @property
    def has_findings(self) -> bool:
        """Whether there is anything to show for this space."""
        return bool(self.adds or self.drift or self.unmanaged or self.warnings)


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

    def findings(self) -> Finding:
        """The exit-code bits: one place that maps a plan to ``--detailed-exitcode``."""
        flags = Finding(0)
        if self.adds:
            flags |= Finding.ADD
        if self.drift:
            flags |= Finding.DRIFT
        if self.unmanaged:
            flags |= Finding.UNMANAGED
        return flags

    def summary(self) -> dict[str, int]:
        return {"add": len(self.adds), "drift": len(self.drift),
                "unmanaged": len(self.unmanaged), "unchanged": self.unchanged,
                "warnings": len(self.warnings)}


def sort_findings(space: PlannedSpace) -> PlannedSpace:
    """``space`` with its entries in the plan's order (see :class:`PlannedSpace`)."""
    return replace(
        space,
        adds=tuple(sorted(space.adds, key=lambda a: a.phone.e164)),
        drift=tuple(sorted(space.drift, key=lambda d: (d.phone or "", d.field))),
        unmanaged=tuple(sorted(space.unmanaged, key=lambda u: u.phone)),
        warnings=tuple(sorted(space.warnings, key=lambda w: (w.phone or "", w.message))))


def live_digest(space: LiveSpace) -> str:
    """``sha256:<hex>`` of everything read for ``space``, in a canonical order."""
    canonical = {
        "id": space.id,
        "numbers": [[n.phone.e164, n.verified_name, n.status, n.name_status, n.quality_rating]
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


def _number_drift(space: DesiredSpace, number: DesiredNumber, live: LiveSpace) -> list[Drift]:
    current = live.numbers[number.phone.e164]
    e164 = number.phone.e164
    found: list[Drift] = []
    live_name = normalise_name(current.verified_name)
    if live_name != number.verified_name:
        found.append(Drift(space.id, e164, "verified_name", number.verified_name,
                           current.verified_name, number.source))
    if current.status not in number.statuses:
        found.append(Drift(space.id, e164, "status", tuple(sorted(number.statuses)),
                           current.status, number.source))
    if number.profile is not None and e164 in live.profiles:
        expected = number.profile.declared()
        actual = live.profiles[e164].fields()
        found.extend(Drift(space.id, e164, f"profile.{name}", expected[name], actual[name],
                           number.source)
                     for name in changed_fields(expected, actual))
    return found


def _space_plan(space: DesiredSpace, live: LiveSpace, reads: SpaceReads) \
        -> tuple[PlannedSpace, int]:
    """The space's plan, and how many of its declared numbers are in sync."""
    adds: list[AddNumber] = []
    drift: list[Drift] = []
    warnings: list[PlanWarning] = []
    unchanged = 0
    for e164, number in space.numbers.items():
        if not number.phone.valid:
            # The number is the warning's subject (masked by renderers), never in its text.
            warnings.append(PlanWarning(space.id, e164, "possible but not a valid number for "
                                        "its country (libphonenumber)", number.source))
        if e164 not in live.numbers:
            adds.append(AddNumber(space.id, number.phone, number.verified_name, number.source))
            continue
        number_drift = _number_drift(space, number, live)
        drift.extend(number_drift)
        unchanged += not number_drift
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
        unmanaged=tuple(unmanaged), warnings=tuple(warnings))), unchanged


def build_plan(desired: Desired, live: Live, sync: bool = False) -> Plan:
    """Compare every declared space with its live state. Pure.

    ``live`` must hold every declared space (refresh fails otherwise); ``sync`` only records
    how the numbers were read, for a saved plan's staleness check.
    """
    planned = [_space_plan(space, live.spaces[space_id],
                           SpaceReads(sync=sync, waba=live.spaces[space_id].waba_read,
                                      profiles=tuple(sorted(live.spaces[space_id].profiles))))
               for space_id, space in sorted(desired.spaces.items())]
    return Plan(spaces=tuple(space for space, _ in planned),
                unchanged=sum(unchanged for _, unchanged in planned))
