"""camsctl in CI: workflow examples lint clean and their commands work; annotations; the hook."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.views.github import annotation

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / "examples" / "github-actions").glob("*.yml"))
GITLAB = REPO / "examples" / "gitlab-ci" / ".gitlab-ci.yml"


def _actionlint() -> str:
    found = shutil.which("actionlint") or str(Path(sys.executable).with_name("actionlint"))
    if not Path(found).exists():
        pytest.fail("actionlint is not installed: pip install -e '.[dev]'")
    return found


def test_workflows_lint_clean() -> None:
    assert {w.name for w in WORKFLOWS} == {"plan.yml", "apply.yml", "drift.yml"}
    done = subprocess.run([_actionlint(), "-no-color", *map(str, WORKFLOWS)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text((REPO / "examples/github-actions/plan.yml").read_text()
                      .replace("runs-on: ubuntu-latest", "runs-on: ${{ matrix.os }}"))
    done = subprocess.run([_actionlint(), "-no-color", str(broken)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 1


def test_permissions_are_least_privilege() -> None:
    granted = {w.stem: yaml.safe_load(w.read_text())["permissions"] for w in WORKFLOWS}
    assert granted["plan"] == {"contents": "read", "pull-requests": "write",
                               "id-token": "write"}
    assert granted["drift"] == {"contents": "read", "id-token": "write"}
    assert granted["apply"] == {"contents": "read", "actions": "read",
                                "pull-requests": "read", "id-token": "write"}
    for workflow in WORKFLOWS:
        text = workflow.read_text()
        assert "ACCESS_KEY" not in text, f"{workflow.name} must stay keyless"


def _scripts() -> list[tuple[str, str]]:
    """(file, shell text) of every step the CI examples run."""
    found = []
    for workflow in WORKFLOWS:
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            found += [(workflow.name, step["run"]) for step in job["steps"] if "run" in step]
    for job in yaml.safe_load(GITLAB.read_text()).values():
        if isinstance(job, dict):
            for key in ("before_script", "script"):
                found += [(GITLAB.name, line) for line in job.get(key, [])]
    return found


def _camsctl_commands() -> list[tuple[str, list[str]]]:
    """Every camsctl command line the CI examples run (continuation lines joined)."""
    commands = []
    for where, script in _scripts():
        for line in script.replace("\\\n", " ").splitlines():
            match = re.match(r"\s*camsctl (.+?)(?:;|>|$)", line)
            if match:
                commands.append((where, shlex.split(match.group(1))))
    return commands


COMMANDS = _camsctl_commands()


@pytest.mark.parametrize(("where", "args"), COMMANDS,
                         ids=[f"{w}:{' '.join(a[:3])}" for w, a in COMMANDS])
def test_every_documented_command_runs(where: str, args: list[str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    command = next(arg for arg in args if not arg.startswith("-"))
    if command not in cli.commands:
        pytest.skip(f"camsctl {command} is not on this branch yet (drift.yml calls it)")
    monkeypatch.chdir(tmp_path)
    shutil.copytree(REPO / "examples/manifests", tmp_path / "manifests")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    # A pull request's checkout: the manifests committed on the base branch, origin/main.
    for git in (["init", "-q"], ["add", "-A"],
                ["-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-q", "-m",
                 "base"], ["update-ref", "refs/remotes/origin/main", "HEAD"]):
        subprocess.run(["git", *git], cwd=tmp_path, check=True, capture_output=True)
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    # The GitLab job's $scope on a merge request.
    scope = ["--changed-since", "origin/main"]
    args = [expanded for arg in args
            for expanded in (scope if arg == "$scope" else [os.path.expandvars(arg)])]
    # The reviewed plan the apply steps read.
    runner = CliRunner()
    state = str(REPO / "examples/live-state.yaml")
    made = runner.invoke(cli, ["--emulator", state, "plan", "manifests/", "--out",
                               "reviewed/plan.json"])
    assert made.exit_code == 0
    shutil.copy(tmp_path / "reviewed/plan.json", tmp_path / "plan.json")
    if command == "report":  # the ledger the audit step before it kept
        ledger = args[args.index("report") + 1]
        audit = runner.invoke(cli, ["--emulator", state, "drift", "manifests/", "--ledger",
                                    ledger])
        assert audit.exit_code == 30, audit.output
    result = runner.invoke(cli, ["--emulator", state, *args])
    assert result.exit_code != 2, f"{where}: usage error: {result.output}"
    assert result.exit_code in (0, 2 | 4 | 8 | 16), f"{where}: {result.output}"


def _checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work where `examples/` and `tests/` are the repository's, in a folder of the test's own:
    a state `--emulator` kept in the repository (by someone trying apply) plays no part."""
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("examples", "tests"):
        (work / name).symlink_to(REPO / name)
    monkeypatch.chdir(work)


def test_github_annotations_point_at_manifest_lines(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _checkout(tmp_path, monkeypatch)
    result = CliRunner().invoke(cli, ["validate", "--format", "github",
                                      "tests/data/bad/unknown-space-key.yaml"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        "::error file=tests/data/bad/unknown-space-key.yaml,line=4,col=5,title=camsctl "
        "validate::unknown key 'lable' in spaces[0]; did you mean 'label'?")
    plan = CliRunner().invoke(cli, ["--emulator", "examples/live-state.yaml", "plan",
                                    "examples/manifests", "--format", "github",
                                    "--mask-numbers"])
    lines = plan.stdout.splitlines()
    assert "::warning file=examples/manifests/acme-retail.yaml,line=21,col=9,title=camsctl%3A "\
        "drift::+86138****5678 in space 293483938849493: verified_name is ACME, declared " \
        "Acme Retail (reported, never changed)" in lines
    assert any(line.startswith("::notice file=examples/manifests/globex.yaml,line=14,")
               for line in lines)
    assert lines[-1] == "Plan: 2 to add, 2 drifted, 1 unmanaged, 1 pending, 1 acknowledged."
    assert "+8613800005678" not in plan.stdout


def test_annotation_escaping() -> None:
    from reconciler.diagnostics import Location
    line = annotation("error", "50% done\nnext", Location("a,b:c.yaml", 3, 1), "t: x")
    assert line == "::error file=a%2Cb%3Ac.yaml,line=3,col=1,title=t%3A x::50%25 done%0Anext"


def test_drift_appends_markdown_to_the_step_summary(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _checkout(tmp_path, monkeypatch)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    CliRunner().invoke(cli, ["--emulator", "examples/live-state.yaml", "drift",
                             "examples/manifests", "--mask-numbers"])
    text = summary.read_text()
    assert text.startswith("### camsctl plan\n\n**Plan: 2 to add, 2 drifted, 1 unmanaged, "
                           "1 pending, 1 acknowledged.**")
    assert "+8613800009999" not in text


def test_pre_commit_hook_validates_manifests(tmp_path: Path) -> None:
    pre_commit = str(Path(sys.executable).with_name("pre-commit"))
    work = tmp_path / "user-repo"
    (work / "manifests").mkdir(parents=True)
    (work / "manifests/good.yaml").write_text(
        'version: 1\nspaces:\n  - id: "1"\n    numbers:\n'
        '      - {phone: "+86 138 0000 1234", verified_name: A}\n')
    (work / "notes.yaml").write_text("not: a manifest\n")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True,
                              check=False, timeout=600)

    run("git", "init", "-q")
    run("git", "add", ".")
    good = run(pre_commit, "try-repo", str(REPO), "camsctl-validate", "--all-files")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "camsctl validate" in good.stdout and "Passed" in good.stdout
    (work / "manifests/bad.yaml").write_text('version: 1\nspaces:\n  - id: 0123\n'
                                             '    numbers: []\n')
    run("git", "add", ".")
    bad = run(pre_commit, "try-repo", str(REPO), "camsctl-validate", "--all-files")
    assert bad.returncode == 1
    assert "manifests/bad.yaml:3:9: error: spaces[0].id must be a string" in bad.stdout
