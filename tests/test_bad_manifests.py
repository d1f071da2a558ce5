"""The bad-manifest corpus: every case must fail with exactly the located errors it declares.

Each case in ``tests/data/bad`` is a file, or a folder of files, holding comment lines
``# expect: [FILE:]LINE: text``. Loading the case must give exactly one error per expectation,
at that file and line, whose ``FILE:LINE:COL: error: message`` contains the text, and no other
error. The CLI must exit 1 and print the same lines. Both run on the date :data:`TODAY`, which
acknowledgements' dates are checked against.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.loader import load

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)

REPO = Path(__file__).resolve().parent.parent
BAD = Path("tests/data/bad")
EXPECT = re.compile(r"#\s*expect:\s*(?:(?P<file>[\w.-]+\.ya?ml):)?(?P<line>\d+):\s*(?P<text>.+)$")

CASES = sorted(p.relative_to(REPO) for p in (REPO / BAD).iterdir())


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Paths are given relative to the repository, as a user in a checkout would.
    monkeypatch.chdir(REPO)


def _expectations(case: Path) -> list[tuple[str, int, str]]:
    files = sorted(case.rglob("*.y*ml")) if case.is_dir() else [case]
    found = []
    for file in files:
        for raw in file.read_bytes().decode("utf-8", errors="replace").splitlines():
            match = EXPECT.search(raw)
            if match:
                target = case / match["file"] if match["file"] else file
                found.append((target.as_posix(), int(match["line"]), match["text"].strip()))
    assert found, f"{case} declares no expectation"
    return found


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_manifest_reports_exact_locations(case: Path) -> None:
    expected = _expectations(case)
    result = load([case.as_posix()], today=TODAY)
    assert result.desired is None
    errors = [(d.location.file, d.location.line, str(d)) for d in result.errors]
    for file, line, text in expected:
        assert any(e[0] == file and e[1] == line and text in e[2] for e in errors), \
            f"expected {file}:{line}: {text!r}\n  got: {errors}"
    # Two expectations may name one error (two fragments of one message); no error is unnamed.
    leftover = [e for e in errors if not any(e[0] == f and e[1] == ln and t in e[2]
                                             for f, ln, t in expected)]
    assert not leftover, f"unexpected errors: {leftover}"


@pytest.mark.parametrize("case", CASES[:6], ids=[c.name for c in CASES[:6]])
def test_cli_exits_1_and_prints_file_and_line(case: Path) -> None:
    # The CLI's date of the run is SOURCE_DATE_EPOCH's: the day the cases are written for.
    noon = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
    result = CliRunner().invoke(cli, ["--no-color", "validate", case.as_posix()],
                                env={"SOURCE_DATE_EPOCH": str(int(noon.timestamp()))})
    assert result.exit_code == 1
    for file, line, _ in _expectations(case):
        assert f"{file}:{line}:" in result.stderr
    assert "nothing was done" in result.stderr
    assert result.stdout == ""


def test_all_errors_of_all_files_in_one_run() -> None:
    result = load([(BAD / "unknown-space-key.yaml").as_posix(),
                   (BAD / "phone-too-short.yaml").as_posix(),
                   (BAD / "syntax-error.yaml").as_posix()], today=TODAY)
    files = {d.location.file.rsplit("/", 1)[-1] for d in result.errors}
    assert files == {"unknown-space-key.yaml", "phone-too-short.yaml", "syntax-error.yaml"}


def test_errors_in_one_file_do_not_hide_phone_errors_in_it(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text('version: 1\nspaces:\n  - id: "1"\n    lable: x\n    numbers:\n'
                        '      - {phone: "+86 12", verified_name: A}\n')
    lines = sorted(d.location.line for d in load([str(manifest)], today=TODAY).errors)
    assert lines == [4, 6]
