"""Small builders of desired and live values for the pure plan and renderer tests (no I/O)."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

from reconciler.diagnostics import Location
from reconciler.live import Live, LiveNumber, LiveProfile, LiveSpace, LiveWaba
from reconciler.manifest import Desired, DesiredNumber, DesiredProfile, DesiredSpace, DesiredWaba
from reconciler.phone import from_live_digits, parse_phone
from reconciler.plan import Plan, build_plan
from reconciler.signals import Acknowledgement


def want(phone: str, name: str, statuses: tuple[str, ...] = ("CONNECTED",), line: int = 10,
         profile: DesiredProfile | None = None, quality: tuple[str, ...] | None = None,
         min_tier: str | None = None) -> DesiredNumber:
    return DesiredNumber(phone=parse_phone(phone), verified_name=name,
                         statuses=frozenset(statuses), source=Location("m.yaml", line, 9),
                         profile=profile,
                         quality_ratings=frozenset(quality) if quality is not None else None,
                         min_tier=min_tier)


def space(space_id: str, *numbers: DesiredNumber, label: str | None = None,
          waba: DesiredWaba | None = None, isv_code: str | None = None) -> DesiredSpace:
    return DesiredSpace(id=space_id, label=label, isv_code=isv_code, waba=waba,
                 source=Location("m.yaml", 3, 9),
                 numbers=MappingProxyType({n.phone.e164: n for n in numbers}))


def desired(*spaces: DesiredSpace,
            acknowledgements: tuple[Acknowledgement, ...] = ()) -> Desired:
    return Desired(spaces=MappingProxyType({s.id: s for s in spaces}), files=("m.yaml",),
                   acknowledgements=acknowledgements)


def have(digits: str, name: str, status: str = "CONNECTED", quality: str | None = "GREEN",
         tier: str | None = None) -> LiveNumber:
    return LiveNumber(phone=from_live_digits(digits), verified_name=name, status=status,
                      name_status="APPROVED", quality_rating=quality, messaging_limit_tier=tier)


def ack(space_id: str, phone: str | None, field: str, *, actual: str | None = None,
        until: dt.date = dt.date(2027, 11, 20), line: int = 30) -> Acknowledgement:
    return Acknowledgement(space_id=space_id, phone=parse_phone(phone).e164 if phone else None,
                           field=field, actual=actual, reason="Flagged by Meta on 2026-11-20, "
                           "appeal TKT-1234 open", owner="ops@acme.example", until=until,
                           source=Location("m.yaml", line, 5))


TODAY = dt.date(2026, 11, 26)
"""The date of the run in every pure test that has acknowledgements."""


def live_space(space_id: str, *numbers: LiveNumber, waba: LiveWaba | None = None,
               waba_read: bool = False,
               profiles: dict[str, LiveProfile] | None = None) -> LiveSpace:
    return LiveSpace(id=space_id, numbers=MappingProxyType({n.phone.e164: n for n in numbers}),
                     waba_read=waba_read, waba=waba,
                     profiles=MappingProxyType(profiles or {}))


def live(*spaces: LiveSpace) -> Live:
    return Live(spaces=MappingProxyType({s.id: s for s in spaces}))


APPROVED = LiveWaba(id="20393988393993", name="Acme", review_status="APPROVED")


def example_inputs() -> tuple[Desired, Live]:
    """The README example (examples/manifests against examples/live-state.yaml), by hand:
    plan it with ``today=TODAY``."""
    acme = space(
        "293483938849493",
        want("+86 138 0000 1234", "Acme Retail", line=18),
        want("+86 138 0000 5678", "Acme Retail", line=20),
        want("+86 138 0000 4321", "Acme Retail", line=22,
             profile=DesiredProfile(about="We sell things", email="hello@acme.example")),
        want("+86 138 0000 2468", "Acme Retail", line=27),
        label="acme-retail", waba=DesiredWaba(id="20393988393993", review_status="APPROVED"))
    quality = ("GREEN", "YELLOW")  # the Globex file's defaults
    globex = space(
        "120000000000001",
        want("+39 06 6988 1234", "Globex Italia", line=10, quality=quality, min_tier="TIER_1K"),
        want("+44 20 7946 0958", "Globex UK", ("CONNECTED", "FLAGGED"), line=12,
             profile=DesiredProfile(vertical="RETAIL", websites=("https://globex.example",)),
             quality=quality, min_tier="TIER_1K"),
        label="globex-eu", isv_code="aksik93kdkkxmwol9")
    current = live(
        live_space("293483938849493",
                   have("8613800005678", "ACME"),
                   have("8613800004321", "Acme Retail", "FLAGGED", quality="YELLOW"),
                   have("8613800009999", "Old Line"),
                   have("8613800002468", "Acme Retail", "PENDING", quality=None, tier=None),
                   waba=APPROVED, waba_read=True,
                   profiles={"+8613800004321": LiveProfile(about="We sell things",
                                                           email="hello@acme.example")}),
        live_space("120000000000001", have("442079460958", "Globex UK", tier="TIER_250"),
                   waba=LiveWaba(id="30500000000001", name="Globex EU",
                                 review_status="PENDING"), waba_read=True,
                   profiles={"+442079460958": LiveProfile(
                       vertical="RETAIL", websites=("https://globex.example",))}))
    acknowledged = ack("293483938849493", "+86 138 0000 4321", "status", actual="FLAGGED")
    return desired(acme, globex, acknowledgements=(acknowledged,)), current


def example_plan() -> Plan:
    """The README example's plan, on :data:`TODAY`."""
    return build_plan(*example_inputs(), today=TODAY)
