"""apply's confirmation on a real (pseudo-)terminal: only `yes` proceeds."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest


def _apply_on_terminal(repo: Path, tmp_path: Path, answer: str) -> tuple[int, str]:
    primary, secondary = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "HOME": str(tmp_path)}
    env.pop("GITHUB_STEP_SUMMARY", None)
    # In a folder of the test's own: what `--emulator` keeps there never reaches another test.
    (tmp_path / "examples").symlink_to(repo / "examples")
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--no-color", "--emulator",
         "examples/live-state.yaml", "apply", "examples/manifests",
         "--journal", str(tmp_path / "journal.jsonl")],
        cwd=tmp_path, stdin=secondary, stdout=subprocess.PIPE, stderr=secondary, env=env)
    os.close(secondary)
    seen = b""
    try:
        while b"Only 'yes' will be accepted" not in seen:
            ready, _, _ = select.select([primary], [], [], 30)
            assert ready, f"no prompt on the terminal; it showed: {seen!r}"
            seen += os.read(primary, 4096)
    except BaseException:
        process.kill()
        raise
    os.write(primary, answer.encode() + b"\n")
    out, _ = process.communicate(timeout=60)
    os.close(primary)
    return process.returncode, out.decode()


def test_yes_on_a_terminal_applies(repo: Path, tmp_path: Path) -> None:
    code, out = _apply_on_terminal(repo, tmp_path, "yes")
    assert code == 0
    assert out.splitlines()[-1] == "Apply complete: 2 added, 0 failed."


@pytest.mark.parametrize("answer", ["no", "y", "YES"])
def test_anything_but_yes_cancels(repo: Path, tmp_path: Path, answer: str) -> None:
    code, out = _apply_on_terminal(repo, tmp_path, answer)
    assert code == 1
    assert "Apply complete" not in out
    assert (tmp_path / "journal.jsonl").read_text() == ""  # nothing was sent
