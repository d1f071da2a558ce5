"""Pull-request plans that cost what the PR changes (issue 15), end to end on a socket.

A real git repository is made in the test: manifests are committed, then changed in the work
tree the way a pull request changes them; ``plan --changed-since`` must read only the changed
spaces (call counts asserted on the emulator) and say so first.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2ekit import (
    APPROVED_WABA,
    Camsctl,
    EmulatorFactory,
    declared,
    manifest,
    plan_json,
    write_yaml,
)

LIST = "QueryChatappPhoneNumbers"
SPACES = [f"70000000000000{i}" for i in range(1, 6)]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout


def _space(index: int, name: str = "Line") -> dict[str, Any]:
    return {"id": SPACES[index], "numbers": [declared(f"+86 139 0000 00{index}1", name)]}


@pytest.fixture
def repo(camsctl: Camsctl) -> Path:
    """A repository whose last commit declares five spaces in two files."""
    root = camsctl.workdir
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "ci@example.com")
    _git(root, "config", "user.name", "CI")
    write_yaml(root / "manifests" / "a.yaml", manifest(*(_space(i) for i in range(3))))
    write_yaml(root / "manifests" / "b.yaml", manifest(*(_space(i) for i in range(3, 5))))
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    return root


def _emulator(serve: EmulatorFactory) -> Any:
    return serve({"spaces": {sid: {"waba": APPROVED_WABA, "numbers": []} for sid in SPACES}})


def test_a_pr_plan_reads_only_the_changed_space(serve: EmulatorFactory, camsctl: Camsctl,
                                                repo: Path) -> None:
    emulator = _emulator(serve)
    # The PR renames the number of space 1 and moves space 4 from b.yaml to a new file.
    write_yaml(repo / "manifests" / "a.yaml", manifest(_space(0), _space(1, "Renamed"),
                                                       _space(2)))
    write_yaml(repo / "manifests" / "b.yaml", manifest(_space(3)))
    write_yaml(repo / "manifests" / "c.yaml", manifest(_space(4)))
    before = emulator.stats()["calls"].get(LIST, 0)
    run = camsctl.run(emulator, "plan", "--changed-since", "main", "manifests")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == \
        "Scope: 1 of 5 declared spaces changed since main; the other 4 were not read."
    assert SPACES[1] in run.stdout and SPACES[0] not in run.stdout
    assert emulator.stats()["calls"].get(LIST, 0) - before == 1

    document = plan_json(camsctl.run(emulator, "plan", "--format", "json", "--changed-since",
                                     "main", "manifests"))
    assert document["scope"] == {"changed_since": "main", "declared": 5, "read": [SPACES[1]]}


def test_apply_changed_since_adds_only_in_changed_spaces_and_a_scoped_saved_plan_applies(
        serve: EmulatorFactory, camsctl: Camsctl, repo: Path) -> None:
    emulator = _emulator(serve)
    write_yaml(repo / "manifests" / "b.yaml", manifest(
        _space(3), {"id": SPACES[4], "numbers": [declared("+86 139 0000 0041", "Line"),
                                                 declared("+86 139 0000 0042", "New")]}))
    applied = camsctl.run(emulator, "apply", "--auto-approve", "--changed-since", "main",
                          "manifests")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[0].startswith("Scope: 1 of 5 declared spaces")
    assert emulator.adds_sent() == 2  # both numbers of the changed space, none elsewhere
    assert [n["PhoneNumber"] for n in emulator.numbers()[SPACES[4]]] == [
        "8613900000041", "8613900000042"]
    assert all(not emulator.numbers()[sid] for sid in SPACES[:4])

    write_yaml(repo / "manifests" / "a.yaml", manifest(_space(0, "Changed"), _space(1),
                                                       _space(2)))
    saved = camsctl.workdir / "pr.plan.json"
    planned = camsctl.run(emulator, "plan", "--changed-since", "main", "--out", str(saved),
                          "manifests")
    assert planned.returncode == 0, planned.stderr
    from_file = camsctl.run(emulator, "apply", "--plan", str(saved), "manifests")
    assert from_file.returncode == 0, from_file.stderr
    assert emulator.adds_sent() == 3
    assert [n["PhoneNumber"] for n in emulator.numbers()[SPACES[0]]] == ["8613900000001"]


def test_unknown_ref_outside_a_work_tree_and_a_broken_base(
        serve: EmulatorFactory, camsctl: Camsctl, repo: Path, tmp_path: Path) -> None:
    emulator = _emulator(serve)
    unknown = camsctl.run(emulator, "plan", "--changed-since", "no-such-branch", "manifests")
    assert unknown.returncode == 1
    assert "Error: unknown git revision 'no-such-branch'" in unknown.stderr

    outside = write_yaml(tmp_path / "elsewhere" / "m.yaml", manifest(_space(0)))
    lost = camsctl.run(emulator, "plan", "--changed-since", "main", str(outside))
    assert lost.returncode == 1
    assert "is not in a git work tree" in lost.stderr

    # A base whose manifests do not load: every space counts as changed, with a warning.
    (repo / "manifests" / "a.yaml").write_text("version: 1\nspaces: [{id: 1}]\n")
    _git(repo, "commit", "-q", "-am", "broken")
    write_yaml(repo / "manifests" / "a.yaml", manifest(*(_space(i) for i in range(3))))
    broken = camsctl.run(emulator, "plan", "--changed-since", "HEAD", "manifests")
    assert broken.returncode == 0, broken.stderr
    assert "Warning: the manifests at HEAD do not load" in broken.stderr
    assert broken.stdout.splitlines()[0].startswith("Scope: 5 of 5 declared spaces")


def test_a_saved_plan_keeps_its_scope(serve: EmulatorFactory, camsctl: Camsctl,
                                      repo: Path) -> None:
    emulator = _emulator(serve)
    refused = camsctl.run(emulator, "apply", "--plan", "x.json", "--changed-since", "main",
                          "manifests")
    assert refused.returncode == 2 and "keeps the scope it was made with" in refused.stderr
