"""``--emulator FILE`` keeps its state between commands in one folder, never writes FILE, and
``camsctl emulator reset`` starts again from FILE; a kept state is distrusted when read back.

Every test runs the commands in a folder of its own (``monkeypatch.chdir``): that is what keeps
the kept states of two tests apart, as it keeps those of two checkouts apart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.api.errors import ApiError
from reconciler.cli import cli
from reconciler.emulator import EmulatorApp
from reconciler.emulator.persistence import DEFAULT_FOLDER, StateKeeper, kept_path
from reconciler.emulator.state import StateNotKept, parse_state
from reconciler.journal import DEFAULT_JOURNAL

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SPACE = "293483938849493"
OTHER_SPACE = "120000000000001"
FIRST_PLAN = "Plan: 2 to add, 2 drifted, 1 unmanaged, 1 pending, 1 acknowledged."
AFTER_APPLY = "Plan: 0 to add, 2 drifted, 1 unmanaged, 3 pending, 1 acknowledged."


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of the test's own, with a copy of the example manifests and state file."""
    folder = tmp_path / "work"
    shutil.copytree(EXAMPLES, folder / "examples")
    monkeypatch.chdir(folder)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return folder


def camsctl(*args: str, state: str = "examples/live-state.yaml") -> Result:
    return CliRunner().invoke(cli, ["--no-color", "--emulator", state, *args])


def last_line(result: Result) -> str:
    return result.stdout.rstrip().splitlines()[-1]


def test_the_kept_state_lives_beside_the_journal() -> None:
    assert DEFAULT_FOLDER.parent == DEFAULT_JOURNAL.parent


def test_apply_then_plan_behaves_as_against_the_cloud(work: Path) -> None:
    source = work / "examples/live-state.yaml"
    written = source.read_bytes()
    first = camsctl("plan", "examples/manifests")
    assert first.exit_code == 0 and last_line(first) == FIRST_PLAN
    assert not (work / ".camsctl").exists()  # a command that adds nothing writes nothing

    applied = camsctl("apply", "examples/manifests", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert last_line(applied) == "Apply complete: 2 added, 0 failed."
    again = camsctl("plan", "examples/manifests", "--detailed-exitcode")
    assert last_line(again) == AFTER_APPLY
    assert again.exit_code == 4 | 8 | 16  # drift, unmanaged, pending: no add any more
    assert source.read_bytes() == written  # FILE is never written

    kept = kept_path(source)
    assert kept.parent.resolve() == work / ".camsctl" / "emulator"
    assert kept.name.startswith("live-state-") and kept.suffix == ".json"
    document = json.loads(kept.read_text())
    assert document["origin"]["file"] == str(source.resolve())
    assert "access_keys" not in document and "secret" not in kept.read_text()
    assert sorted(document["lifecycle"]["pending"]) == ["390669881234", "8613800001234"]
    assert [p.name for p in kept.parent.iterdir() if p.name.endswith(".tmp")] == []

    # The same file named another way is the same emulator.
    absolute = camsctl("plan", "examples/manifests", state=str(source))
    assert last_line(absolute) == AFTER_APPLY

    reset = CliRunner().invoke(cli, ["emulator", "reset", "examples/live-state.yaml"])
    assert reset.exit_code == 0 and f"Removed {kept}" in reset.output
    assert last_line(camsctl("plan", "examples/manifests")) == FIRST_PLAN


def test_commands_in_other_folders_do_not_see_each_other(work: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    source = str(work / "examples/live-state.yaml")
    manifests = str(work / "examples/manifests")
    assert camsctl("apply", manifests, "--auto-approve", state=source).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert last_line(camsctl("plan", manifests, state=source)) == FIRST_PLAN
    monkeypatch.chdir(work)
    assert last_line(camsctl("plan", manifests, state=source)) == AFTER_APPLY


def test_two_files_of_one_name_keep_two_states(work: Path) -> None:
    copy = work / "copy" / "live-state.yaml"
    copy.parent.mkdir()
    shutil.copy(work / "examples/live-state.yaml", copy)
    assert kept_path(copy) != kept_path(work / "examples/live-state.yaml")
    assert camsctl("apply", "examples/manifests", "--auto-approve").exit_code == 0
    assert last_line(camsctl("plan", "examples/manifests", state=str(copy))) == FIRST_PLAN


def test_a_changed_file_starts_again_from_it_with_a_note(work: Path) -> None:
    source = work / "examples/live-state.yaml"
    assert camsctl("apply", "examples/manifests", "--auto-approve").exit_code == 0
    source.write_text(source.read_text() + "\n# edited\n")
    result = camsctl("plan", "examples/manifests")
    assert last_line(result) == FIRST_PLAN
    assert result.stderr.startswith(
        f"Note: examples/live-state.yaml changed since the emulator kept its state in "
        f"{kept_path(source)}; starting again from examples/live-state.yaml.")
    assert not kept_path(source).exists()
    assert "Note:" not in camsctl("plan", "examples/manifests").stderr  # said once


def test_reset_forms(work: Path) -> None:
    kept = kept_path(work / "examples/live-state.yaml")
    runner = CliRunner()

    def apply() -> None:
        # The journal holds back adds it sent within --visibility-window: 0, so they are sent
        # again to the emulator started afresh (see the next test).
        done = camsctl("apply", "examples/manifests", "--auto-approve",
                       "--visibility-window", "0")
        assert done.exit_code == 0 and kept.exists(), done.output

    apply()
    done = runner.invoke(cli, ["--emulator", "examples/live-state.yaml", "emulator", "reset"])
    assert done.exit_code == 0 and not kept.exists(), done.output
    apply()
    done = runner.invoke(cli, ["emulator", "reset", "--emulator", "examples/live-state.yaml"])
    assert done.exit_code == 0 and not kept.exists(), done.output
    nothing = runner.invoke(cli, ["emulator", "reset", "examples/live-state.yaml"])
    assert nothing.exit_code == 0 and "Nothing to reset" in nothing.output
    apply()
    everything = runner.invoke(cli, ["emulator", "reset"])
    assert everything.exit_code == 0 and "Removed 1 kept state(s)" in everything.output
    assert not kept.exists()
    both = runner.invoke(cli, ["emulator", "reset", "examples/live-state.yaml", "--emulator",
                               "other.yaml"])
    assert both.exit_code == 2 and "name one state file" in both.output
    # The state file need not exist any more to forget what was kept for it.
    apply()
    (work / "examples/live-state.yaml").unlink()
    gone = runner.invoke(cli, ["emulator", "reset", "examples/live-state.yaml"])
    assert gone.exit_code == 0 and not kept.exists()


def test_reset_says_that_the_journal_still_holds_back_recent_adds(work: Path) -> None:
    assert camsctl("apply", "examples/manifests", "--auto-approve").exit_code == 0
    reset = CliRunner().invoke(cli, ["emulator", "reset"])
    assert "Note: the journal .camsctl/journal.jsonl records adds" in reset.output
    again = camsctl("apply", "examples/manifests", "--auto-approve")
    assert again.exit_code == 0
    assert last_line(again) == "Apply complete: 0 added, 2 awaiting visibility, 0 failed."
    (work / DEFAULT_JOURNAL).unlink()
    assert "Note:" not in CliRunner().invoke(cli, ["emulator", "reset"]).output


def _corrupt(work: Path, content: bytes | None = None, *, fifo: bool = False,
             folder: bool = False) -> Path:
    kept = kept_path(work / "examples/live-state.yaml")
    kept.parent.mkdir(parents=True, exist_ok=True)
    if fifo:
        os.mkfifo(kept)
    elif folder:
        kept.mkdir()
    else:
        assert content is not None
        kept.write_bytes(content)
    return kept


def _origin(work: Path) -> dict[str, object]:
    import hashlib
    raw = (work / "examples/live-state.yaml").read_bytes()
    return {"version": 1, "file": "x", "sha256": hashlib.sha256(raw).hexdigest()}


@pytest.mark.parametrize(("case", "why"), [
    ("not-json", "is not valid"),
    ("not-utf8", "the file is not UTF-8 text"),
    ("a-list", "is not a JSON object"),
    ("no-origin", "does not say which state file it was made from"),
    ("secrets", "holds access_keys, which camsctl never keeps there"),
    ("unknown-space", "has spaces the state file does not have (999)"),
    ("bad-number", "is not valid"),
    ("deep", "nested more than"),
    ("fifo", "cannot be read"),
    ("folder", "cannot be read"),
])
def test_a_corrupt_or_hostile_kept_state_is_one_clear_error(work: Path, case: str,
                                                            why: str) -> None:
    origin = _origin(work)
    good_space = {SPACE: {"numbers": []}}
    contents = {
        "not-json": b'{"origin": ',
        "not-utf8": b'{"origin": "\xff"}',
        "a-list": b"[1, 2]",
        "no-origin": json.dumps({"spaces": good_space}).encode(),
        "secrets": json.dumps({"origin": origin, "spaces": good_space, "access_keys": [
            {"id": "attacker", "secret": "s"}]}).encode(),
        "unknown-space": json.dumps({"origin": origin, "spaces": {"999": {}}}).encode(),
        "bad-number": json.dumps({"origin": origin, "spaces": {SPACE: {"numbers": [
            {"PhoneNumber": 8613800001234}]}}}).encode(),
        "deep": b"[" * 100_000 + b"]" * 100_000,
    }
    kept = _corrupt(work, contents.get(case), fifo=case == "fifo", folder=case == "folder")
    result = camsctl("plan", "examples/manifests")
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: the emulator's kept state"), lines
    assert why in lines[0] and "run `camsctl emulator reset`" in lines[0]
    assert str(kept) in lines[0]
    # And the advice works.
    if case != "folder":
        assert CliRunner().invoke(cli, ["emulator", "reset"]).exit_code == 0
        assert last_line(camsctl("plan", "examples/manifests")) == FIRST_PLAN


def test_a_kept_state_through_a_symbolic_link_is_replaced_not_its_target(work: Path,
                                                                         tmp_path: Path) -> None:
    kept = kept_path(work / "examples/live-state.yaml")
    kept.parent.mkdir(parents=True)
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    kept.symlink_to(target)
    # Read through the link: it is not a kept state, and says so.
    assert camsctl("plan", "examples/manifests").exit_code == 1
    CliRunner().invoke(cli, ["emulator", "reset"])
    assert target.read_text() == "keep me" and not kept.is_symlink()


def _keeper_app(source: Path, folder: Path) -> EmulatorApp:
    keeper = StateKeeper(source, folder)
    return EmulatorApp(keeper.open(), on_change=keeper.save)


def _add(app: EmulatorApp, space: str, national: str) -> None:
    import asyncio

    from reconciler.emulator import open_emulated_client

    async def scenario() -> None:
        async with open_emulated_client(app) as client:
            await client.add_phone_number(space, "86", national, "Acme")
    asyncio.run(scenario())


def test_two_commands_at_once_keep_both_adds(tmp_path: Path) -> None:
    """Both started from the same kept state; each adds; each write merges the other's."""
    source = tmp_path / "state.json"
    source.write_text(json.dumps({"spaces": {SPACE: {}, OTHER_SPACE: {}}}))
    folder = tmp_path / ".camsctl" / "emulator"
    first, second = _keeper_app(source, folder), _keeper_app(source, folder)
    _add(first, SPACE, "13800000001")
    # Not seen by the second yet (it read before): accepted, into another space.
    _add(second, OTHER_SPACE, "13800000001")
    _add(second, OTHER_SPACE, "13800000002")
    _add(first, SPACE, "13800000003")
    kept = StateKeeper(source, folder).open()
    # The number both added stays where the first writer put it.
    assert [n["PhoneNumber"] for n in kept.spaces[SPACE].numbers] == [
        "8613800000001", "8613800000003"]
    assert [n["PhoneNumber"] for n in kept.spaces[OTHER_SPACE].numbers] == ["8613800000002"]
    assert sorted(kept.pending) == ["8613800000001", "8613800000002", "8613800000003"]
    # A writer's state holds the other's adds after its write: it refuses them as the
    # service would.
    assert [n["PhoneNumber"] for n in first.state.spaces[OTHER_SPACE].numbers] == [
        "8613800000002"]
    with pytest.raises(ApiError, match=r"PhoneNumber\.AlreadyExists"):
        _add(second, OTHER_SPACE, "13800000001")


def test_concurrent_processes_lose_no_add(tmp_path: Path) -> None:
    """Many processes each adding numbers to one kept state at once: every add is kept."""
    source = tmp_path / "state.json"
    source.write_text(json.dumps({"spaces": {SPACE: {}}}))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from reconciler.emulator.persistence import StateKeeper\n"
        "from reconciler.emulator.state import EmulatorState\n"
        "source, folder, worker = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])\n"
        "for index in range(10):\n"
        "    keeper = StateKeeper(source, folder)\n"
        "    state = keeper.open()\n"
        f"    state.spaces['{SPACE}'].numbers.append({{'PhoneNumber': f'86138{{worker:03}}"
        "{index:05}', 'Status': 'PENDING'})\n"
        "    keeper.save(state)\n")
    folder = tmp_path / "kept"
    workers = [subprocess.Popen([sys.executable, "-c", script, str(source), str(folder),
                                 str(worker)]) for worker in range(4)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0, 0, 0]
    kept = StateKeeper(source, folder).open()
    assert len(kept.spaces[SPACE].numbers) == 40


def test_a_kept_state_that_cannot_be_written_fails_the_add(tmp_path: Path) -> None:
    source = tmp_path / "state.json"
    source.write_text(json.dumps({"spaces": {SPACE: {}}}))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    keeper = StateKeeper(source, blocker / "emulator")
    with pytest.raises(StateNotKept, match="cannot keep the emulator's state in"):
        keeper.save(parse_state({"spaces": {SPACE: {}}}))


def test_the_readme_main_command_in_a_fresh_clone(tmp_path: Path) -> None:
    """In a subprocess, as a user types it: the plan of the README, and nothing written."""
    clone = tmp_path / "clone"
    shutil.copytree(EXAMPLES, clone / "examples")
    done = subprocess.run([sys.executable, "-m", "reconciler", "--emulator",
                           "examples/live-state.yaml", "plan", "examples/manifests"],
                          cwd=clone, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == FIRST_PLAN
    assert sorted(p.name for p in clone.iterdir()) == ["examples"]
