"""The plan rules, one table row per rule: what is an add, drift, unmanaged, a warning."""

from __future__ import annotations

import unicodedata
from dataclasses import replace

import pytest
from planbuild import (
    APPROVED,
    TODAY,
    desired,
    example_inputs,
    example_plan,
    have,
    live,
    live_space,
    space,
    want,
)

from reconciler.live import LiveProfile, LiveWaba
from reconciler.manifest import DesiredProfile, DesiredWaba
from reconciler.plan import Finding, Plan, build_plan, live_digest

S = "293483938849493"


def kinds(plan: Plan) -> dict[str, list[tuple[object, ...]]]:
    return {
        "add": [(a.phone.e164, a.verified_name) for a in plan.adds],
        "drift": [(d.phone, d.field, d.expected, d.actual) for d in plan.drift],
        "unmanaged": [(u.phone, u.verified_name, u.status) for u in plan.unmanaged],
        "warnings": [(w.phone, w.message) for w in plan.warnings],
    }


RULES = [
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme")), live_space(S),
        {"add": [("+8613800001234", "Acme")], "drift": [], "unmanaged": [], "warnings": []},
        0, id="declared-and-missing-is-an-add"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme")), live_space(S, have("8613800001234", "Acme")),
        {"add": [], "drift": [], "unmanaged": [], "warnings": []},
        1, id="present-and-equal-is-unchanged"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme")), live_space(S, have("8613800001234", "ACME")),
        {"add": [], "drift": [("+8613800001234", "verified_name", "Acme", "ACME")],
         "unmanaged": [], "warnings": []},
        0, id="other-name-is-name-drift"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Café")),
        live_space(S, have("8613800001234", unicodedata.normalize("NFD", " Café "))),
        {"add": [], "drift": [], "unmanaged": [], "warnings": []},
        1, id="name-compared-after-nfc-and-trim"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme")),
        live_space(S, have("8613800001234", "Acme", "FLAGGED")),
        {"add": [], "drift": [("+8613800001234", "status", ("CONNECTED",), "FLAGGED")],
         "unmanaged": [], "warnings": []},
        0, id="status-outside-allowed-set-is-status-drift"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme", ("CONNECTED", "FLAGGED"))),
        live_space(S, have("8613800001234", "Acme", "FLAGGED")),
        {"add": [], "drift": [], "unmanaged": [], "warnings": []},
        1, id="status-inside-allowed-set-is-in-sync"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme")),
        live_space(S, have("8613800001234", "Other", "BANNED")),
        {"add": [], "drift": [("+8613800001234", "status", ("CONNECTED",), "BANNED"),
                              ("+8613800001234", "verified_name", "Acme", "Other")],
         "unmanaged": [], "warnings": []},
        0, id="name-and-status-drift-together"),
    pytest.param(
        space(S), live_space(S, have("8613800009999", "Old", "PENDING")),
        {"add": [], "drift": [], "unmanaged": [("+8613800009999", "Old", "PENDING")],
         "warnings": []},
        0, id="live-but-undeclared-is-unmanaged"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme",
                      profile=DesiredProfile(about="Hi", websites=("https://a.example",)))),
        live_space(S, have("8613800001234", "Acme"),
                   profiles={"+8613800001234": LiveProfile(
                       about="Hello", email="x@y.example", websites=("https://b.example",))}),
        {"add": [], "drift": [("+8613800001234", "profile.about", "Hi", "Hello"),
                              ("+8613800001234", "profile.websites", ("https://a.example",),
                               ("https://b.example",))],
         "unmanaged": [], "warnings": []},
        0, id="declared-profile-fields-only-are-compared"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme", profile=DesiredProfile(email="a@b.example"))),
        live_space(S, have("8613800001234", "Acme"),
                   profiles={"+8613800001234": LiveProfile()}),
        {"add": [], "drift": [("+8613800001234", "profile.email", "a@b.example", None)],
         "unmanaged": [], "warnings": []},
        0, id="profile-field-missing-live-is-drift-to-none"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme",
                      profile=DesiredProfile(websites=("https://a.example", "https://b.example")))),
        live_space(S, have("8613800001234", "Acme"),
                   profiles={"+8613800001234": LiveProfile(
                       websites=("https://b.example", "https://a.example"))}),
        {"add": [], "drift": [("+8613800001234", "profile.websites",
                               ("https://a.example", "https://b.example"),
                               ("https://b.example", "https://a.example"))],
         "unmanaged": [], "warnings": []},
        0, id="website-order-matters"),
    pytest.param(
        space(S, waba=DesiredWaba(id="1", review_status="APPROVED")),
        live_space(S, waba=LiveWaba(id="2", name="X", review_status="REJECTED"), waba_read=True),
        {"add": [], "drift": [(None, "waba.id", "1", "2"),
                              (None, "waba.review_status", "APPROVED", "REJECTED")],
         "unmanaged": [], "warnings": []},
        0, id="declared-waba-fields-drift"),
    pytest.param(
        space(S, waba=DesiredWaba(id="1")), live_space(S, waba=None, waba_read=True),
        {"add": [], "drift": [(None, "waba.id", "1", None)], "unmanaged": [], "warnings": []},
        0, id="declared-waba-but-none-bound"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme")), live_space(S, waba=None, waba_read=True),
        {"add": [("+8613800001234", "Acme")], "drift": [], "unmanaged": [],
         "warnings": [(None, "no WhatsApp Business Account is bound to this space: adding 1 "
                             "number may be rejected")]},
        0, id="add-into-space-without-waba-warns"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme"), want("+86 138 0000 1235", "Acme")),
        live_space(S, waba=LiveWaba(id="1", name=None, review_status="PENDING"), waba_read=True),
        {"add": [("+8613800001234", "Acme"), ("+8613800001235", "Acme")], "drift": [],
         "unmanaged": [],
         "warnings": [(None, "the space's WhatsApp Business Account is PENDING, not APPROVED: "
                             "adding 2 numbers may be rejected")]},
        0, id="add-into-unapproved-waba-warns"),
    pytest.param(
        space(S, want("+86 138 0000 1234", "Acme")), live_space(S, waba=APPROVED, waba_read=True),
        {"add": [("+8613800001234", "Acme")], "drift": [], "unmanaged": [], "warnings": []},
        0, id="add-into-approved-waba-is-quiet"),
    pytest.param(
        space(S, want("+86 100 0000 0000", "Odd")), live_space(S, have("8610000000000", "Odd")),
        {"add": [], "drift": [], "unmanaged": [],
         "warnings": [("+8610000000000", "possible but not a valid number for its country "
                                         "(libphonenumber)")]},
        1, id="invalid-but-possible-number-warns"),
]


@pytest.mark.parametrize(("declared", "current", "expected", "unchanged"), RULES)
def test_rule(declared: object, current: object, expected: dict[str, object],
              unchanged: int) -> None:
    plan = build_plan(desired(declared), live(current))  # type: ignore[arg-type]
    assert kinds(plan) == expected
    assert plan.unchanged == unchanged


def test_adds_carry_the_api_request_and_source() -> None:
    plan = build_plan(desired(space(S, want("+39 06 6988 1234", "Roma", line=14))),
                      live(live_space(S)))
    (add,) = plan.adds
    assert add.request() == {"CustSpaceId": S, "Cc": "39", "PhoneNumber": "0669881234",
                             "VerifiedName": "Roma"}
    assert add.source.short == "m.yaml:14"


@pytest.mark.parametrize(("findings", "code"), [
    ((), 0), (("add",), 2), (("drift",), 4), (("unmanaged",), 8),
    (("add", "drift"), 6), (("add", "unmanaged"), 10), (("drift", "unmanaged"), 12),
    (("add", "drift", "unmanaged"), 14),
])
def test_exit_code_bits(findings: tuple[str, ...], code: int) -> None:
    numbers = [want("+86 138 0000 1234", "Same")]
    current = [have("8613800001234", "Same")]
    if "add" in findings:
        numbers.append(want("+86 138 0000 1235", "New"))
    if "drift" in findings:
        numbers.append(want("+86 138 0000 1236", "Name"))
        current.append(have("8613800001236", "Other"))
    if "unmanaged" in findings:
        current.append(have("8613800001237", "Stray"))
    plan = build_plan(desired(space(S, *numbers)), live(live_space(S, *current)))
    assert int(plan.findings()) == code


def test_example_plan_has_one_of_everything() -> None:
    plan = example_plan()
    assert plan.summary() == {"add": 2, "drift": 2, "unmanaged": 1, "pending": 1,
                              "acknowledged": 1, "unchanged": 0, "warnings": 1}
    assert [s.id for s in plan.spaces] == ["120000000000001", "293483938849493"]
    assert [a.phone.e164 for a in plan.adds] == ["+390669881234", "+8613800001234"]


def test_plan_is_deterministic_and_digest_tracks_everything_read() -> None:
    declared, current = example_inputs()
    assert build_plan(declared, current, today=TODAY) == build_plan(declared, current,
                                                                     today=TODAY)
    acme = current.spaces[S]
    base = live_digest(acme)
    assert base.startswith("sha256:") and len(base) == 71
    renamed = replace(acme, numbers={**acme.numbers,
                                     "+8613800009999": have("8613800009999", "New name")})
    assert live_digest(renamed) != base
    other_waba = replace(acme, waba=replace(APPROVED, review_status="DISABLED"))
    assert live_digest(other_waba) != base
    other_profile = replace(acme, profiles={"+8613800004321": LiveProfile(about="changed")})
    assert live_digest(other_profile) != base
    reordered = replace(acme, numbers=dict(reversed(list(acme.numbers.items()))))
    assert live_digest(reordered) == base


def test_findings_flags_compose() -> None:
    assert Finding.ADD | Finding.UNMANAGED == 10
