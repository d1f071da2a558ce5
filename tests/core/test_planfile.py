"""The plan file: round trip, byte stability, and refusal of what it cannot trust."""

from __future__ import annotations

import json

import pytest
from planbuild import example_plan

from reconciler.planfile import FORMAT_VERSION, PlanFileError, PlanMeta, dumps, loads

META = PlanMeta(created_at="2026-11-23T10:00:00Z", endpoint="emulator:state.yaml")


def test_round_trip_keeps_everything_apply_needs() -> None:
    plan = example_plan()
    again, meta = loads(dumps(plan, META))
    assert meta == META
    # The file carries sources as FILE:LINE (no column), everything else exactly.
    assert [a.request() for a in again.adds] == [a.request() for a in plan.adds]
    assert [a.phone for a in again.adds] == [a.phone for a in plan.adds]
    assert [a.source.short for a in again.adds] == [a.source.short for a in plan.adds]
    assert [(s.id, s.label, s.isv_code, s.live_digest, s.reads) for s in again.spaces] == \
        [(s.id, s.label, s.isv_code, s.live_digest, s.reads) for s in plan.spaces]
    # Each entry is back in its own space.
    assert all(entry.space_id == space.id for space in again.spaces
               for entry in (*space.adds, *space.drift, *space.unmanaged, *space.warnings))
    assert [(d.phone, d.field, d.expected, d.actual) for d in again.drift] == \
        [(d.phone, d.field, d.expected, d.actual) for d in plan.drift]
    assert again.unmanaged == plan.unmanaged
    assert again.summary() == plan.summary()
    assert dumps(again, meta) == dumps(plan, META)


def test_italian_leading_zero_survives_the_file() -> None:
    plan, _ = loads(dumps(example_plan(), META))
    rome = next(a for a in plan.adds if a.phone.e164 == "+390669881234")
    assert rome.request()["PhoneNumber"] == "0669881234"


def test_plan_file_holds_no_secret_material() -> None:
    text = dumps(example_plan(), META)
    for word in ("secret", "token", "AccessKey", "Authorization"):
        assert word.lower() not in text.lower()


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda d: d.update(format_version="2.0"), "unknown plan format_version '2.0'"),
    (lambda d: d.pop("format_version"), "unknown plan format_version None"),
    (lambda d: d["changes"][0].update(action="delete"), "unknown change action 'delete'"),
    (lambda d: d["changes"][0].update(phone="+86 12"), "bad phone number"),
    (lambda d: d.update(spaces=[]), "changes name spaces the plan did not read"),
    (lambda d: d.update(changes="x"), "changes must be a list"),
])
def test_untrustworthy_plans_are_refused(mutate: object, fragment: str) -> None:
    document = json.loads(dumps(example_plan(), META))
    mutate(document)  # type: ignore[operator]
    with pytest.raises(PlanFileError, match=fragment.replace("(", r"\(").replace("+", r"\+")):
        loads(json.dumps(document))


def test_not_json_is_refused() -> None:
    with pytest.raises(PlanFileError, match="not a JSON plan file"):
        loads("Plan: 2 to add")


def test_minor_versions_of_the_same_major_are_read() -> None:
    document = json.loads(dumps(example_plan(), META))
    document["format_version"] = "1.7"
    document["some_future_key"] = {"ignored": True}
    plan, _ = loads(json.dumps(document))
    assert len(plan.adds) == 2
    assert FORMAT_VERSION == "1.1"


def test_a_1_0_plan_file_reads_as_a_plan_with_nothing_pending_or_acknowledged() -> None:
    document = json.loads(dumps(example_plan(), META))
    document["format_version"] = "1.0"
    for key in ("pending", "acknowledged", "notes"):
        del document[key]
    plan, _ = loads(json.dumps(document))
    assert len(plan.adds) == 2 and len(plan.drift) == 2
    assert plan.pending == () and plan.acknowledged == () and plan.notes == ()
