"""Plan rules for signals people act on (issue 14): pending numbers, health, acknowledgements.

Pure and table-driven: each case is a declared number, its live state, and acknowledgements
on a fixed date of the run; the plan's categories and exit bits are asserted exactly.
"""

from __future__ import annotations

import datetime as dt

import pytest
from planbuild import TODAY, ack, desired, have, live, live_space, space, want

from reconciler.plan import Finding, Plan, build_plan
from reconciler.signals import Acknowledgement

S = "293483938849493"
PHONE = "+86 138 0000 4321"
DIGITS = "8613800004321"
HEALTH = {"quality": ("GREEN", "YELLOW"), "min_tier": "TIER_1K"}


def plan_of(status: str = "CONNECTED", quality: str | None = "GREEN",
            tier: str | None = "TIER_1K", allowed: tuple[str, ...] = ("CONNECTED",),
            acks: tuple[Acknowledgement, ...] = (), health: bool = True,
            name: str = "Acme") -> Plan:
    number = want(PHONE, "Acme", allowed, quality=HEALTH["quality"] if health else None,
                  min_tier="TIER_1K" if health else None)
    current = have(DIGITS, name, status, quality=quality, tier=tier)
    return build_plan(desired(space(S, number), acknowledgements=acks),
                      live(live_space(S, current)), today=TODAY)


def kinds(plan: Plan) -> dict[str, object]:
    """What the plan found, by category, in a comparable form."""
    return {
        "drift": [(d.field, d.expected, d.actual) for d in plan.drift],
        "pending": [p.status for p in plan.pending],
        "acknowledged": [(a.field, a.until) for a in plan.acknowledged],
        "warnings": [w.message for w in plan.warnings],
        "notes": [n.message for n in plan.notes],
        "bits": int(plan.findings()),
    }


NOTHING: dict[str, object] = {"drift": [], "pending": [], "acknowledged": [], "warnings": [],
                              "notes": [], "bits": 0}

CANNOT_RATE = ("the service gave the quality rating BLUE, which camsctl does not know: cannot "
               "compare it with the expectation")
NO_TIER = "the service gave no messaging limit tier: cannot compare it with the expectation"
ODD_TIER = ("the service gave the messaging limit tier TIER_10, which camsctl does not know: "
            "cannot compare it with the expectation")

# Pending x health: a pending number is not drift and its health is not checked.
PENDING_HEALTH = {
    "connected, healthy": ({}, NOTHING),
    "pending, no rating yet": ({"status": "PENDING", "quality": None, "tier": None},
                               {**NOTHING, "pending": ["PENDING"], "bits": 16}),
    "unverified, lowest tier": ({"status": "UNVERIFIED", "quality": "UNKNOWN",
                                 "tier": "TIER_50"},
                                {**NOTHING, "pending": ["UNVERIFIED"], "bits": 16}),
    # Allowed, so in sync; still not rated by WhatsApp, so its health is not checked yet.
    "pending allowed by its statuses": ({"status": "PENDING", "allowed": ("CONNECTED",
                                                                          "PENDING"),
                                         "tier": "TIER_50"}, NOTHING),
    "pending with a wrong name": ({"status": "PENDING", "name": "ACME"},
                                  {**NOTHING, "drift": [("verified_name", "Acme", "ACME")],
                                   "pending": ["PENDING"], "bits": 4 | 16}),
    "red rating": ({"quality": "RED"}, {**NOTHING, "drift": [
        ("quality_rating", ("GREEN", "YELLOW"), "RED")], "bits": 4}),
    "tier below the minimum": ({"tier": "TIER_250"}, {**NOTHING, "drift": [
        ("messaging_limit_tier", "TIER_1K", "TIER_250")], "bits": 4}),
    "tier above the minimum": ({"tier": "TIER_UNLIMITED"}, NOTHING),
    "flagged and red": ({"status": "FLAGGED", "quality": "RED"}, {**NOTHING, "drift": [
        ("quality_rating", ("GREEN", "YELLOW"), "RED"),
        ("status", ("CONNECTED",), "FLAGGED")], "bits": 4}),
    "a rating camsctl does not know": ({"quality": "BLUE"},
                                       {**NOTHING, "warnings": [CANNOT_RATE]}),
    "no tier at all": ({"tier": None}, {**NOTHING, "warnings": [NO_TIER]}),
    "a tier camsctl does not know": ({"tier": "TIER_10"}, {**NOTHING, "warnings": [ODD_TIER]}),
    "no expectations: nothing checked": ({"quality": "RED", "tier": "TIER_50",
                                          "health": False}, NOTHING),
}


@pytest.mark.parametrize("case", PENDING_HEALTH)
def test_pending_and_health(case: str) -> None:
    arguments, expected = PENDING_HEALTH[case]
    assert kinds(plan_of(**arguments)) == expected  # type: ignore[arg-type]


FLAGGED = {"status": "FLAGGED"}
EXPIRED = dt.date(2026, 11, 25)
EXPIRED_WARNING = ("the acknowledgement of status by ops@acme.example expired on 2026-11-25: "
                   "the finding counts again")

ACKNOWLEDGEMENTS = {
    "in force": (FLAGGED, (ack(S, PHONE, "status"),),
                 {**NOTHING, "acknowledged": [("status", "2027-11-20")]}),
    "in force, for this value": (FLAGGED, (ack(S, PHONE, "status", actual="FLAGGED"),),
                                 {**NOTHING, "acknowledged": [("status", "2027-11-20")]}),
    "in force on its last day": (FLAGGED, (ack(S, PHONE, "status", until=TODAY),),
                                 {**NOTHING, "acknowledged": [("status", TODAY.isoformat())]}),
    "for the whole space": (FLAGGED, (ack(S, None, "status"),),
                            {**NOTHING, "acknowledged": [("status", "2027-11-20")]}),
    "expired": (FLAGGED, (ack(S, PHONE, "status", until=EXPIRED),),
                {**NOTHING, "drift": [("status", ("CONNECTED",), "FLAGGED")],
                 "warnings": [EXPIRED_WARNING], "bits": 4}),
    "another value than acknowledged": (
        {"status": "RESTRICTED"}, (ack(S, PHONE, "status", actual="FLAGGED"),),
        {**NOTHING, "drift": [("status", ("CONNECTED",), "RESTRICTED")],
         "notes": ["the acknowledgement of status by ops@acme.example matches nothing: "
                   "remove it"], "bits": 4}),
    "another field than acknowledged": (
        {"quality": "RED"}, (ack(S, PHONE, "status"),),
        {**NOTHING, "drift": [("quality_rating", ("GREEN", "YELLOW"), "RED")],
         "notes": ["the acknowledgement of status by ops@acme.example matches nothing: "
                   "remove it"], "bits": 4}),
    "nothing to acknowledge": ({}, (ack(S, PHONE, "status"),),
                               {**NOTHING, "notes": [
                                   "the acknowledgement of status by ops@acme.example matches "
                                   "nothing: remove it"]}),
    "a health finding": ({"tier": "TIER_250"}, (ack(S, PHONE, "messaging_limit_tier"),),
                         {**NOTHING, "acknowledged": [("messaging_limit_tier",
                                                       "2027-11-20")]}),
    "one of two findings": ({"status": "FLAGGED", "quality": "RED"},
                            (ack(S, PHONE, "quality_rating", actual="RED"),),
                            {**NOTHING, "drift": [("status", ("CONNECTED",), "FLAGGED")],
                             "acknowledged": [("quality_rating", "2027-11-20")], "bits": 4}),
    "pending is not acknowledged": ({"status": "PENDING"}, (ack(S, PHONE, "status"),),
                                    {**NOTHING, "pending": ["PENDING"], "notes": [
                                        "the acknowledgement of status by ops@acme.example "
                                        "matches nothing: remove it"], "bits": 16}),
}


@pytest.mark.parametrize("case", ACKNOWLEDGEMENTS)
def test_acknowledgements(case: str) -> None:
    arguments, acks, expected = ACKNOWLEDGEMENTS[case]
    assert kinds(plan_of(acks=acks, **arguments)) == expected  # type: ignore[arg-type]


STRAY = "+8613800009999"


@pytest.mark.parametrize(("acks", "acknowledged", "bits"), [
    ((), 0, Finding.UNMANAGED),
    ((ack(S, STRAY, "unmanaged"),), 1, 0),
    ((ack(S, None, "unmanaged"),), 1, 0),
    ((ack(S, STRAY, "unmanaged", until=EXPIRED),), 0, Finding.UNMANAGED),
])
def test_an_unmanaged_number_can_be_acknowledged(acks: tuple[Acknowledgement, ...],
                                                 acknowledged: int, bits: int) -> None:
    plan = build_plan(desired(space(S), acknowledgements=acks),
                      live(live_space(S, have(STRAY[1:], "Old Line"))), today=TODAY)
    assert len(plan.acknowledged) == acknowledged
    assert int(plan.findings()) == bits
    if acknowledged:
        assert plan.acknowledged[0].field == "unmanaged" and plan.unmanaged == ()


def test_acknowledgements_need_the_date_of_the_run() -> None:
    with pytest.raises(ValueError, match="date of the run"):
        build_plan(desired(space(S, want(PHONE, "Acme")),
                           acknowledgements=(ack(S, PHONE, "status"),)),
                   live(live_space(S, have(DIGITS, "Acme", "FLAGGED"))))


def test_only_acknowledged_findings_read_as_no_changes() -> None:
    from reconciler.views.wording import summary_line
    plan = plan_of(acks=(ack(S, PHONE, "status"),), status="FLAGGED")
    assert summary_line(plan) == "No changes. 1 acknowledged finding, nothing else differs."
