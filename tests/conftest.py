"""Shared test fixtures: paths to the repository's examples and test data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"


@pytest.fixture
def repo() -> Path:
    return REPO


RUN_DATE_EPOCH = "1795694400"
"""2026-11-26 12:00 UTC: the date of every in-process run (``SOURCE_DATE_EPOCH``)."""


@pytest.fixture(autouse=True)
def _fixed_run_date(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples acknowledge a finding until 2027-11-20, and an acknowledgement may end at
    most 366 days after the run: commands run in-process are dated 2026-11-26, so their
    results never depend on the day the suite runs. A test may set its own date."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", RUN_DATE_EPOCH)


@pytest.fixture
def in_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Commands run where `examples/` is the repository's, in a folder of the test's own:
    what `--emulator` keeps there (.camsctl/emulator) never reaches another test, and no step
    summary is written."""
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(work)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return work
