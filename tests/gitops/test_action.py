"""The composite GitHub Action (action.yml): its metadata, the examples that use it, and its
scripts (action/*), run as the runner would run them: with a fake GITHUB_OUTPUT, GITHUB_ENV
and job summary, against the emulator, a local OIDC token endpoint and a fake GitHub API."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.pytest_plugin import CamsEmulator

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action.yml"
SCRIPTS = REPO / "action"
WORKFLOWS = sorted((REPO / "examples" / "github-actions").glob("*.yml"))
BIN = Path(sys.executable).parent
USES = "OWNER/camsctl@v0"

INPUTS = {"command", "paths", "role-arn", "oidc-provider-arn", "region", "mask-numbers",
          "comment", "changed-since", "plan-file", "max-adds", "ledger", "camsctl-version"}
OUTPUTS = {"exitcode", "add", "drift", "unmanaged", "pending", "plan-file"}


def _metadata() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return loaded


def _tool(name: str) -> str:
    found = shutil.which(name) or str(BIN / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return found


# --- metadata -----------------------------------------------------------------------------


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("check-jsonschema"), "--builtin-schema",
                           "vendor.github-actions", str(path)],
                          capture_output=True, text=True, check=False, timeout=120)


def test_metadata_matches_githubs_schema(tmp_path: Path) -> None:
    done = _check_jsonschema(ACTION)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text().replace("using: composite", "using: compose"))
    assert _check_jsonschema(broken).returncode == 1


def test_declares_the_issues_inputs_and_outputs() -> None:
    meta = _metadata()
    assert meta["runs"]["using"] == "composite"
    assert set(meta["inputs"]) == INPUTS
    assert set(meta["outputs"]) == OUTPUTS
    assert meta["inputs"]["command"]["required"] is True
    for name, output in meta["outputs"].items():
        assert output["value"] == f"${{{{ steps.run.outputs.{name} }}}}"


def test_inputs_reach_scripts_only_through_env() -> None:
    """No ``${{ }}`` expression in any run: text (script injection), every input used is
    declared, and every run: calls a script of action/ that exists."""
    meta = _metadata()
    text = ACTION.read_text()
    used = set(re.findall(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)", text))
    used |= set(re.findall(r"\binputs\.([A-Za-z0-9_-]+)", text))
    assert used <= INPUTS, used - INPUTS
    assert used == INPUTS, f"declared but never used: {INPUTS - used}"
    runs = [step for step in meta["runs"]["steps"] if "run" in step]
    assert len(runs) == 4
    for step in runs:
        assert "${{" not in step["run"], step["run"]
        script = re.fullmatch(r'(?:bash|python) "\$\{GITHUB_ACTION_PATH\}/action/([a-z-]+\.'
                              r'(?:sh|py))"', step["run"])
        assert script, step["run"]
        assert (SCRIPTS / script.group(1)).is_file()
        assert step["shell"] == "bash"


def test_examples_use_the_action_with_its_inputs(tmp_path: Path) -> None:
    """actionlint checks each `with:` against action.yml when the action is local: the
    examples, with `uses: ./`, in a repository holding this action.yml."""
    def lint(replace: tuple[str, str] = ("", "")) -> subprocess.CompletedProcess[str]:
        work = tmp_path / f"repo{len(list(tmp_path.iterdir()))}"
        (work / ".github/workflows").mkdir(parents=True)
        shutil.copy(ACTION, work / "action.yml")
        for workflow in WORKFLOWS:
            text = workflow.read_text()
            assert USES in text, f"{workflow.name} does not use the action"
            (work / ".github/workflows" / workflow.name).write_text(
                text.replace(USES, "./").replace(*replace))
        subprocess.run(["git", "init", "-q"], cwd=work, check=True)
        return subprocess.run([_tool("actionlint"), "-no-color"], cwd=work,
                              capture_output=True, text=True, check=False, timeout=120)

    done = lint()
    assert done.returncode == 0, done.stdout + done.stderr
    typo = lint(("max-adds: 50", "max-add: 50"))
    assert typo.returncode == 1
    assert 'input "max-add" is not defined' in typo.stdout


def test_scripts_are_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run does)")
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert {s.name for s in scripts} == {"install.sh", "oidc-token.sh", "run.sh"}
    done = subprocess.run([shellcheck, "--severity=style", *map(str, scripts)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


# --- running the scripts ------------------------------------------------------------------


class Runner:
    """A runner's environment for one step: a fresh GITHUB_OUTPUT, GITHUB_ENV, job summary
    and RUNNER_TEMP, and nothing of the outer environment but PATH."""

    def __init__(self, tmp_path: Path) -> None:
        self.work = tmp_path / "workspace"
        self.work.mkdir()
        self.temp = tmp_path / "runner-temp"
        self.temp.mkdir()
        self.output = tmp_path / "github-output"
        self.github_env = tmp_path / "github-env"
        self.summary = tmp_path / "step-summary.md"
        for made in (self.output, self.github_env, self.summary):
            made.touch()
        self.env = {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": str(REPO),
            "HOME": str(tmp_path),  # no ~/.aliyun/config.json of the machine's
            "LANG": "C.UTF-8",
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_ENV": str(self.github_env),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_ACTION_PATH": str(REPO),
            "GITHUB_EVENT_NAME": "workflow_dispatch",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_RUN_ATTEMPT": "1",
            "RUNNER_TEMP": str(self.temp),
        }

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        interpreter = "bash" if script.endswith(".sh") else sys.executable
        return subprocess.run([interpreter, str(SCRIPTS / script)], cwd=self.work,
                              env={**self.env, **env}, capture_output=True, text=True,
                              check=False, timeout=60)

    def outputs(self) -> dict[str, str]:
        lines = self.output.read_text().splitlines()
        found = dict(line.split("=", 1) for line in lines)
        assert len(found) == len(lines), f"an output was set twice: {lines}"
        return found


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


# --- install.sh ---------------------------------------------------------------------------


class FakePython:
    """A `python` first on the runner's PATH that records its arguments (install.sh runs
    `python -m pip`), so nothing is installed."""

    def __init__(self, runner: Runner, tmp_path: Path) -> None:
        fake = tmp_path / "fake-bin"
        fake.mkdir()
        self.record = tmp_path / "python-calls"
        (fake / "python").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{self.record}"\n')
        (fake / "python").chmod(0o755)
        runner.env["PATH"] = f"{fake}{os.pathsep}{runner.env['PATH']}"

    def calls(self) -> list[str]:
        return self.record.read_text().splitlines() if self.record.exists() else []


@pytest.fixture
def fake_python(runner: Runner, tmp_path: Path) -> FakePython:
    return FakePython(runner, tmp_path)


def test_install_defaults_to_this_releases_version(runner: Runner,
                                                  fake_python: FakePython) -> None:
    version = re.search(r'^version = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert version
    done = runner.run("install.sh", CAMSCTL_VERSION="")
    assert done.returncode == 0, done.stdout + done.stderr
    assert fake_python.calls() == ["-m pip install --disable-pip-version-check --quiet "
                                   f"cams-reconciler=={version.group(1)}"]


@pytest.mark.parametrize(("given", "installs"), [
    ("0.3.1", "cams-reconciler==0.3.1"),
    ("1.0.0rc1", "cams-reconciler==1.0.0rc1"),
    (f"path:{REPO}", str(REPO)),
])
def test_install_a_version_or_a_source_tree(runner: Runner, fake_python: FakePython,
                                            given: str, installs: str) -> None:
    done = runner.run("install.sh", CAMSCTL_VERSION=given)
    assert done.returncode == 0, done.stdout + done.stderr
    assert fake_python.calls() == [
        f"-m pip install --disable-pip-version-check --quiet {installs}"]


@pytest.mark.parametrize("given", ["--index-url=https://evil.example/simple", "1.0 requests",
                                   "path:/nonexistent/folder"])
def test_install_refuses_anything_else(runner: Runner, fake_python: FakePython,
                                       given: str) -> None:
    done = runner.run("install.sh", CAMSCTL_VERSION=given)
    assert done.returncode == 1
    assert done.stdout.startswith("::error title=camsctl action::")
    assert fake_python.calls() == []


# --- oidc-token.sh ------------------------------------------------------------------------

TOKEN = "eyJhbGciOiJSUzI1NiJ9.github-oidc-test-token.c2ln"
ROLE = "acs:ram::1234567890:role/camsctl-plan"
PROVIDER = "acs:ram::1234567890:oidc-provider/github"


class Recorder(BaseHTTPRequestHandler):
    """One server's handler: ``answer(handler) -> (status, headers, body)``; every request is
    recorded as (method, path, headers, body)."""

    answer: Callable[[Recorder], tuple[int, dict[str, str], bytes]]
    seen: list[tuple[str, str, dict[str, str], bytes]]

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, dict(self.headers), self.body))
        status, headers, body = type(self).answer(self)
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[str, list[tuple[str, str, dict[str, str], bytes]]]]]:
    """``serve(answer)`` starts a local HTTP server; returns (base URL, the requests seen)."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Callable[[Recorder], tuple[int, dict[str, str], bytes]]) \
            -> tuple[str, list[tuple[str, str, dict[str, str], bytes]]]:
        seen: list[tuple[str, str, dict[str, str], bytes]] = []
        handler = type("Handler", (Recorder,), {"answer": staticmethod(answer), "seen": seen})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _token_endpoint(handler: Recorder) -> tuple[int, dict[str, str], bytes]:
    if handler.headers.get("Authorization") != "bearer request-token":
        return 401, {}, b"{}"
    return 200, {}, json.dumps({"count": 1, "value": TOKEN}).encode()


def test_oidc_token_is_written_for_camsctl_and_never_printed(runner: Runner, serve: Any) -> None:
    url, seen = serve(_token_endpoint)
    done = runner.run("oidc-token.sh", ROLE_ARN=ROLE, OIDC_PROVIDER_ARN=PROVIDER,
                      REGION="cn-hangzhou", CAMSCTL_COMMAND="plan",
                      ACTIONS_ID_TOKEN_REQUEST_URL=f"{url}/token?api-version=2.0",
                      ACTIONS_ID_TOKEN_REQUEST_TOKEN="request-token")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(m, p) for m, p, _, _ in seen] == [
        ("GET", "/token?api-version=2.0&audience=sts.aliyuncs.com")]
    exported = dict(line.split("=", 1) for line in runner.github_env.read_text().splitlines())
    token_file = Path(exported.pop("ALIBABA_CLOUD_OIDC_TOKEN_FILE"))
    assert exported == {"ALIBABA_CLOUD_ROLE_ARN": ROLE,
                        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
                        "ALIBABA_CLOUD_ROLE_SESSION_NAME": "camsctl-plan-4242-1",
                        "ALIBABA_CLOUD_REGION_ID": "cn-hangzhou"}
    assert token_file.parent == runner.temp
    assert token_file.read_text() == TOKEN
    assert token_file.stat().st_mode & 0o777 == 0o600
    # The runner hides the token once told to; it appears nowhere else.
    assert [line for line in done.stdout.splitlines() if TOKEN in line] == [
        f"::add-mask::{TOKEN}"]
    assert TOKEN not in done.stderr


def test_oidc_without_id_token_permission_says_so(runner: Runner) -> None:
    done = runner.run("oidc-token.sh", ROLE_ARN=ROLE, OIDC_PROVIDER_ARN=PROVIDER)
    assert done.returncode == 1
    assert done.stdout.startswith("::error title=camsctl action::no OIDC token available: "
                                  "give the job 'permissions: id-token: write'")
    assert runner.github_env.read_text() == ""


@pytest.mark.parametrize(("env", "says"), [
    ({"OIDC_PROVIDER_ARN": ""}, "role-arn is set but oidc-provider-arn is not"),
    ({"ROLE_ARN": f"{ROLE}\nALIBABA_CLOUD_ACCESS_KEY_ID=x"}, "must not be empty or hold"),
])
def test_oidc_refuses_incomplete_or_injected_inputs(runner: Runner, env: dict[str, str],
                                                    says: str) -> None:
    done = runner.run("oidc-token.sh", **{"ROLE_ARN": ROLE, "OIDC_PROVIDER_ARN": PROVIDER,
                                          "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/?a",
                                          "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t", **env})
    assert done.returncode == 1
    assert says in done.stdout
    assert runner.github_env.read_text() == ""


@pytest.mark.parametrize("answer", [(403, {}, b"{}"), (200, {}, b'{"count": 0}'),
                                    (200, {}, b"<html>")])
def test_oidc_endpoint_failures_are_one_error(runner: Runner, serve: Any,
                                              answer: tuple[int, dict[str, str], bytes]) -> None:
    url, _ = serve(lambda handler: answer)
    done = runner.run("oidc-token.sh", ROLE_ARN=ROLE, OIDC_PROVIDER_ARN=PROVIDER,
                      ACTIONS_ID_TOKEN_REQUEST_URL=f"{url}/token?api-version=2.0",
                      ACTIONS_ID_TOKEN_REQUEST_TOKEN="request-token")
    assert done.returncode == 1
    assert "::error title=camsctl action::the GitHub OIDC token" in done.stdout
    assert runner.github_env.read_text() == ""
    assert list(runner.temp.iterdir()) == []


# --- run.sh against the emulator ----------------------------------------------------------


@pytest.fixture
def live(runner: Runner, cams_emulator: CamsEmulator) -> CamsEmulator:
    """The examples' account on a socket, the examples' manifests in the workspace and the
    emulator's key in the environment."""
    cams_emulator.set_state(REPO / "examples/live-state.yaml")
    shutil.copytree(REPO / "examples/manifests", runner.work / "manifests")
    runner.env.update(CAMSCTL_ENDPOINT=cams_emulator.endpoint,
                      ALIBABA_CLOUD_ACCESS_KEY_ID=cams_emulator.access_key_id,
                      ALIBABA_CLOUD_ACCESS_KEY_SECRET=cams_emulator.access_key_secret)
    return cams_emulator


COUNTS = {"add": "2", "drift": "2", "unmanaged": "1", "pending": "1", "acknowledged": "1"}


def test_plan_sets_the_outputs_and_keeps_findings_from_failing(runner: Runner,
                                                               live: CamsEmulator) -> None:
    done = runner.run("run.sh", INPUT_COMMAND="plan", INPUT_PATHS="manifests/",
                      INPUT_MASK_NUMBERS="true")
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = runner.outputs()
    assert outputs.pop("exitcode") == "30"
    plan_file = Path(outputs.pop("plan-file"))
    markdown = Path(outputs.pop("markdown"))
    assert outputs == COUNTS
    assert plan_file.parent.parent == runner.temp
    assert json.loads(plan_file.read_text())["summary"]["add"] == 2
    assert "8613800001234" in plan_file.read_text()  # apply needs the full numbers
    assert markdown.read_text().startswith("### camsctl plan\n\n**Plan: 2 to add, 2 drifted")
    assert runner.summary.read_text().startswith("### camsctl plan\n\n**Plan: 2 to add, ")
    assert "camsctl --no-color plan --out" in done.stdout
    assert "+8613800005678" not in done.stdout + runner.summary.read_text() + \
        markdown.read_text()
    assert live.stats()["calls"].get("AddChatappPhoneNumber", 0) == 0


def test_plan_on_a_pull_request_reads_only_what_it_changes(runner: Runner,
                                                           live: CamsEmulator) -> None:
    for git in (["init", "-q"], ["add", "-A"],
                ["-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-q", "-m",
                 "base"], ["update-ref", "refs/remotes/origin/main", "HEAD"]):
        subprocess.run(["git", *git], cwd=runner.work, check=True, capture_output=True)
    plan_file = runner.work / "out/plan.json"
    done = runner.run("run.sh", INPUT_COMMAND="plan", INPUT_PLAN_FILE=str(plan_file),
                      INPUT_LEDGER="audit/ledger.jsonl", GITHUB_EVENT_NAME="pull_request",
                      GITHUB_BASE_REF="main")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--changed-since origin/main" in done.stdout
    outputs = runner.outputs()
    assert outputs["exitcode"] == "0"
    assert outputs["add"] == "0"
    assert outputs["plan-file"] == str(plan_file)
    assert json.loads(plan_file.read_text())["scope"]["changed_since"] == "origin/main"
    ledger = (runner.work / "audit/ledger.jsonl").read_text().splitlines()
    assert json.loads(ledger[-1])["scope"]["changed_since"] == "origin/main"


def test_validate_annotates_and_fails_on_errors(runner: Runner, live: CamsEmulator) -> None:
    good = runner.run("run.sh", INPUT_COMMAND="validate")
    assert good.returncode == 0, good.stdout + good.stderr
    assert runner.outputs() == {"exitcode": "0"}
    (runner.work / "manifests/bad.yaml").write_text(
        'version: 1\nspaces:\n  - id: 0123\n    numbers: []\n')
    runner.output.write_text("")
    bad = runner.run("run.sh", INPUT_COMMAND="validate", INPUT_PATHS="manifests/bad.yaml")
    assert bad.returncode == 1
    assert "::error file=manifests/bad.yaml,line=3," in bad.stdout
    assert runner.outputs() == {"exitcode": "1"}


def test_drift_fails_on_drift_and_keeps_the_ledger(runner: Runner, live: CamsEmulator) -> None:
    ledger = runner.work / "audit/ledger.jsonl"
    done = runner.run("run.sh", INPUT_COMMAND="drift", INPUT_LEDGER="audit/ledger.jsonl")
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == (
        "::error title=camsctl action::drift (exit bit 4) or unmanaged numbers (bit 8) "
        "found: exit 30")
    assert runner.outputs() == {"exitcode": "30", **COUNTS}
    assert "::warning file=manifests/acme-retail.yaml,line=21,title=camsctl%3A drift::" \
        "+86138****5678" in done.stdout
    assert "+8613800005678" not in done.stdout
    assert "since 20" in runner.summary.read_text()  # the ledger dated the findings
    assert json.loads(ledger.read_text().splitlines()[-1])["summary"]["drift"] == 2


@pytest.mark.parametrize(("live_numbers", "declared", "code", "fails"), [
    ([], [{"phone": "+86 138 0000 1234", "verified_name": "Acme Retail"}], 2, False),
    ([{"PhoneNumber": "8613800009999", "VerifiedName": "Old Line", "Status": "CONNECTED"}],
     [], 8, True),
])
def test_drift_fails_on_unmanaged_numbers_not_on_adds(
        runner: Runner, live: CamsEmulator, live_numbers: list[dict[str, str]],
        declared: list[dict[str, str]], code: int, fails: bool) -> None:
    live.set_state({"spaces": {"293483938849493": {"numbers": live_numbers}}})
    (runner.work / "only.yaml").write_text(yaml.safe_dump(
        {"version": 1, "spaces": [{"id": "293483938849493", "numbers": declared}]}))
    done = runner.run("run.sh", INPUT_COMMAND="drift", INPUT_PATHS="only.yaml",
                      INPUT_MASK_NUMBERS="false")
    assert done.returncode == int(fails), done.stdout + done.stderr
    assert runner.outputs() == {"exitcode": str(code), "add": str(code // 2 % 2), "drift": "0",
                                "unmanaged": str(code // 8), "pending": "0",
                                "acknowledged": "0"}
    assert "+86138000" in done.stdout  # mask-numbers: false


def test_a_plan_that_wrote_no_plan_file_fails(runner: Runner, tmp_path: Path) -> None:
    """Exit 2 is also click's usage error: only the plan file proves a plan ran, and one an
    earlier run left behind proves nothing."""
    fake = tmp_path / "fake-camsctl"
    fake.mkdir()
    (fake / "camsctl").write_text("#!/bin/sh\necho 'Error: No such option' >&2\nexit 2\n")
    (fake / "camsctl").chmod(0o755)
    runner.env["PATH"] = f"{fake}{os.pathsep}{runner.env['PATH']}"
    stale = runner.work / "plan.json"
    stale.write_text(json.dumps({"summary": {"add": 5}}))
    done = runner.run("run.sh", INPUT_COMMAND="plan", INPUT_PLAN_FILE="plan.json")
    assert done.returncode == 1
    assert "camsctl plan exited 2 without a readable plan" in done.stdout
    assert runner.outputs() == {"exitcode": "2"}
    assert not stale.exists()


def test_paths_are_never_read_as_options(runner: Runner, live: CamsEmulator) -> None:
    done = runner.run("run.sh", INPUT_COMMAND="validate", INPUT_PATHS="--help manifests/")
    assert done.returncode == 1
    assert "Usage:" not in done.stdout + done.stderr
    assert "--help" in done.stdout + done.stderr


def test_apply_applies_the_reviewed_plan(runner: Runner, live: CamsEmulator) -> None:
    plan_file = runner.work / "reviewed/plan.json"
    planned = runner.run("run.sh", INPUT_COMMAND="plan", INPUT_PLAN_FILE=str(plan_file))
    assert planned.returncode == 0, planned.stdout + planned.stderr
    runner.output.write_text("")
    done = runner.run("run.sh", INPUT_COMMAND="apply", INPUT_PLAN_FILE="reviewed/plan.json",
                      INPUT_MAX_ADDS="50")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "apply --auto-approve --plan reviewed/plan.json --max-adds 50 --mask-numbers -- " \
        "manifests/" in done.stdout
    assert runner.outputs() == {"exitcode": "0"}
    assert live.stats()["calls"]["AddChatappPhoneNumber"] == 2
    assert (runner.work / ".camsctl/journal.jsonl").exists()
    assert "Apply complete: 2 added" in done.stdout


def test_apply_over_max_adds_fails_the_step(runner: Runner, live: CamsEmulator) -> None:
    done = runner.run("run.sh", INPUT_COMMAND="apply", INPUT_MAX_ADDS="1")
    assert done.returncode == 1
    assert runner.outputs() == {"exitcode": "1"}
    assert "::error title=camsctl action::camsctl apply failed (exit 1)" in done.stdout
    assert live.stats()["calls"].get("AddChatappPhoneNumber", 0) == 0


def test_a_camsctl_error_fails_the_step_with_exitcode_1(runner: Runner,
                                                       live: CamsEmulator) -> None:
    done = runner.run("run.sh", INPUT_COMMAND="plan",
                      ALIBABA_CLOUD_ACCESS_KEY_SECRET="not-the-secret")
    assert done.returncode == 1
    assert runner.outputs() == {"exitcode": "1"}
    assert "not-the-secret" not in done.stdout + done.stderr
    assert "::error title=camsctl action::camsctl plan failed (exit 1)" in done.stdout


@pytest.mark.parametrize(("env", "says"), [
    ({"INPUT_COMMAND": "destroy"}, "command must be validate, plan, apply or drift"),
    ({"INPUT_COMMAND": "apply", "INPUT_MAX_ADDS": "50; rm -rf /"}, "max-adds must be a whole"),
    ({"INPUT_COMMAND": "plan", "INPUT_MASK_NUMBERS": "yes"}, "mask-numbers must be true or"),
    ({"INPUT_COMMAND": "plan", "INPUT_PATHS": " \n "}, "paths is empty"),
    ({"INPUT_COMMAND": "plan", "INPUT_PLAN_FILE": "p.json\nadd=999"}, "must be on one line"),
    ({"INPUT_COMMAND": "drift", "INPUT_REGION": "x\n::add-mask::y"}, "must be on one line"),
])
def test_bad_inputs_are_refused_before_camsctl_runs(runner: Runner, env: dict[str, str],
                                                    says: str) -> None:
    done = runner.run("run.sh", **env)
    assert done.returncode == 1
    assert done.stdout.startswith("::error title=camsctl action::")
    assert says in done.stdout
    assert runner.outputs() == {}


def test_outputs_refuse_what_is_not_a_plan(tmp_path: Path) -> None:
    script = str(SCRIPTS / "outputs.py")
    for text in ("", "{}", '{"summary": {"add": "2"}}', "[1]"):
        (tmp_path / "plan.json").write_text(text)
        done = subprocess.run([sys.executable, script, str(tmp_path / "plan.json")],
                              capture_output=True, text=True, check=False)
        assert (done.returncode, done.stdout) == (1, ""), text


# --- comment.py against a fake GitHub API -------------------------------------------------


class FakeGitHub:
    """Issue comments of pull request 7 of acme/manifests, 100 a page with Link headers."""

    def __init__(self, comments: list[dict[str, Any]], refuse: int | None = None) -> None:
        self.comments = comments
        self.refuse = refuse
        self.base = ""

    def __call__(self, handler: Recorder) -> tuple[int, dict[str, str], bytes]:
        if handler.headers.get("Authorization") != "Bearer gh-token":
            return 401, {}, b'{"message": "Bad credentials"}'
        if self.refuse and handler.command != "GET":
            return self.refuse, {}, b'{"message": "Resource not accessible by integration"}'
        listing = re.fullmatch(r"/repos/acme/manifests/issues/7/comments\?per_page=100"
                               r"(?:&page=(\d+))?", handler.path)
        if handler.command == "GET" and listing:
            page = int(listing.group(1) or 1)
            headers = {}
            if page * 100 < len(self.comments):
                headers["Link"] = (f'<{self.base}/repos/acme/manifests/issues/7/comments?'
                                   f'per_page=100&page={page + 1}>; rel="next", <{self.base}'
                                   '/x?page=9>; rel="last"')
            return 200, headers, json.dumps(self.comments[(page - 1) * 100:page * 100]).encode()
        body = json.loads(handler.body)["body"]
        if handler.command == "POST" and handler.path == "/repos/acme/manifests/issues/7/" \
                "comments":
            made = {"id": 1000 + len(self.comments), "body": body, "user": {"type": "Bot"}}
            self.comments.append(made)
            return 201, {}, json.dumps(made).encode()
        edit = re.fullmatch(r"/repos/acme/manifests/issues/comments/(\d+)", handler.path)
        if handler.command == "PATCH" and edit:
            for comment in self.comments:
                if comment["id"] == int(edit.group(1)):
                    comment["body"] = body
                    return 200, {}, json.dumps(comment).encode()
        return 404, {}, b'{"message": "Not Found"}'


def _comment(runner: Runner, serve: Any, github: FakeGitHub, markdown: str) \
        -> tuple[subprocess.CompletedProcess[str], list[tuple[str, str, dict[str, str], bytes]]]:
    url, seen = serve(github)
    github.base = url
    event = runner.temp / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    plan = runner.temp / "plan.md"
    plan.write_text(markdown)
    done = runner.run("comment.py", GITHUB_API_URL=url, GITHUB_REPOSITORY="acme/manifests",
                      GITHUB_EVENT_PATH=str(event), GITHUB_TOKEN="gh-token",
                      CAMSCTL_MARKDOWN=str(plan))
    return done, seen


def test_comment_is_created_once_then_updated(runner: Runner, serve: Any) -> None:
    others = [{"id": n, "body": f"comment {n}", "user": {"type": "User"}} for n in range(150)]
    github = FakeGitHub(others)
    first, seen = _comment(runner, serve, github, "**Plan: 2 to add.**\n")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout == "Commented the plan on pull request #7\n"
    assert [(m, p) for m, p, _, _ in seen] == [
        ("GET", "/repos/acme/manifests/issues/7/comments?per_page=100"),
        ("GET", "/repos/acme/manifests/issues/7/comments?per_page=100&page=2"),
        ("POST", "/repos/acme/manifests/issues/7/comments")]
    assert github.comments[-1]["body"] == "<!-- camsctl:plan -->\n**Plan: 2 to add.**\n"
    # A human quoting the marker does not take the comment over; the bot's is on page 2.
    github.comments.insert(0, {"id": 999, "body": "<!-- camsctl:plan --> me too",
                               "user": {"type": "User"}})
    second, seen = _comment(runner, serve, github, "No changes.\n")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout == "Updated the plan comment on pull request #7\n"
    assert [(m, p) for m, p, _, _ in seen][-1] == (
        "PATCH", "/repos/acme/manifests/issues/comments/1150")
    assert len(github.comments) == 152
    assert github.comments[-1]["body"] == "<!-- camsctl:plan -->\nNo changes.\n"
    assert github.comments[0]["body"] == "<!-- camsctl:plan --> me too"


def test_a_long_plan_is_cut_to_githubs_limit(runner: Runner, serve: Any) -> None:
    github = FakeGitHub([])
    done, _ = _comment(runner, serve, github, "é" * 70_000)
    assert done.returncode == 0, done.stdout + done.stderr
    body = github.comments[0]["body"]
    assert len(body) == 65_536
    assert body.endswith("*The plan was cut here: it is longer than a comment may be. The job "
                         "summary has all of it.*\n")


def test_a_refused_comment_is_a_warning(runner: Runner, serve: Any) -> None:
    done, _ = _comment(runner, serve, FakeGitHub([], refuse=403), "plan\n")
    assert done.returncode == 0
    assert done.stdout.startswith("::warning title=camsctl action::could not comment the plan "
                                  "on pull request #7 (HTTP 403)")
    assert "gh-token" not in done.stdout + done.stderr
