"""Small builders of desired and live values for the pure plan and renderer tests (no I/O)."""

from __future__ import annotations

from types import MappingProxyType

from reconciler.diagnostics import Location
from reconciler.live import Live, LiveNumber, LiveProfile, LiveSpace, LiveWaba
from reconciler.manifest import Desired, DesiredNumber, DesiredProfile, DesiredSpace, DesiredWaba
from reconciler.phone import from_live_digits, parse_phone


def want(phone: str, name: str, statuses: tuple[str, ...] = ("CONNECTED",), line: int = 10,
         profile: DesiredProfile | None = None) -> DesiredNumber:
    return DesiredNumber(phone=parse_phone(phone), verified_name=name,
                         statuses=frozenset(statuses), source=Location("m.yaml", line, 9),
                         profile=profile)


def space(space_id: str, *numbers: DesiredNumber, label: str | None = None,
          waba: DesiredWaba | None = None, isv_code: str | None = None) -> DesiredSpace:
    return DesiredSpace(id=space_id, label=label, isv_code=isv_code, waba=waba,
                 source=Location("m.yaml", 3, 9),
                 numbers=MappingProxyType({n.phone.e164: n for n in numbers}))


def desired(*spaces: DesiredSpace) -> Desired:
    return Desired(spaces=MappingProxyType({s.id: s for s in spaces}), files=("m.yaml",))


def have(digits: str, name: str, status: str = "CONNECTED") -> LiveNumber:
    return LiveNumber(phone=from_live_digits(digits), verified_name=name, status=status,
                      name_status="APPROVED", quality_rating="GREEN")


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
    """The README example (examples/manifests against examples/live-state.yaml), by hand."""
    acme = space(
        "293483938849493",
        want("+86 138 0000 1234", "Acme Retail", line=18),
        want("+86 138 0000 5678", "Acme Retail", line=20),
        want("+86 138 0000 4321", "Acme Retail", line=22,
             profile=DesiredProfile(about="We sell things", email="hello@acme.example")),
        label="acme-retail", waba=DesiredWaba(id="20393988393993", review_status="APPROVED"))
    globex = space(
        "120000000000001",
        want("+39 06 6988 1234", "Globex Italia", line=10),
        want("+44 20 7946 0958", "Globex UK", ("CONNECTED", "FLAGGED"), line=12,
             profile=DesiredProfile(vertical="RETAIL", websites=("https://globex.example",))),
        label="globex-eu", isv_code="aksik93kdkkxmwol9")
    current = live(
        live_space("293483938849493",
                   have("8613800005678", "ACME"),
                   have("8613800004321", "Acme Retail", "FLAGGED"),
                   have("8613800009999", "Old Line"),
                   waba=APPROVED, waba_read=True,
                   profiles={"+8613800004321": LiveProfile(about="We sell things",
                                                           email="hello@acme.example")}),
        live_space("120000000000001", have("442079460958", "Globex UK"),
                   waba=LiveWaba(id="30500000000001", name="Globex EU",
                                 review_status="PENDING"), waba_read=True,
                   profiles={"+442079460958": LiveProfile(
                       vertical="RETAIL", websites=("https://globex.example",))}))
    return desired(acme, globex), current
