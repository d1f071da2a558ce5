"""`plan`/`drift --ledger` end to end, in-process against the emulator: the ledger grows a line a
run, findings say since when they are open, a number pending too long is drift, and a ledger
that cannot be used is one error with its file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

EMULATOR = ["--no-color", "--emulator", "examples/live-state.yaml"]
NOV_20 = "1795176000"
"""2026-11-20 12:00 UTC; the suite's runs are on 2026-11-26 (tests/conftest.py)."""


pytestmark = pytest.mark.usefixtures("in_a_checkout")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*EMULATOR, *args])
    return result.exit_code, result.stdout, result.stderr


def run_on(epoch: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    with monkeypatch.context() as patched:
        patched.setenv("SOURCE_DATE_EPOCH", epoch)
        return run(*args)


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_second_run_says_since_when_each_finding_is_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_on(NOV_20, monkeypatch, "plan", "examples/manifests",
                          "--ledger", "audit/ledger.jsonl")
    assert code == 0
    assert "since 2026-11-20, 0 days" in out
    code, out, _ = run("plan", "examples/manifests", "--ledger", "audit/ledger.jsonl")
    assert code == 0
    assert '~ +8613800005678  verified_name: "Acme Retail" -> "ACME"' in out
    for line in out.splitlines():
        if line.startswith(("  ~", "  >", "  ?", "  =")):
            assert line.endswith("  since 2026-11-20, 6 days"), line
    records = lines(Path("audit/ledger.jsonl"))
    assert [r["time"] for r in records] == ["2026-11-20T12:00:00Z", "2026-11-26T12:00:00Z"]
    assert records[1]["scope"] is None
    assert records[1]["summary"] == {"add": 2, "drift": 2, "unmanaged": 1, "pending": 1,
                                     "acknowledged": 1, "unchanged": 0, "warnings": 1}
    findings = records[1]["findings"]
    assert isinstance(findings, list)
    assert {(f["field"], f["category"]) for f in findings} == {
        ("messaging_limit_tier", "drift"), ("verified_name", "drift"),
        ("unmanaged", "unmanaged"), ("status", "pending"), ("status", "acknowledged")}


def test_a_number_pending_past_the_deadline_is_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    run_on(NOV_20, monkeypatch, "drift", "examples/manifests", "--ledger", "L")
    code, out, _ = run("drift", "examples/manifests", "--ledger", "L")
    assert code == 2 | 4 | 8 | 16                                   # 6 days < 7d
    code, out, _ = run("drift", "examples/manifests", "--ledger", "L",
                       "--pending-deadline", "5d")
    assert code == 2 | 4 | 8                                        # bit 4, not 16
    assert "  ~ +8613800002468  status: one of [CONNECTED] -> PENDING" in out
    assert "since 2026-11-20, 6 days" in out
    assert lines(Path("L"))[-1]["summary"]["pending"] == 0  # type: ignore[index]
    code, _, err = run("drift", "examples/manifests", "--pending-deadline", "7 days")
    assert code == 2 and "not a duration" in err


def test_without_a_ledger_nothing_is_dated() -> None:
    code, out, _ = run("drift", "examples/manifests", "--pending-deadline", "0s")
    assert code == 2 | 4 | 8 | 16 and "since" not in out


def test_a_malformed_ledger_is_one_error_with_its_file_and_line() -> None:
    Path("L").write_text('{"ledger_version": 1, "time": "x"}\nnot json\n', encoding="utf-8")
    code, out, err = run("plan", "examples/manifests", "--ledger", "L")
    assert code == 1 and out == ""
    assert err.startswith("Error: L:1: time 'x' is not an ISO 8601 moment")
    assert "Traceback" not in err
    assert Path("L").read_text(encoding="utf-8").count("\n") == 2   # left as it was
    Path("M").write_bytes(b"\xff\n")
    code, _, err = run("drift", "examples/manifests", "--ledger", "M")
    assert code == 1 and err.startswith("Error: M:1: not UTF-8")
    Path("D").mkdir()
    code, _, err = run("drift", "examples/manifests", "--ledger", "D")
    assert code == 2 and "is a directory" in err                     # refused as a usage error


def test_a_torn_last_line_is_skipped_and_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    run_on(NOV_20, monkeypatch, "plan", "examples/manifests", "--ledger", "L")
    with Path("L").open("a", encoding="utf-8") as ledger:
        ledger.write('{"ledger_version": 1, "time": "2026-11-2')      # a killed run
    code, out, _ = run("plan", "examples/manifests", "--ledger", "L")
    assert code == 0 and "since 2026-11-20, 6 days" in out
    assert len(lines(Path("L"))) == 2                               # every line a record
