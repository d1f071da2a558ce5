"""`camsctl validate` as a user runs it: in-process with CliRunner and as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli


@pytest.fixture(autouse=True)
def _at_repo_root(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)


def test_validate_examples_prints_one_line_summary() -> None:
    result = CliRunner().invoke(cli, ["validate", "examples/"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "2 files, 2 spaces, 6 numbers: valid\n"


def test_validate_counts_warnings_but_passes(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text('version: 1\nspaces:\n  - id: "1"\n    numbers:\n'
                    '      - {phone: "+86 100 0000 0000", verified_name: A}\n')
    result = CliRunner().invoke(cli, ["--no-color", "validate", str(path)])
    assert result.exit_code == 0
    assert result.stdout == "1 file, 1 space, 1 number: valid (1 warning)\n"
    assert f"{path}:5:17: warning: " in result.stderr


def test_validate_reports_every_error_of_every_file() -> None:
    result = CliRunner().invoke(cli, ["--no-color", "validate",
                                      "tests/data/bad/unknown-number-key.yaml",
                                      "tests/data/bad/number-in-two-files"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "3 errors in 2 files; nothing was done."


def test_validate_needs_a_path() -> None:
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_no_color_and_pipes_print_plain_text() -> None:
    result = CliRunner().invoke(cli, ["validate", "tests/data/bad/version-2.yaml"], color=True)
    assert "\x1b[" in result.stderr
    plain = CliRunner().invoke(cli, ["--no-color", "validate", "tests/data/bad/version-2.yaml"],
                               color=True)
    assert "\x1b[" not in plain.stderr


@pytest.mark.parametrize("entry", [["camsctl"], [sys.executable, "-m", "reconciler"]])
def test_installed_entry_points_validate(entry: list[str]) -> None:
    if entry == ["camsctl"]:
        entry = [str(Path(sys.executable).with_name("camsctl"))]
    env = {**os.environ, "NO_COLOR": "1"}
    ok = subprocess.run([*entry, "validate", "examples"], capture_output=True, text=True,
                        env=env, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "2 files, 2 spaces, 6 numbers: valid\n"
    bad = subprocess.run([*entry, "validate", "tests/data/bad/unquoted-octal-id.yaml"],
                         capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 1
    assert "tests/data/bad/unquoted-octal-id.yaml:3:9: error: spaces[0].id must be a string" \
        in bad.stderr
    assert "Traceback" not in bad.stderr


def test_fifos_and_link_loops_in_a_folder_are_skipped_with_a_note(tmp_path: Path,
                                                                 repo: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "globex.yaml").write_bytes((repo / "examples/manifests/globex.yaml").read_bytes())
    os.mkfifo(folder / "fifo.yaml")  # reading it would block for ever
    (folder / "loop.yaml").symlink_to("loop.yaml")
    (folder / "zero.yaml").symlink_to("/dev/zero")  # reading it would never end
    # A subprocess with a deadline: a hang fails the test instead of stalling the suite.
    done = subprocess.run([sys.executable, "-m", "reconciler", "validate", str(folder)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1 file, 1 space, 2 numbers: valid\n"
    assert f"{folder}/fifo.yaml: note: skipped: not a regular file (a FIFO)" in done.stderr
    assert f"{folder}/loop.yaml: note: skipped: cannot be read" in done.stderr
    assert f"{folder}/zero.yaml: note: skipped: not a regular file (a device)" in done.stderr


@pytest.mark.parametrize("kind", ["fifo", "loop", "device"])
def test_a_named_fifo_or_link_loop_is_one_clear_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "m.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.symlink_to("m.yaml")
    done = subprocess.run([sys.executable, "-m", "reconciler", "validate", str(path)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(f"{path}: error: ")
    assert {"fifo": "FIFO", "loop": "symbolic links", "device": "not a regular file"}[kind] \
        in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("verbose", [(), ("-vv",)], ids=["quiet", "vv"])
def test_an_unexpected_error_is_one_line_and_exit_1_never_a_traceback(
        verbose: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    import reconciler.cli

    def broken(paths: object, today: object) -> object:
        raise RuntimeError("secret-looking text that must not be printed")
    monkeypatch.setattr(reconciler.cli, "load", broken)
    monkeypatch.setattr(sys, "argv", ["camsctl", *verbose, "validate", "examples"])
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # -vv installs a fresh handler
    with pytest.raises(SystemExit) as ended:
        reconciler.cli.main()
    assert ended.value.code == 1
    err = capsys.readouterr().err
    # The innermost place in camsctl's own code: where the error came into it.
    assert err.splitlines()[-1] == ("Error: camsctl stopped on an unexpected RuntimeError in "
                                    "cli.py, load_or_exit(). Run it again with -vv for the "
                                    "details, and please report them.")
    if verbose:
        assert "Traceback" in err  # the details, only when asked for
    else:
        assert "Traceback" not in err
        assert "secret-looking" not in err
