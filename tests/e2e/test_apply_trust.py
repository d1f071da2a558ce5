"""Apply you can trust, end to end on a socket: one test (or a few) per defect found by a
hostile tester, each failing on camsctl 0.1.

1. a lost answer for a number the service lists only later: never sent again, ``unknown``;
2. the journal of one endpoint never holds back adds to another;
3. a saved plan is checked against the manifests (declared, same fields, no repeats, same
   endpoint), and must be a regular file of bounded size;
4. a success answer without its list is an error, never an empty space;
5. the lock and the journal never follow a symlink;
6. a journal that cannot be written stops every later add, and the run says how each ended;
and ``--max-adds``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from e2ekit import (
    APPROVED_WABA,
    RUN_TIMEOUT,
    Camsctl,
    Emulator,
    EmulatorFactory,
    declared,
    journal_entries,
    live,
    manifest,
    one_number_fleet,
    write_yaml,
)

from reconciler.emulator import FaultPlan

SPACE_A = "320000000000001"
SPACE_B = "320000000000002"
ADD_A = "+8613800000002"
ADD_B = "+8613800000003"


def _two_spaces(root: Path) -> tuple[dict[str, Any], Path]:
    """Space A has 1 of its 2 numbers, space B none of its 1: two adds."""
    state = {"spaces": {
        SPACE_A: {"waba": APPROVED_WABA, "numbers": [live("8613800000001", "Alpha One")]},
        SPACE_B: {"waba": APPROVED_WABA, "numbers": []},
    }}
    manifests = write_yaml(root / "manifests" / "spaces.yaml", manifest(
        {"id": SPACE_A, "numbers": [declared("+86 138 0000 0001", "Alpha One"),
                                    declared("+86 138 0000 0002", "Alpha Two")]},
        {"id": SPACE_B, "numbers": [declared("+86 138 0000 0003", "Bravo One")]}))
    return state, manifests


def _listed(emulator: Emulator) -> list[str]:
    return sorted("+" + n["PhoneNumber"] for numbers in emulator.numbers().values()
                  for n in numbers)


def _assert_clean_failure(run: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    for needle in needles:
        assert needle in run.stderr, run.stderr


# --- 1. late visibility and a lost answer ----------------------------------------------------


def test_a_lost_answer_for_a_number_listed_late_is_never_sent_again(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    # Every add is applied and its answer lost; the service lists a new number 20 s later and
    # refuses a second add of it with a code of its own.
    emulator = serve(state, faults=FaultPlan(lost_add=1.0), visibility_delay_ms=20_000,
                     exists_code="InvalidParameter.PhoneNumberExists")
    started = time.monotonic()
    apply = ("apply", str(manifests), "--auto-approve")

    first = camsctl.run(emulator, *apply)
    assert first.returncode == 1, first.stdout
    assert "Apply complete: 0 added, 2 unknown (re-run apply later), 0 failed." in first.stdout
    assert first.stdout.count("the answer was lost and the service does not list it yet") == 2
    assert emulator.adds_sent() == 2

    # Re-run at once: the journal says both were sent moments ago; re-read, never re-sent.
    second = camsctl.run(emulator, *apply)
    assert second.returncode == 1, second.stdout
    assert second.stdout.count("by an earlier run that got no answer") == 2
    assert emulator.adds_sent() == 2

    # Once listed, the plan has nothing to add: the run is green, each number is there once.
    time.sleep(max(0.0, 20.5 - (time.monotonic() - started)))
    third = camsctl.run(emulator, *apply)
    assert third.returncode == 0, (third.stdout, third.stderr)
    assert emulator.adds_sent() == 2
    assert emulator.already_exists_answers() == 0
    assert _listed(emulator) == ["+8613800000001", ADD_A, ADD_B]


# --- 2. the journal is per endpoint ----------------------------------------------------------


def test_an_apply_against_one_endpoint_never_holds_back_another(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    staging = serve(state, visibility_delay_ms=60_000)  # lists new numbers only a minute later
    production = serve(state)
    apply = ("apply", str(manifests), "--auto-approve")

    on_staging = camsctl.run(staging, *apply)
    assert on_staging.returncode == 0, on_staging.stderr
    assert staging.adds_sent() == 2
    # Same folder, same journal, within the visibility window: production still gets its adds.
    on_production = camsctl.run(production, *apply)
    assert on_production.returncode == 0, on_production.stderr
    assert "Apply complete: 2 added, 0 failed." in on_production.stdout
    assert production.adds_sent() == 2
    assert _listed(production) == ["+8613800000001", ADD_A, ADD_B]
    # And staging, asked again, trusts its own journal: nothing is sent twice there.
    again = camsctl.run(staging, *apply)
    assert again.returncode == 0, again.stderr
    assert "2 awaiting visibility" in again.stdout
    assert staging.adds_sent() == 2
    endpoints = {e["endpoint"] for e in journal_entries(
        camsctl.workdir / ".camsctl" / "journal.jsonl")}
    assert endpoints == {staging.url, production.url}


# --- 3. saved plans are checked, not trusted -------------------------------------------------


def _saved_plan(camsctl: Camsctl, emulator: Emulator, manifests: Path) -> dict[str, Any]:
    planned = camsctl.run(emulator, "plan", str(manifests), "--out", "plan.json")
    assert planned.returncode == 0, planned.stderr
    document: dict[str, Any] = json.loads((camsctl.workdir / "plan.json").read_text())
    return document


def _change(phone: str, space_id: str, cc: str, national: str, name: str) -> dict[str, Any]:
    return {"action": "add", "space": space_id, "phone": phone, "source": "x.yaml:1",
            "request": {"CustSpaceId": space_id, "Cc": cc, "PhoneNumber": national,
                        "VerifiedName": name}}


TAMPERINGS = {
    "undeclared-number": (lambda plan: plan["changes"].append(
        _change("+8613900000009", SPACE_B, "86", "13900000009", "Intruder")),
        "do not declare this number"),
    "empty-name": (lambda plan: plan["changes"][0]["request"].update(VerifiedName=""),
                   "VerifiedName is '' in the plan but 'Alpha Two'"),
    "control-character-name": (
        lambda plan: plan["changes"][0]["request"].update(VerifiedName="Alpha\x1b[2JTwo"),
        "VerifiedName is 'Alpha\\x1b[2JTwo' in the plan"),
    "repeated-change": (lambda plan: plan["changes"].append(plan["changes"][0]),
                        "the plan adds this number 2 times"),
    "request-not-its-phone": (lambda plan: plan["changes"][0]["request"].update(
        PhoneNumber="13900000009"), "its request does not match its space and phone"),
    "other-endpoint": (lambda plan: plan.update(endpoint="https://cams.example.invalid"),
                       "the plan was made against https://cams.example.invalid"),
}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_a_tampered_saved_plan_is_refused_and_nothing_is_sent(
        tampering: str, serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state)
    plan = _saved_plan(camsctl, emulator, manifests)
    tamper, complaint = TAMPERINGS[tampering]
    tamper(plan)
    (camsctl.workdir / "plan.json").write_text(json.dumps(plan))

    refused = camsctl.run(emulator, "apply", "--plan", "plan.json", str(manifests))
    _assert_clean_failure(refused, complaint)
    assert emulator.adds_sent() == 0
    assert "\x1b" not in refused.stderr


def test_a_saved_plan_needs_the_manifests(serve: EmulatorFactory, camsctl: Camsctl,
                                          tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state)
    _saved_plan(camsctl, emulator, manifests)
    alone = camsctl.run(emulator, "apply", "--plan", "plan.json")
    assert alone.returncode == 2
    assert "checked against them" in alone.stderr
    applied = camsctl.run(emulator, "apply", "--plan", "plan.json", str(manifests))
    assert applied.returncode == 0, applied.stderr
    assert emulator.adds_sent() == 2


@pytest.mark.parametrize("kind", ["fifo", "device", "over-64-mib", "directory", "missing",
                                  "binary"])
def test_a_plan_file_that_is_not_a_plan_is_one_clear_error(
        kind: str, serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state)
    path = camsctl.workdir / "plan.json"
    complaint = {"fifo": "not a regular file (a FIFO)", "device": "not a regular file (a device)",
                 "over-64-mib": "the limit is 67,108,864 bytes",
                 "directory": "plan.json", "missing": "No such file",
                 "binary": "not UTF-8"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "over-64-mib":
        with path.open("wb") as sparse:
            sparse.truncate(64 * 1024 * 1024 + 1)
    elif kind == "directory":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe{}")
    run = camsctl.run(emulator, "apply", "--plan", "plan.json", str(manifests))
    assert run.returncode in (1, 2), run.stderr
    assert complaint in run.stderr
    assert "Traceback" not in run.stderr
    assert emulator.adds_sent() == 0


# --- the apply guard --------------------------------------------------------------------------


@pytest.mark.parametrize("saved", [False, True], ids=["planned", "saved-plan"])
def test_max_adds_refuses_a_larger_plan_and_sends_nothing(
        saved: bool, serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state)
    how = ("--plan", "plan.json") if saved else ("--auto-approve",)
    if saved:
        _saved_plan(camsctl, emulator, manifests)
    refused = camsctl.run(emulator, "apply", *how, str(manifests), "--max-adds", "1")
    _assert_clean_failure(refused, "the plan adds 2 numbers, more than --max-adds 1")
    assert emulator.adds_sent() == 0
    allowed = camsctl.run(emulator, "apply", *how, str(manifests), "--max-adds", "2")
    assert allowed.returncode == 0, allowed.stderr
    assert emulator.adds_sent() == 2


# --- 4. a success answer without its list ----------------------------------------------------


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_success_answer_without_its_list_is_an_error_not_an_empty_space(
        command: str, serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state, faults=FaultPlan(no_list=1.0))
    extra = ("--auto-approve",) if command == "apply" else ()
    run = camsctl.run(emulator, command, str(manifests), *extra)
    _assert_clean_failure(run, "QueryChatappPhoneNumbers", "PhoneNumbers", "RequestId")
    assert emulator.adds_sent() == 0


# --- 5. the lock and the journal never follow a symlink ---------------------------------------


@pytest.mark.parametrize("link", ["apply.lock", "journal.jsonl"])
def test_the_lock_and_the_journal_never_follow_a_symlink(
        link: str, serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state)
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's file\n")
    (camsctl.workdir / ".camsctl").mkdir()
    (camsctl.workdir / ".camsctl" / link).symlink_to(precious)
    run = camsctl.run(emulator, "apply", str(manifests), "--auto-approve")
    _assert_clean_failure(run, "symbolic link")
    assert precious.read_text() == "the user's file\n"
    assert emulator.adds_sent() == 0


# --- 6. a journal that cannot be written ------------------------------------------------------


def _run_with_file_size_limit(camsctl: Camsctl, emulator: Emulator, limit: int,
                              *args: str) -> subprocess.CompletedProcess[str]:
    """camsctl whose files may not grow past ``limit`` bytes: a disk that fills up."""
    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run(camsctl.argv(emulator, args, ()), cwd=camsctl.workdir,
                          env={**camsctl.env, "PYTHONDONTWRITEBYTECODE": "1"},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, check=False, preexec_fn=limit_files)


def test_a_journal_that_fills_up_stops_every_later_add_and_reports_each(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = one_number_fleet(tmp_path, 6, base=330000000000000)
    emulator = serve(state)
    # Room for about four entries: two adds announced and settled, or so.
    run = _run_with_file_size_limit(camsctl, emulator, 800, "--parallelism", "1", "apply",
                                    str(manifests), "--auto-approve")
    _assert_clean_failure(run, "cannot write", "File too large", "No add was sent after that")
    entries = journal_entries(camsctl.workdir / ".camsctl" / "journal.jsonl")
    announced = {e["phone"] for e in entries if e["event"] == "sending"}
    assert 0 < len(announced) < 6
    # Every add that reached the service was announced on disk first, and is reported.
    assert set(_listed(emulator)) <= announced
    assert emulator.adds_sent() == len(_listed(emulator))
    lines = [line for line in run.stdout.splitlines() if "(space 33" in line]
    assert len(lines) == 6
    assert sum(": added" in line for line in lines) == emulator.adds_sent()
    assert sum(": not sent: the journal could not be written" in line for line in lines) \
        == 6 - emulator.adds_sent()


def test_a_journal_that_cannot_take_a_single_entry_means_no_add(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state)
    run = _run_with_file_size_limit(camsctl, emulator, 0, "apply", str(manifests),
                                    "--auto-approve")
    _assert_clean_failure(run, "cannot write")
    assert emulator.adds_sent() == 0
    assert "2 not sent" in run.stdout


@pytest.mark.parametrize("where", ["a-fifo", "under-a-file"])
def test_a_journal_that_cannot_be_opened_refuses_before_any_call(
        where: str, serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _two_spaces(tmp_path)
    emulator = serve(state)
    if where == "a-fifo":
        os.mkfifo(camsctl.workdir / "journal.jsonl")
        journal, complaint = "journal.jsonl", "journal.jsonl is not a regular file"
    else:  # the lock, beside the journal, is opened first
        (camsctl.workdir / "file").write_text("")
        journal, complaint = "file/journal.jsonl", "file or a folder above it is a file"
    run = camsctl.run(emulator, "apply", str(manifests), "--auto-approve",
                      "--journal", journal)
    _assert_clean_failure(run, complaint)
    assert emulator.adds_sent() == 0
    assert emulator.stats()["calls"].get("QueryChatappPhoneNumbers", 0) == 0
