"""Output hygiene through the real command line: hostile live values from an emulator on a
socket (and from a raw hostile server) reach stdout, stderr, the job summary and imported
manifests as inert text; ``--mask-numbers`` masks numbers in the service's own words; an
unwritable job summary is one warning, never a failure of the run.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from e2ekit import (
    APPROVED_WABA,
    Camsctl,
    EmulatorFactory,
    declared,
    hostile_server,
    http_answer,
    live,
    manifest,
    write_yaml,
)

from reconciler.cli import cli
from reconciler.loader import load

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)

SPACE = "700000000000001"
OTHER = "700000000000002"
FORGED = "Acme\n No changes. Live state matches the manifests.\x1b[2K"
HOSTILE_STATUS = "</details>\x1b]0;pwned\x07<img src=x onerror=alert(1)>\u202e"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _no_raw_control(*texts: str) -> None:
    for text in texts:
        assert not RAW_CONTROL.search(text), text


def _hostile_world(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """A declared number whose live name forges a summary, a declared number to add, and an
    unmanaged number whose name and status are hostile."""
    state = {"spaces": {SPACE: {"waba": APPROVED_WABA, "numbers": [
        live("8613800001234", FORGED),
        live("8613800009999", "Old\x1b[1A\x1b[2KLine\r\n# heading", HOSTILE_STATUS)]}}}
    path = write_yaml(tmp_path / "manifests" / "m.yaml", manifest(
        {"id": SPACE, "numbers": [declared("+86 138 0000 1234", "Acme"),
                                  declared("+86 138 0000 5678", "New Line")]}))
    return state, path


def test_plan_prints_a_forged_live_name_on_its_line_with_controls_visible(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, path = _hostile_world(tmp_path)
    emulator = serve(state)
    done = camsctl.run(emulator, "plan", str(path))
    assert done.returncode == 0, done.stderr
    _no_raw_control(done.stdout, done.stderr)
    lines = done.stdout.splitlines()
    assert not any(line.strip().startswith("No changes.") for line in lines)
    assert '  ~ +8613800001234  verified_name: "Acme" -> "Acme\\n No changes. Live state ' \
        'matches the manifests.\\x1b[2K"  (' in done.stdout
    assert '"Old\\x1b[1A\\x1b[2KLine\\r\\n# heading" (</details>\\x1b]0;pwned\\x07<img src=x ' \
        'onerror=alert(1)>\\u202e)' in done.stdout
    assert lines[-1] == "Plan: 1 to add, 1 drifted, 1 unmanaged."


def test_apply_shows_its_plan_and_outcomes_with_controls_visible(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    """The plan apply shows before it asks, and each outcome line, are inert text; the
    service's own error code here tries to forge the closing summary."""
    state, path = _hostile_world(tmp_path)
    state["spaces"][OTHER] = {"numbers": [live("8613800005678", "Elsewhere")]}
    emulator = serve(state, exists_code="Exists\x1b[2K\nApply complete: 1 added, 0 failed.")
    done = camsctl.run(emulator, "apply", str(path), "--auto-approve", global_options=("-v",))
    assert done.returncode == 1, done.stderr  # the add is refused: the number is elsewhere
    _no_raw_control(done.stdout, done.stderr)
    assert "Apply complete: 1 added, 0 failed." not in done.stdout.splitlines()
    assert done.stdout.splitlines()[-1] == "Apply complete: 0 added, 1 failed."
    assert "failed: Exists\\x1b[2K\\nApply complete: 1 added, 0 failed.: The phone number" \
        in done.stdout


def test_markdown_plan_and_step_summary_escape_a_hostile_status(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, path = _hostile_world(tmp_path)
    emulator = serve(state)
    summary = tmp_path / "summary.md"
    camsctl.env["GITHUB_STEP_SUMMARY"] = str(summary)
    done = camsctl.run(emulator, "plan", str(path), "--format", "markdown")
    assert done.returncode == 0, done.stderr
    for text in (done.stdout, summary.read_text(encoding="utf-8")):
        _no_raw_control(text)
        assert "<img" not in text
        assert text.count("</details>") == 1
        assert "</details>\\x1b]0;pwned\\x07<img src=x onerror=alert(1)>\\u202e" \
            in html.unescape(text)


def test_mask_numbers_hides_the_number_a_refused_add_s_message_names(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    """The service's answer quotes the number (``The phone number 8613800001234 already
    exists``): masked on stdout, in the progress on stderr and in the job summary."""
    emulator = serve({"spaces": {SPACE: {"waba": APPROVED_WABA, "numbers": []},
                                 OTHER: {"numbers": [live("8613800001234", "Elsewhere")]}}})
    path = write_yaml(tmp_path / "m.yaml", manifest(
        {"id": SPACE, "numbers": [declared("+86 138 0000 1234", "Acme")]}))
    summary = tmp_path / "summary.md"
    camsctl.env["GITHUB_STEP_SUMMARY"] = str(summary)
    done = camsctl.run(emulator, "apply", str(path), "--auto-approve", "--mask-numbers",
                       global_options=("-v",))
    assert done.returncode == 1
    written = summary.read_text(encoding="utf-8")
    assert "already exists" in done.stdout and "already exists" in written
    for text in (done.stdout, done.stderr, written):
        assert "13800001234" not in text, text
    assert "The phone number 86138****1234 already exists" in done.stdout


def test_plan_step_summary_honours_mask_numbers(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, path = _hostile_world(tmp_path)
    emulator = serve(state)
    summary = tmp_path / "summary.md"
    camsctl.env["GITHUB_STEP_SUMMARY"] = str(summary)
    done = camsctl.run(emulator, "plan", str(path), "--mask-numbers")
    assert done.returncode == 0, done.stderr
    written = summary.read_text(encoding="utf-8")
    assert "+86138****1234" in written and "+86138****5678" in written
    for digits in ("13800001234", "13800005678", "13800009999"):
        assert digits not in written and digits not in done.stdout


@pytest.mark.parametrize("code", ["Forbidden.Hostile", "Ram.PermissionDeny"])
def test_an_error_line_quoting_the_service_is_visible_and_masked(
        code: str, camsctl: Camsctl, tmp_path: Path) -> None:
    """A read refused with a message that forges lines and names a number: the error stays on
    its line (one per space, or one for an account-wide refusal), controls visible, the
    number masked, the RequestId kept whole."""
    rid = "5C1E2F3A-0A1B-4C2D-9E8F-123456789012"
    body = json.dumps({"RequestId": rid, "Code": code, "Message":
                       "no\x1b[2K\nNo changes. Live state matches the manifests.\n"
                       "number 8613800001234 is barred"}).encode()
    path = write_yaml(tmp_path / "m.yaml", manifest({"id": SPACE, "numbers": []}))
    with hostile_server(http_answer("400 Bad Request", body)) as url:
        done = subprocess.run([sys.executable, "-m", "reconciler", "--endpoint", url, "plan",
                               str(path), "--mask-numbers"], cwd=camsctl.workdir,
                              env=camsctl.env, capture_output=True, text=True, timeout=120,
                              check=False)
    assert done.returncode == 1
    _no_raw_control(done.stderr)
    lines = done.stderr.splitlines()
    if code == "Forbidden.Hostile":  # one space's failure
        assert lines[0] == "Error: could not read the live state:"
        assert len(lines) == 2, done.stderr
        assert lines[1].startswith(f"  space {SPACE}: QueryChatappPhoneNumbers: ")
    else:  # no space could escape it: one line
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("Error: QueryChatappPhoneNumbers: HTTP 400 Ram.")
    assert "no\\x1b[2K\\nNo changes. Live state matches the manifests.\\nnumber " \
        "86138****1234 is barred" in lines[-1]
    assert rid in lines[-1] and "13800001234" not in done.stderr


# --- an unwritable job summary ----------------------------------------------------------------


def _unwritable(kind: str, tmp_path: Path) -> str:
    if kind == "directory":
        return str(tmp_path)
    if kind == "missing-directory":
        return str(tmp_path / "no" / "such" / "summary.md")
    if kind == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes read-only files")
        target = tmp_path / "summary.md"
        target.write_text("")
        target.chmod(0o444)
        return str(target)
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    return "/dev/full"


IN_SYNC_STATE = {"spaces": {SPACE: {"waba": APPROVED_WABA, "numbers": [
    live("8613800001234", "Acme")]}}}


@pytest.mark.parametrize("kind", ["directory", "missing-directory", "read-only", "dev-full"])
@pytest.mark.parametrize("command", ["plan", "drift", "apply"])
def test_an_unwritable_step_summary_is_one_warning_and_keeps_the_exit_code(
        kind: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _unwritable(kind, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    state = write_yaml(work / "state.yaml", IN_SYNC_STATE)
    path = write_yaml(work / "m.yaml", manifest(
        {"id": SPACE, "numbers": [declared("+86 138 0000 1234", "Acme"),
                                  declared("+86 138 0000 5678", "New Line")]}))
    args = {"plan": ["plan", str(path), "--detailed-exitcode"],
            "drift": ["drift", str(path)],
            "apply": ["apply", str(path), "--auto-approve"]}[command]
    result = CliRunner().invoke(cli, ["--no-color", "--emulator", str(state), *args],
                                env={"GITHUB_STEP_SUMMARY": target})
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    assert result.exit_code == {"plan": 2, "drift": 2, "apply": 0}[command], result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1, result.stderr
    assert "job summary" in warnings[0] and "Traceback" not in result.stderr
    if command == "apply":
        assert result.stdout.splitlines()[-1] == "Apply complete: 1 added, 0 failed."


# --- import -----------------------------------------------------------------------------------


INJECTING_NAME = 'Evil\n      - phone: "+8613900000001"\n        verified_name: Injected'
INJECTING_STATUS = 'CONNECTED]\n      - phone: "+8613900000002"\n        verified_name: "x'


def _import(camsctl: Camsctl, emulator_state: dict[str, Any],
            serve: EmulatorFactory) -> tuple[Path, str]:
    emulator = serve(emulator_state)
    target = camsctl.workdir / "imported.yaml"
    done = camsctl.run(emulator, "import", "--space", SPACE, "-o", str(target))
    assert done.returncode == 0, done.stderr
    _no_raw_control(done.stderr)
    return target, done.stderr


def test_import_writes_hostile_live_values_as_quoted_scalars_and_injects_nothing(
        serve: EmulatorFactory, camsctl: Camsctl) -> None:
    target, stderr = _import(camsctl, {"spaces": {SPACE: {"waba": APPROVED_WABA, "numbers": [
        live("8613800001234", INJECTING_NAME),
        live("8613800005678", "Plain", INJECTING_STATUS),
        live("8613800004321", "Bidi \u202eevil\u2028 line\x85 # not a comment", "FLAGGED"),
        live("8613800009999", "lower", "connected")]}}}, serve)
    text = target.read_text(encoding="utf-8")
    _no_raw_control(text)
    loaded = load([str(target)], today=TODAY)
    assert not loaded.errors, loaded.diagnostics
    assert loaded.desired is not None
    (space,) = loaded.desired.spaces.values()
    # Names with a line break or a bidi control are text a manifest refuses: those numbers
    # are left out (plan reports them as unmanaged), and nothing is injected.
    assert sorted(space.numbers) == ["+8613800005678", "+8613800009999"]
    numbers = space.numbers
    # Malformed statuses are never written: the numbers keep the default, plan shows drift.
    assert numbers["+8613800005678"].statuses == {"CONNECTED"}
    assert numbers["+8613800009999"].statuses == {"CONNECTED"}
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert sum("cannot be declared" in line for line in comments) == 2
    assert sum("# not imported:" in line and "which a manifest refuses in text" in line
               for line in comments) == 2
    notes = [line for line in stderr.splitlines() if "cannot be declared" in line]
    assert len(notes) == 2 and '"connected"' in stderr
    assert sum("not imported: its verified name holds" in line
               for line in stderr.splitlines()) == 2


def test_import_round_trips_a_well_formed_status_the_docs_do_not_list(
        serve: EmulatorFactory, camsctl: Camsctl) -> None:
    """OFFLINE and PAUSED appear on some of the vendor's pages. Import writes them as they
    are, and the loader accepts them, each with a warning (not a documented status)."""
    target, _ = _import(camsctl, {"spaces": {SPACE: {"waba": APPROVED_WABA, "numbers": [
        live("8613800001234", "Acme", "OFFLINE"),
        live("8613800005678", "Acme", "PAUSED")]}}}, serve)
    written = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert [n["status"] for n in written["spaces"][0]["numbers"]] == [["OFFLINE"], ["PAUSED"]]
    loaded = load([str(target)], today=TODAY)
    assert not loaded.errors
    assert [d.message.split(" (")[0] for d in loaded.diagnostics] == [
        "'OFFLINE' is not a documented status", "'PAUSED' is not a documented status"]
    assert loaded.desired is not None
    (space,) = loaded.desired.spaces.values()
    assert {e164: n.statuses for e164, n in space.numbers.items()} == {
        "+8613800001234": {"OFFLINE"}, "+8613800005678": {"PAUSED"}}
