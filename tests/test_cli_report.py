"""`camsctl report` end to end: ledgers written by real `plan --ledger` runs against the
built-in emulator over several days, then one HTML page; and every way the command refuses
(a missing ledger, a line that is not a record, no runs) is one error, exit 1, no file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from tests.conftest import REPO

NOV_20, NOV_23 = "1795140000", "1795399200"
"""2026-11-20 and 2026-11-23 at 02:00 UTC; the suite's runs are on 2026-11-26 at 12:00."""


pytestmark = pytest.mark.usefixtures("in_a_checkout")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--no-color", *args])
    return result.exit_code, result.stdout, result.stderr


def plan_on(epoch: str, patched: pytest.MonkeyPatch, ledger: str,
            state: str = "examples/live-state.yaml") -> None:
    patched.setenv("SOURCE_DATE_EPOCH", epoch)
    code, _, err = run("--emulator", state, "plan", "examples/manifests", "--ledger", ledger)
    assert code == 0, err


def points(html: str, category: str) -> list[str]:
    return re.findall(rf'class="point" data-run="(\d+)" data-category="{category}"', html)


@pytest.fixture(scope="module")
def three_nights(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A ledger of three nightly plans, made once for the module: on the 23rd the display
    name has been fixed in the console (the emulator's state file, edited in place, so that
    the runs stay one account)."""
    work = tmp_path_factory.mktemp("nights")
    (work / "examples").symlink_to(REPO / "examples")
    state = work / "state.yaml"
    seed = (REPO / "examples" / "live-state.yaml").read_text(encoding="utf-8")
    with pytest.MonkeyPatch.context() as patched:
        patched.chdir(work)
        patched.delenv("GITHUB_STEP_SUMMARY", raising=False)
        state.write_text(seed, encoding="utf-8")
        plan_on(NOV_20, patched, "ledger.jsonl", "state.yaml")
        state.write_text(seed.replace("VerifiedName: ACME,", "VerifiedName: Acme Retail,"),
                         encoding="utf-8")
        plan_on(NOV_23, patched, "ledger.jsonl", "state.yaml")
        state.write_text(seed, encoding="utf-8")
        plan_on("1795694400", patched, "ledger.jsonl", "state.yaml")
    return (work / "ledger.jsonl").read_bytes()


@pytest.fixture
def ledger(three_nights: bytes) -> Path:
    path = Path("audit/ledger.jsonl")
    path.parent.mkdir()
    path.write_bytes(three_nights)
    return path


def test_a_report_of_three_nights_of_plans(ledger: Path) -> None:
    code, out, err = run("report", str(ledger), "-o", "out/report.html")
    assert (code, err) == (0, "")
    assert out == ("Wrote out/report.html: 3 runs; 4 findings open, the oldest for 6 days.\n")
    html = Path("out/report.html").read_text(encoding="utf-8")
    assert not Path("out/report.html.tmp").exists()
    for category in ("drift", "unmanaged", "pending", "acknowledged"):
        assert points(html, category) == ["1", "2", "3"]
    drift = re.findall(r'data-category="drift" data-count="(\d+)"', html)
    assert drift == ["2", "1", "2"]                       # the name was right on the 23rd
    assert "Display name differs: declared “Acme Retail”, live “ACME”" in html
    assert "<td class=\"nowrap\">2026-11-26</td><td class=\"num nowrap\">today</td>" in html
    assert "examples/<wbr>manifests/<wbr>acme-retail.yaml:21:9" in html
    assert "acme-retail <small>293483938849493</small>" in html
    assert "+8613800005678" in html
    assert "emulator:state.yaml" in html
    assert "2026-11-20 to 2026-11-26 (7 days)" in html


def test_mask_numbers_and_several_ledgers(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("state.yaml").symlink_to("examples/live-state.yaml")
    plan_on("1795608000", monkeypatch, "other.jsonl", "state.yaml")   # the 25th, another file
    code, out, _ = run("report", str(ledger), "other.jsonl", str(ledger), "--out", "r.html",
                       "--mask-numbers")
    assert code == 0 and out.startswith("Wrote r.html: 4 runs; ")
    html = Path("r.html").read_text(encoding="utf-8")
    assert points(html, "pending") == ["1", "2", "3", "4"]
    for digits in ("8613800005678", "442079460958", "8613800009999", "8613800002468",
                   "8613800004321"):
        assert digits not in html
    assert "+86138****5678" in html


def test_the_emulator_runs_and_a_cloud_run_are_two_accounts(
        ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patched:
        patched.setenv("SOURCE_DATE_EPOCH", NOV_20)
        run("--emulator", "examples/live-state.yaml", "plan", "examples/manifests",
            "--ledger", "a.jsonl")
    Path("a.jsonl").write_text(Path("a.jsonl").read_text(encoding="utf-8").replace(
        "emulator:examples/live-state.yaml", "https://cams.example.com/"), encoding="utf-8")
    code, out, _ = run("report", "a.jsonl", str(ledger), "-o", "r.html")
    assert code == 0 and "3 runs" in out
    assert "left out of this report: cams.example.com (1 run)" in \
        Path("r.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(("content", "message"), [
    (None, "Error: L: no such ledger (write one with `camsctl drift --ledger L ...`).\n"),
    ('{"ledger_version": 1}\nnot json\n', "Error: L:1: time must be a string"),
    ("{}\n", "Error: L:1: unknown ledger_version None"),
])
def test_a_ledger_that_cannot_be_reported_is_one_error_and_no_file(
        ledger: Path, content: str | None, message: str) -> None:
    if content is not None:
        Path("L").write_text(content, encoding="utf-8")
    code, out, err = run("report", str(ledger), "L", "-o", "r.html")
    assert (code, out) == (1, "")
    assert err.startswith(message) if not message.endswith("\n") else err == message
    assert "Traceback" not in err
    assert not Path("r.html").exists() and not Path("r.html.tmp").exists()


@pytest.mark.parametrize("content", ["", "\n\n", '{"ledger_version": 1, "time": "2026-11'])
def test_a_ledger_without_runs_is_an_error(content: str) -> None:
    Path("L").write_text(content, encoding="utf-8")               # the last: a torn line
    code, out, err = run("report", "L", "-o", "r.html")
    assert (code, out) == (1, "")
    assert err == "Error: L: no runs recorded yet; nothing to report.\n"
    assert not Path("r.html").exists()


def test_a_bad_line_further_down_names_its_line(ledger: Path) -> None:
    lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
    ledger.write_text(lines[0] + '{"ledger_version": 1, "time": "nope"}\n' + lines[1],
                      encoding="utf-8")
    code, _, err = run("report", str(ledger), "-o", "r.html")
    assert code == 1
    assert err.startswith("Error: audit/ledger.jsonl:2: time 'nope' is not an ISO 8601 moment")
    assert not Path("r.html").exists()


def test_the_report_never_overwrites_a_ledger_and_needs_an_out_file(ledger: Path) -> None:
    before = ledger.read_bytes()
    code, _, err = run("report", str(ledger), "-o", str(ledger))
    assert code == 1 and "is one of the ledgers" in err
    assert ledger.read_bytes() == before
    code, _, err = run("report", str(ledger))
    assert code == 2 and "Missing option '-o' / '--out'" in err


def test_as_a_process_a_bad_ledger_is_one_line_without_traceback(repo: Path) -> None:
    Path("L").write_bytes(b"\xff\xfe\n")
    done = subprocess.run([sys.executable, "-m", "reconciler", "report", "L", "-o", "r.html"],
                          capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "Error: L:1: not UTF-8 text; is this a ledger camsctl wrote?\n"
    assert not Path("r.html").exists()
