"""`plan`, `drift`, `apply` and `import` in-process (CliRunner) against the in-process emulator.

The socket-and-subprocess flows (plan → apply → plan, stale plans, SIGKILL) are in tests/e2e.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.schemas import load_schema

EMULATOR = ["--no-color", "--emulator", "examples/live-state.yaml"]


pytestmark = pytest.mark.usefixtures("in_a_checkout")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*EMULATOR, *args])
    return result.exit_code, result.stdout, result.stderr


def test_readme_main_command_shows_one_of_everything() -> None:
    code, out, _ = run("plan", "examples/manifests")
    assert code == 0
    assert '  + +8613800001234  add "Acme Retail"' in out
    assert '  ~ +8613800005678  verified_name: "Acme Retail" -> "ACME"' in out
    assert "  ~ +442079460958  messaging_limit_tier: at least TIER_1K -> TIER_250" in out
    assert "  > +8613800002468  pending: PENDING (WhatsApp is still verifying it)" in out
    assert "  = +8613800004321  status: one of [CONNECTED] -> FLAGGED  acknowledged until " \
        "2027-11-20 by ops@acme.example: Flagged by Meta on 2026-11-20" in out
    assert '  ? +8613800009999  not declared: "Old Line" (CONNECTED)' in out
    assert "  ! the space's WhatsApp Business Account is PENDING, not APPROVED" in out
    assert out.splitlines()[-1] == \
        "Plan: 2 to add, 2 drifted, 1 unmanaged, 1 pending, 1 acknowledged."


def test_json_plan_is_valid_and_byte_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795694400")
    _, first, _ = run("plan", "examples/manifests", "--format", "json")
    _, second, _ = run("plan", "examples/manifests", "--format", "json")
    assert first == second
    document = json.loads(first)
    jsonschema.Draft202012Validator(load_schema("plan.schema.json")).validate(document)
    assert document["created_at"] == "2026-11-26T12:00:00Z"
    assert document["endpoint"] == "emulator:examples/live-state.yaml"


def test_out_file_equals_json_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795694400")
    saved = tmp_path / "plan.json"
    _, out, _ = run("plan", "examples/manifests", "--format", "json", "--out", str(saved))
    assert saved.read_text(encoding="utf-8") == out


@pytest.mark.parametrize("command", [["plan", "--detailed-exitcode"], ["drift"]])
def test_finding_bits(command: list[str]) -> None:
    code, _, _ = run(*command, "examples/manifests")
    assert code == 2 | 4 | 8 | 16  # the flagged number's drift is acknowledged: no bit
    code, _, _ = run(*command, "examples/manifests", "--space", "120000000000001")
    assert code == 2 | 4  # globex: one add, its London line below its minimum tier


def test_unknown_space_filter_is_an_error() -> None:
    code, _, err = run("plan", "examples/manifests", "--space", "42")
    assert code == 1
    assert "--space 42: not declared in the manifests" in err


def test_markdown_masked(tmp_path: Path) -> None:
    code, out, _ = run("plan", "examples/manifests", "--format", "markdown", "--mask-numbers")
    assert code == 0
    assert out.startswith("### camsctl plan\n\n**Plan: 2 to add, 2 drifted, 1 unmanaged, "
                          "1 pending, 1 acknowledged.**")
    assert "+8613800001234" not in out and "+86138****1234" in out


def test_step_summary_is_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run("plan", "examples/manifests")
    text = summary.read_text()
    assert text.startswith("earlier step\n### camsctl plan")


def test_apply_without_terminal_or_approval_refuses_and_adds_nothing(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    code, _, err = run("apply", "examples/manifests", "--journal", str(journal))
    assert code == 1
    assert "apply needs confirmation" in err
    # The journal is opened before anything is read (so a bad one stops the run early), and
    # nothing was written to it.
    assert journal.read_text() == ""


def test_apply_auto_approve_adds_and_journals(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    code, out, _ = run("apply", "examples/manifests", "--auto-approve", "--journal", str(journal))
    assert code == 0
    assert out.splitlines()[-1] == "Apply complete: 2 added, 0 failed."
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert sorted(events) == ["added", "added", "sending", "sending"]


def test_apply_needs_paths_even_with_a_plan(tmp_path: Path) -> None:
    for args in ([], ["--plan", str(tmp_path / "plan.json")]):
        result = CliRunner().invoke(cli, [*EMULATOR, "apply", *args])
        assert result.exit_code == 2
        assert "give the manifests' PATHs" in result.output


def test_import_then_plan_shows_nothing_to_add_and_no_drift(tmp_path: Path) -> None:
    manifest = tmp_path / "imported.yaml"
    code, _, err = run("import", "--space", "293483938849493", "--space", "120000000000001",
                       "-o", str(manifest))
    assert code == 0, err
    text = manifest.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    code, out, _ = run("plan", str(manifest), "--detailed-exitcode")
    assert code == 0, out
    assert out.splitlines()[-1] == "No changes. Live state matches the manifests."
    code, _, err = run("import", "--space", "293483938849493", "-o", str(manifest))
    assert code == 1 and "exists" in err


def test_unknown_space_in_manifest_fails_clearly(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text('version: 1\nspaces:\n  - {id: "999", numbers: []}\n')
    code, out, err = run("plan", str(manifest))
    assert code == 1
    assert out == ""
    assert "space 999: QueryChatappPhoneNumbers: HTTP 400 Unknown.ResourceOwnerId" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("flags", [(), ("--mask-numbers",), ("--format", "markdown"),
                                   ("--format", "github"), ("--format", "json")],
                         ids=["text", "masked", "markdown", "github", "json"])
def test_show_prints_a_saved_plan_as_plan_printed_it(tmp_path: Path,
                                                     flags: tuple[str, ...]) -> None:
    saved = tmp_path / "plan.json"
    code, printed, _ = run("plan", "examples/manifests", "--out", str(saved), *flags)
    assert code == 0
    code, shown, err = run("show", str(saved), *flags)  # no network: nothing is read
    assert code == 0, err
    if "json" in flags:
        assert shown == printed == saved.read_text(encoding="utf-8")
    elif "github" in flags:  # a plan file keeps FILE:LINE, so annotations lose the column
        assert shown == re.sub(r",col=\d+", "", printed)
    else:
        assert shown == printed


@pytest.mark.parametrize(("content", "complaint"), [
    (b"{", "not a JSON plan file"), (b'{"format_version": "7.0"}', "format_version"),
    (b"\xff", "not UTF-8")])
def test_show_refuses_what_is_not_a_plan(tmp_path: Path, content: bytes, complaint: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    code, _, err = run("show", str(path))
    assert code == 1
    assert complaint in err and "Traceback" not in err
