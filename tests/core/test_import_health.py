"""``camsctl import`` writes the health it sees (issue 14), and only what a manifest can hold:
the imported file loads, and a plan against the same live state finds nothing. Pure: live
values in, manifest text out, loaded and planned with no I/O but a temporary file."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import MappingProxyType

import pytest
import yaml

from reconciler.importer import import_notes, render_manifest
from reconciler.live import Live, LiveNumber, LiveSpace, LiveWaba
from reconciler.loader import load
from reconciler.phone import from_live_digits
from reconciler.plan import build_plan

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)
SPACE = "293483938849493"
WABA = LiveWaba(id="20393988393993", name="Acme", review_status="APPROVED")
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _number(status: str, rating: str | None, tier: str | None,
            name: str = "Acme", digits: str = "8613800001234") -> LiveNumber:
    return LiveNumber(phone=from_live_digits(digits), verified_name=name, status=status,
                      name_status="APPROVED", quality_rating=rating, messaging_limit_tier=tier)


def _space(*numbers: LiveNumber) -> LiveSpace:
    return LiveSpace(id=SPACE, waba_read=True, waba=WABA,
                     numbers=MappingProxyType({n.phone.e164: n for n in numbers}))


def _imported(space: LiveSpace, tmp_path: Path) -> tuple[str, Path]:
    text = render_manifest([space], isv_code=None, schema_path="schema.json")
    path = tmp_path / "imported.yaml"
    path.write_text(text, encoding="utf-8")
    return text, path


def _only_number(text: str) -> dict[str, object]:
    [number] = yaml.safe_load(text)["spaces"][0]["numbers"]
    assert isinstance(number, dict)
    return number


HEALTH_CASES: list[tuple[str, str, str | None, str | None, dict[str, object], int]] = [
    # (id, live status, rating, tier, what the number declares besides phone and name, notes)
    ("rating-and-tier", "CONNECTED", "GREEN", "TIER_1K",
     {"quality_rating": ["GREEN"], "messaging_limit_tier": "TIER_1K"}, 0),
    ("rating-only", "CONNECTED", "YELLOW", None, {"quality_rating": ["YELLOW"]}, 0),
    ("tier-only", "CONNECTED", None, "TIER_UNLIMITED",
     {"messaging_limit_tier": "TIER_UNLIMITED"}, 0),
    ("flagged-red", "FLAGGED", "RED", "TIER_250",
     {"status": ["FLAGGED"], "quality_rating": ["RED"], "messaging_limit_tier": "TIER_250"}, 0),
    # UNKNOWN is no rating yet: declaring it would be drift once WhatsApp rates the number.
    ("rating-unknown", "CONNECTED", "UNKNOWN", "TIER_50", {"messaging_limit_tier": "TIER_50"},
     0),
    # Values camsctl does not know cannot be declared (a tier needs its order): a note each.
    ("undocumented-values", "CONNECTED", "ORANGE", "TIER_10", {}, 2),
    ("hostile-values", "CONNECTED", "GREEN\n        status: [BANNED]", "TIER_1K\x1b[2K", {}, 2),
    # Still being verified: no rating, lowest tier, and the plan does not check them.
    ("pending", "PENDING", "UNKNOWN", "TIER_50", {"status": ["PENDING"]}, 0),
    ("unverified", "UNVERIFIED", "GREEN", "TIER_1K", {"status": ["UNVERIFIED"]}, 0),
    ("none-given", "CONNECTED", None, None, {}, 0),
]


@pytest.mark.parametrize(("status", "rating", "tier", "declares", "notes"),
                         [case[1:] for case in HEALTH_CASES], ids=[c[0] for c in HEALTH_CASES])
def test_import_declares_the_health_it_sees_and_plans_clean(
        tmp_path: Path, status: str, rating: str | None, tier: str | None,
        declares: dict[str, object], notes: int) -> None:
    number = _number(status, rating, tier)
    space = _space(number)
    text, path = _imported(space, tmp_path)
    assert _only_number(text) == {"phone": "+8613800001234", "verified_name": "Acme",
                                  **declares}
    written = import_notes([space])
    assert len(written) == notes
    assert all("is not one camsctl knows; left out, so it is not checked" in n for n in written)
    comments = [line.strip() for line in text.splitlines() if line.strip().startswith("#")]
    assert sum("not one camsctl knows" in line for line in comments) == notes
    assert not RAW_CONTROL.search(text) and not any(RAW_CONTROL.search(n) for n in written)
    loaded = load([str(path)], today=TODAY)
    assert loaded.errors == (), loaded.diagnostics
    assert loaded.desired is not None
    declared = loaded.desired.spaces[SPACE].numbers["+8613800001234"]
    assert declared.min_tier == declares.get("messaging_limit_tier")
    ratings = declares.get("quality_rating")
    assert declared.quality_ratings == (frozenset(ratings) if isinstance(ratings, list)
                                        else None)
    plan = build_plan(loaded.desired, Live(spaces={SPACE: space}), today=TODAY)
    assert (plan.adds, plan.drift, plan.unmanaged) == ((), (), ())
    assert not [w for w in plan.warnings if "cannot compare" in w.message]


def test_a_higher_tier_later_is_no_drift_and_a_lower_one_is(tmp_path: Path) -> None:
    _, path = _imported(_space(_number("CONNECTED", "GREEN", "TIER_1K")), tmp_path)
    desired = load([str(path)], today=TODAY).desired
    assert desired is not None
    higher = build_plan(desired, Live(spaces={SPACE: _space(
        _number("CONNECTED", "GREEN", "TIER_10K"))}), today=TODAY)
    assert higher.drift == ()
    lower = build_plan(desired, Live(spaces={SPACE: _space(
        _number("CONNECTED", "YELLOW", "TIER_250"))}), today=TODAY)
    assert sorted(d.field for d in lower.drift) == ["messaging_limit_tier", "quality_rating"]


@pytest.mark.parametrize(("name", "why"), [
    ("Acme\nRetail", "its verified name holds U+000A LINE FEED, which a manifest refuses in "
                     "text"),
    ("Acme \u202eliateR", "its verified name holds U+202E RIGHT-TO-LEFT OVERRIDE, which a "
                          "manifest refuses in text"),
    ("Acme\x1b[2K", "its verified name holds U+001B ESCAPE, which a manifest refuses in text"),
    ("Acme\u2028Retail", "its verified name holds U+2028 LINE SEPARATOR, which a manifest "
                         "refuses in text"),
    ("\u200b\u2060", "its verified name shows nothing (only invisible characters)"),
], ids=["line-feed", "bidi-override", "escape", "line-separator", "invisible-only"])
def test_a_name_a_manifest_refuses_is_left_out_and_the_file_still_loads(
        tmp_path: Path, name: str, why: str) -> None:
    kept = _number("CONNECTED", "GREEN", None, name="Kept", digits="8613800005678")
    space = _space(_number("CONNECTED", "GREEN", None, name=name), kept)
    text, path = _imported(space, tmp_path)
    assert [n["phone"] for n in yaml.safe_load(text)["spaces"][0]["numbers"]] == \
        ["+8613800005678"]
    assert f'      # not imported: "+8613800001234": {why}' in text.splitlines()
    assert import_notes([space]) == [f'space {SPACE}, "+8613800001234": not imported: {why}']
    assert not RAW_CONTROL.search(text)
    loaded = load([str(path)], today=TODAY)
    assert loaded.errors == (), loaded.diagnostics
    assert loaded.desired is not None
    plan = build_plan(loaded.desired, Live(spaces={SPACE: space}), today=TODAY)
    # Left out, so the plan reports it as unmanaged: never silent.
    assert [u.phone for u in plan.unmanaged] == ["+8613800001234"]
    assert plan.drift == ()


def test_names_real_scripts_need_are_imported(tmp_path: Path) -> None:
    # Joiners, variation selectors and directional marks are allowed in free text.
    names = ["\u0645\u06cc\u200c\u0631\u0632\u0627", "Cafe\u0301 \u2764\ufe0f",
             "\u05e9\u05dc\u05d5\u05dd\u200f Shop", "\U0001f468\u200d\U0001f373 Chef"]
    space = _space(*(_number("CONNECTED", "GREEN", None, name=name, digits=f"861380000{i:04d}")
                     for i, name in enumerate(names)))
    text, path = _imported(space, tmp_path)
    assert import_notes([space]) == []
    assert [n["verified_name"] for n in yaml.safe_load(text)["spaces"][0]["numbers"]] == names
    assert load([str(path)], today=TODAY).errors == ()
