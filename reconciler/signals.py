"""What makes a finding worth acting on: pending numbers, health expectations, acknowledgements.

Pure vocabulary shared by the manifest (which declares expectations and acknowledgements) and
the plan rules (which apply them): no I/O, no clock. The date of the run is always passed in.

* A number whose live status is one WhatsApp gives while it verifies (:data:`PENDING_STATUSES`)
  and that its allowed statuses do not include is *pending*, not drift.
* Health: the allowed quality ratings, and the minimum messaging limit tier in
  :data:`TIER_ORDER`. A live value camsctl does not know cannot be compared: a warning.
* An :class:`Acknowledgement` turns matching findings into *acknowledged* ones until its date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reconciler.diagnostics import Location

PENDING_STATUSES = frozenset({"PENDING", "UNVERIFIED"})
"""Statuses of a number WhatsApp is still verifying: what every number is right after an add."""

QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN")
"""The documented QualityRating values."""

TIER_ORDER = ("TIER_50", "TIER_250", "TIER_1K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED")
"""The documented MessagingLimitTier values, lowest first."""

ACK_FIELDS = ("verified_name", "status", "quality_rating", "messaging_limit_tier", "unmanaged")
"""Fields an acknowledgement may name, besides ``profile.<name>`` and ``waba.<name>``."""

MAX_ACK_DAYS = 366
"""An acknowledgement ends at most this many days after the run that reads it."""


def tier_below(live: str, minimum: str) -> bool | None:
    """Whether the live tier is below ``minimum``; None when either is not a known tier."""
    if live not in TIER_ORDER or minimum not in TIER_ORDER:
        return None
    return TIER_ORDER.index(live) < TIER_ORDER.index(minimum)


@dataclass(frozen=True)
class Acknowledgement:
    """Known drift (or an unmanaged number), accepted until a date, with a reason and an owner.

    ``phone`` (E.164) None covers every number of the space (and the space's WABA fields);
    ``actual`` None covers any live value, otherwise only that one.
    """

    space_id: str
    phone: str | None
    field: str
    actual: str | None
    reason: str
    owner: str
    until: dt.date
    source: Location

    def in_force(self, today: dt.date) -> bool:
        return today <= self.until

    def covers(self, space_id: str, phone: str | None, field: str, actual: str | None) -> bool:
        """Whether this acknowledgement is about that finding (whatever its date)."""
        return (self.space_id == space_id and self.field == field
                and (self.phone is None or self.phone == phone)
                and (self.actual is None or self.actual == actual))
