"""End to end through the real command line, against the emulator on a socket.

plan → apply → plan converges; saved plans apply as planned and are refused when stale; every
exit-code bit of ``--detailed-exitcode`` and ``drift``; apply refuses with no terminal; import
then plan is in sync; ``--mask-numbers`` hides every number a human reads.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from e2ekit import (
    APPROVED_WABA,
    EXAMPLE_MANIFESTS,
    EXAMPLE_STATE,
    KEY_SECRET,
    Camsctl,
    EmulatorFactory,
    declared,
    journal_entries,
    live,
    manifest,
    plan_json,
    write_yaml,
)

ACME = "293483938849493"
GLOBEX = "120000000000001"
EXAMPLE_ADDS = {ACME: ("+8613800001234", "Acme Retail"), GLOBEX: ("+390669881234", "Globex Italia")}
"""The two numbers examples/manifests declare that examples/live-state.yaml lacks."""

EXAMPLE_NUMBERS = ("+8613800001234", "+8613800005678", "+8613800004321", "+8613800009999",
                   "+390669881234", "+442079460958")
"""Every number of the example, declared or live."""

ADD, DRIFT, UNMANAGED, PENDING = 2, 4, 8, 16


def _without(state: dict[str, Any], removed: dict[str, str]) -> dict[str, Any]:
    """``state`` less the numbers in ``removed`` (space id -> digits), and the lifecycle's
    record of their adds."""
    copy: dict[str, Any] = json.loads(json.dumps(state))
    for space_id, digits in removed.items():
        numbers = copy["spaces"][space_id]["numbers"]
        copy["spaces"][space_id]["numbers"] = [n for n in numbers if n["PhoneNumber"] != digits]
        copy.get("lifecycle", {}).get("pending", {}).pop(digits, None)
    lifecycle = copy.get("lifecycle", {})
    if "pending" in lifecycle and not lifecycle["pending"]:
        del lifecycle["pending"]
    if "lifecycle" in copy and not lifecycle:
        del copy["lifecycle"]
    return copy


def _number_counts(numbers: dict[str, list[dict[str, Any]]]) -> Counter[str]:
    return Counter(n["PhoneNumber"] for listed in numbers.values() for n in listed)


# --- plan → apply → plan ---------------------------------------------------------------------


def test_plan_apply_plan_adds_each_missing_number_once_and_touches_nothing_else(
        serve: EmulatorFactory, camsctl: Camsctl) -> None:
    emulator = serve(EXAMPLE_STATE)
    before = emulator.state()

    first = camsctl.run(emulator, "plan", str(EXAMPLE_MANIFESTS), "--detailed-exitcode",
                        "--format", "json")
    assert first.returncode == ADD | DRIFT | UNMANAGED | PENDING, first.stderr
    planned = plan_json(first)
    assert planned["summary"]["add"] == 2
    assert {(c["space"], c["phone"]) for c in planned["changes"]} == {
        (space, phone) for space, (phone, _) in EXAMPLE_ADDS.items()}
    assert emulator.adds_sent() == 0  # planning never writes

    applied = camsctl.run(emulator, "apply", str(EXAMPLE_MANIFESTS), "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.rstrip().endswith("Apply complete: 2 added, 0 failed.")
    assert emulator.adds_sent() == 2

    second = camsctl.run(emulator, "plan", str(EXAMPLE_MANIFESTS), "--detailed-exitcode",
                         "--format", "json")
    # No ADD bit any more; the numbers just added are PENDING: bit 16, not drift.
    assert second.returncode == DRIFT | UNMANAGED | PENDING, second.stderr
    replanned = plan_json(second)
    assert replanned["summary"]["add"] == 0
    assert replanned["changes"] == []
    # Drift and the unmanaged number are still reported, exactly as before: never changed.
    # The added numbers are new, so PENDING: pending, not drift (issue 14).
    assert replanned["drift"] == planned["drift"]
    assert [p["phone"] for p in planned["pending"]] == ["+8613800002468"]
    assert [(p["phone"], p["status"]) for p in replanned["pending"]] == [
        ("+390669881234", "PENDING"), ("+8613800001234", "PENDING"),
        ("+8613800002468", "PENDING")]
    assert replanned["unmanaged"] == planned["unmanaged"]

    after = emulator.state()
    for space_id, (phone, name) in EXAMPLE_ADDS.items():
        added = [n for n in after["spaces"][space_id]["numbers"] if n["PhoneNumber"] == phone[1:]]
        assert len(added) == 1, after["spaces"][space_id]
        assert added[0]["VerifiedName"] == name
        assert added[0]["Status"] == "PENDING"
        assert added[0]["NameStatus"] == "PENDING_REVIEW"
    assert all(count == 1 for count in _number_counts(emulator.numbers()).values())
    # Everything else (drifted names and statuses, the unmanaged number, WABAs, profiles)
    # is byte for byte what it was.
    assert _without(after, {s: p[1:] for s, (p, _) in EXAMPLE_ADDS.items()}) == before

    # The default journal, in the working directory: each add announced, then its outcome.
    journal_file = camsctl.workdir / ".camsctl" / "journal.jsonl"
    entries = journal_entries(journal_file)
    for space_id, (phone, _) in EXAMPLE_ADDS.items():
        mine = [e for e in entries if e["phone"] == phone]
        assert [e["event"] for e in mine] == ["sending", "added"]
        assert all(e["space"] == space_id for e in mine)
        assert mine[1]["request_id"]
        assert set(mine[1]) >= {"time", "space", "phone", "event", "request_id", "error"}
    assert KEY_SECRET not in journal_file.read_text(encoding="utf-8")


# --- saved plans -----------------------------------------------------------------------------

SPACE_A = "310000000000001"
SPACE_B = "310000000000002"


def _two_spaces(root: Path) -> tuple[dict[str, Any], Path]:
    """Two spaces, each with numbers to add: A has 1 of its 2, B has none of its 1."""
    state = {"spaces": {
        SPACE_A: {"waba": APPROVED_WABA, "numbers": [live("8613800000001", "Alpha One")]},
        SPACE_B: {"waba": APPROVED_WABA, "numbers": []},
    }}
    manifests = write_yaml(root / "manifests" / "spaces.yaml", manifest(
        {"id": SPACE_A, "label": "alpha", "numbers": [
            declared("+86 138 0000 0001", "Alpha One"),
            declared("+86 138 0000 0002", "Alpha Two")]},
        {"id": SPACE_B, "label": "bravo", "numbers": [
            declared("+86 138 0000 0003", "Bravo One")]},
    ))
    return state, manifests


def test_saved_plan_applies_exactly_the_planned_adds_without_asking(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state)
    plan_file = camsctl.workdir / "plan.json"

    planned = camsctl.run(emulator, "plan", str(manifests), "--out", str(plan_file))
    assert planned.returncode == 0, planned.stderr
    saved = json.loads(plan_file.read_text(encoding="utf-8"))
    assert saved["format_version"] == "1.1"
    assert [(c["space"], c["phone"]) for c in saved["changes"]] == [
        (SPACE_A, "+8613800000002"), (SPACE_B, "+8613800000003")]
    assert KEY_SECRET not in plan_file.read_text(encoding="utf-8")

    # A plan of a format this camsctl does not know is refused before anything is sent.
    future = camsctl.workdir / "future-plan.json"
    future.write_text(json.dumps({**saved, "format_version": "9.0"}), encoding="utf-8")
    refused = camsctl.run(emulator, "apply", "--plan", str(future), str(manifests),
                          "--journal", str(camsctl.workdir / "future.jsonl"))
    assert refused.returncode == 1
    assert "format_version" in refused.stderr
    assert emulator.adds_sent() == 0

    # No terminal, no --auto-approve: a saved plan applies without asking.
    applied = camsctl.run(emulator, "apply", "--plan", str(plan_file), str(manifests),
                          "--journal", str(camsctl.workdir / "apply.jsonl"))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.rstrip().endswith("Apply complete: 2 added, 0 failed.")
    assert emulator.adds_sent() == 2
    numbers = emulator.numbers()
    assert sorted(n["PhoneNumber"] for n in numbers[SPACE_A]) == ["8613800000001",
                                                                  "8613800000002"]
    assert [n["PhoneNumber"] for n in numbers[SPACE_B]] == ["8613800000003"]
    sent = [e["phone"] for e in journal_entries(camsctl.workdir / "apply.jsonl")
            if e["event"] == "sending"]
    assert sorted(sent) == ["+8613800000002", "+8613800000003"]

    # The same saved plan again: the spaces it adds to changed (by itself), so it is stale.
    again = camsctl.run(emulator, "apply", "--plan", str(plan_file), str(manifests),
                        "--journal", str(camsctl.workdir / "again.jsonl"))
    assert again.returncode == 1
    assert "stale" in again.stderr
    assert emulator.adds_sent() == 2


@pytest.mark.parametrize("how", ["number-added-in-the-emulator", "waba-changed-in-the-emulator",
                                 "another-apply"])
def test_stale_saved_plan_is_refused_and_adds_nothing(
        how: str, serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state)
    plan_file = camsctl.workdir / "plan.json"
    planned = camsctl.run(emulator, "plan", str(manifests), "--out", str(plan_file))
    assert planned.returncode == 0, planned.stderr

    # Space A changes after the plan was made; space B does not.
    if how == "number-added-in-the-emulator":
        emulator.app.state.spaces[SPACE_A].numbers.append(live("8613800000099", "Someone"))
    elif how == "waba-changed-in-the-emulator":  # the plan read it: the space has adds
        emulator.app.state.spaces[SPACE_A].waba = {**APPROVED_WABA,
                                                   "AccountReviewStatus": "DISABLED"}
    else:
        other = write_yaml(tmp_path / "other" / "alpha.yaml", manifest(
            {"id": SPACE_A, "numbers": [declared("+86 138 0000 0002", "Alpha Two")]}))
        raced = camsctl.run(emulator, "apply", str(other), "--auto-approve",
                            "--journal", str(camsctl.workdir / "other.jsonl"))
        assert raced.returncode == 0, raced.stderr
    adds_before = emulator.adds_sent()
    live_before = emulator.state()

    stale = camsctl.run(emulator, "apply", "--plan", str(plan_file), str(manifests),
                        "--journal", str(camsctl.workdir / "stale.jsonl"))
    assert stale.returncode == 1, stale.stdout
    error = [line for line in stale.stderr.splitlines() if "stale" in line]
    assert error, stale.stderr
    assert SPACE_A in error[0]
    assert SPACE_B not in error[0]
    assert emulator.adds_sent() == adds_before  # not one AddChatappPhoneNumber
    assert emulator.state() == live_before
    assert not any(e["event"] == "sending"
                   for e in journal_entries(camsctl.workdir / "stale.jsonl"))


# --- exit codes ------------------------------------------------------------------------------

SPACE = "320000000000001"
ONE, TWO, THREE = "+8613900000001", "+8613900000002", "+8613900000003"

EXIT_CASES = {
    # name: (live numbers, declared numbers, expected exit with --detailed-exitcode / drift)
    "in-sync": ([live(ONE[1:], "One")], [declared(ONE, "One")], 0),
    "add-only": ([live(ONE[1:], "One")], [declared(ONE, "One"), declared(TWO, "Two")], ADD),
    "name-drift-only": ([live(ONE[1:], "Uno")], [declared(ONE, "One")], DRIFT),
    "status-drift-only": ([live(ONE[1:], "One", "FLAGGED")], [declared(ONE, "One")], DRIFT),
    "unmanaged-only": ([live(ONE[1:], "One"), live(THREE[1:], "Three")],
                       [declared(ONE, "One")], UNMANAGED),
    "add-drift-unmanaged": ([live(ONE[1:], "Uno"), live(THREE[1:], "Three")],
                            [declared(ONE, "One"), declared(TWO, "Two")],
                            ADD | DRIFT | UNMANAGED),
}


@pytest.mark.parametrize("case", EXIT_CASES)
def test_each_exit_code_bit_of_detailed_exitcode_and_drift(
        case: str, serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    live_numbers, declared_numbers, expected = EXIT_CASES[case]
    emulator = serve({"spaces": {SPACE: {"waba": APPROVED_WABA, "numbers": live_numbers}}})
    manifests = write_yaml(tmp_path / "m" / "space.yaml",
                           manifest({"id": SPACE, "numbers": declared_numbers}))

    planned = camsctl.run(emulator, "plan", str(manifests), "--detailed-exitcode",
                          "--format", "json")
    assert planned.returncode == expected, planned.stderr
    summary = plan_json(planned)["summary"]
    assert (summary["add"] > 0, summary["drift"] > 0, summary["unmanaged"] > 0) == (
        bool(expected & ADD), bool(expected & DRIFT), bool(expected & UNMANAGED))

    audited = camsctl.run(emulator, "drift", str(manifests))
    assert audited.returncode == expected, audited.stderr
    assert emulator.adds_sent() == 0


def test_plan_without_detailed_exitcode_exits_0_whatever_it_finds(
        serve: EmulatorFactory, camsctl: Camsctl) -> None:
    emulator = serve(EXAMPLE_STATE)
    planned = camsctl.run(emulator, "plan", str(EXAMPLE_MANIFESTS))
    assert planned.returncode == 0, planned.stderr
    assert "Plan: 2 to add, 2 drifted, 1 unmanaged, 1 pending, 1 acknowledged." in planned.stdout


# --- confirmation ----------------------------------------------------------------------------


def test_apply_with_no_terminal_and_no_auto_approve_refuses_and_adds_nothing(
        serve: EmulatorFactory, camsctl: Camsctl) -> None:
    emulator = serve(EXAMPLE_STATE)
    before = emulator.state()
    journal_file = camsctl.workdir / "journal.jsonl"
    refused = camsctl.run(emulator, "apply", str(EXAMPLE_MANIFESTS),
                          "--journal", str(journal_file))
    assert refused.returncode == 1
    assert "--auto-approve" in refused.stderr
    assert "Apply complete" not in refused.stdout
    assert emulator.adds_sent() == 0
    assert emulator.state() == before
    assert not any(e["event"] == "sending" for e in journal_entries(journal_file))


# --- import ----------------------------------------------------------------------------------

IMPORTED_A, IMPORTED_B, IMPORTED_C = "330000000000001", "330000000000002", "330000000000003"


def test_import_then_plan_has_nothing_to_add_and_no_drift(
        serve: EmulatorFactory, camsctl: Camsctl) -> None:
    emulator = serve({"spaces": {
        IMPORTED_A: {
            "waba": APPROVED_WABA,
            "numbers": [{**live("8613700000001", "Connected Line"),
                         "MessagingLimitTier": "TIER_1K"},
                        {**live("8613700000002", "Flagged Line", "FLAGGED"),
                         "QualityRating": "RED", "MessagingLimitTier": "TIER_250"},
                        live("8613700000003", "New Line", "PENDING"),
                        live("8613700000004", "Cafe\u0301 Line"),  # NFD: e + combining acute
                        live("390669880001", "Roma")],  # Italian leading zero
            "profiles": {"8613700000001": {"About": "Profiles are not imported"}}},
        IMPORTED_B: {"numbers": []},  # no WABA bound, no numbers
        IMPORTED_C: {"waba": {**APPROVED_WABA, "Id": "20000000000003",
                              "AccountReviewStatus": "PENDING"},
                     "numbers": [live("442079460001", "London")]},
    }})
    target = camsctl.workdir / "imported" / "spaces.yaml"
    imported = camsctl.run(emulator, "import", "--space", IMPORTED_A, "--space", IMPORTED_B,
                           "--space", IMPORTED_C, "-o", str(target))
    assert imported.returncode == 0, imported.stderr
    assert target.exists()
    assert imported.stdout == ""
    text = target.read_text(encoding="utf-8")
    assert 'messaging_limit_tier: "TIER_1K"' in text and 'quality_rating: ["RED"]' in text

    planned = camsctl.run(emulator, "plan", str(target), "--detailed-exitcode",
                          "--format", "json")
    assert planned.returncode & (ADD | DRIFT) == 0, planned.stdout
    assert planned.returncode == 0, planned.stdout  # every live number is declared, too
    summary = plan_json(planned)["summary"]
    assert (summary["add"], summary["drift"], summary["unmanaged"]) == (0, 0, 0)
    assert summary["unchanged"] == 6
    assert emulator.adds_sent() == 0


# --- masking ---------------------------------------------------------------------------------


def _full_forms(phone: str) -> tuple[str, str]:
    """A number as E.164 and as the API's digits; neither may show when masking."""
    return phone, phone[1:]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_mask_numbers_hides_every_number_in_plan_output(
        fmt: str, serve: EmulatorFactory, camsctl: Camsctl) -> None:
    emulator = serve(EXAMPLE_STATE)
    shown = camsctl.run(emulator, "plan", str(EXAMPLE_MANIFESTS), "--mask-numbers",
                        "--format", fmt)
    assert shown.returncode == 0, shown.stderr
    for phone in EXAMPLE_NUMBERS:
        for form in _full_forms(phone):
            assert form not in shown.stdout, f"{form} shown in:\n{shown.stdout}"
    # Not vacuous: the adds, the drifted and the unmanaged numbers are there, masked.
    for masked in ("+86138****1234", "+86138****5678", "+86138****4321", "+86138****9999",
                   "+39066***1234"):
        assert masked in shown.stdout, shown.stdout


def test_mask_numbers_hides_every_number_in_apply_output(
        serve: EmulatorFactory, camsctl: Camsctl) -> None:
    emulator = serve(EXAMPLE_STATE)
    applied = camsctl.run(emulator, "apply", str(EXAMPLE_MANIFESTS), "--auto-approve",
                          "--mask-numbers", global_options=("-v",))
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete: 2 added, 0 failed." in applied.stdout
    for phone in EXAMPLE_NUMBERS:
        for form in _full_forms(phone):
            assert form not in applied.stdout, f"{form} shown in:\n{applied.stdout}"
    assert "+86138****1234" in applied.stdout


INVALID = "+15555555555"
"""Possible but not valid (the 555 area code): the plan warns about it."""


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_mask_numbers_hides_a_number_named_in_a_warning(
        fmt: str, serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    emulator = serve({"spaces": {SPACE: {"waba": APPROVED_WABA, "numbers": []}}})
    manifests = write_yaml(tmp_path / "m" / "space.yaml", manifest(
        {"id": SPACE, "numbers": [declared("+1 555 555 5555", "Fictional")]}))
    shown = camsctl.run(emulator, "plan", str(manifests), "--mask-numbers", "--format", fmt)
    assert shown.returncode == 0, shown.stderr
    assert "+1555***5555" in shown.stdout
    for form in _full_forms(INVALID):
        assert form not in shown.stdout, f"{form} shown in:\n{shown.stdout}"
