"""Helpers of the reliability tests: a fleet of spaces, the apply loop, the invariants.

A *fleet* is an emulator state plus a manifest. Most spaces start empty and declare
``per_space`` missing numbers; every fleet also carries things apply must never touch:

* in every tenth declared space, one declared number that is already live (no add may be sent);
* in every seventh declared space, one live number that no manifest declares (unmanaged);
* a few spaces that no manifest declares at all, with numbers of their own.

:func:`check_invariants` compares the emulator's state before and after with the manifest and
the journal, and returns a list of human-readable violations (empty when all holds).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from reconciler.api import CamsError, Credentials, RetryPolicy, open_client
from reconciler.api.credentials import StaticCredentials
from reconciler.apply import Outcome, Result, apply_adds, rereads_within
from reconciler.emulator import EmulatorApp, FaultPlan, InProcessTransport, serve_in_thread
from reconciler.emulator.state import dump_state, parse_state
from reconciler.journal import Journal, adds_in_doubt, possibly_applied, read_journal
from reconciler.loader import load
from reconciler.manifest import Desired
from reconciler.plan import build_plan
from reconciler.refresh import RefreshError, refresh

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)

ADD = "AddChatappPhoneNumber"
ALREADY_EXISTS = "PhoneNumber.AlreadyExists"
KEY = Credentials("emulator", "emulator-secret")
FAST = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01, max_elapsed=10.0)
"""Retries of the in-process runs: the same shape as the CLI's, without the waiting."""

EMULATOR_QPS = 1_000_000.0
"""The emulator's own limiter is out of the way: every throttle met is an injected one."""

WABA = {"Id": "20000000000001", "Name": "Soak WABA", "AccountReviewStatus": "APPROVED"}
RUN_TIMEOUT = 120.0
"""A hang guard for one camsctl child, not a time budget."""

REPO = Path(__file__).resolve().parents[2]
ENDPOINT = "http://127.0.0.1"
"""The endpoint the in-process runs journal under."""

LATE_VISIBILITY_MS = 200.0
"""The soak's emulators list a new number only this long after adding it."""
VISIBILITY_WINDOW = 1.0
"""Seconds the soak's applies allow the service to list a new number (well over the delay)."""


def soak_mode() -> str:
    """``long`` when ``CAMSCTL_SOAK=long``, else ``bounded``."""
    return "long" if os.environ.get("CAMSCTL_SOAK", "").strip().lower() == "long" else "bounded"


def twenty_percent(seed: int) -> FaultPlan:
    """20 % of calls spoiled, 5 % of each kind (lost_add applies to adds only)."""
    return FaultPlan(throttle=0.05, server=0.05, drop=0.05, lost_add=0.05, seed=seed)


def live_number(digits: str, name: str, status: str = "CONNECTED") -> dict[str, str]:
    return {"PhoneNumber": digits, "VerifiedName": name, "Status": status,
            "NameStatus": "APPROVED", "QualityRating": "GREEN"}


@dataclass
class Fleet:
    """The emulator state document, the manifest file, and what the manifest wants added."""

    state: dict[str, Any]
    manifest: Path
    missing: dict[str, str]  # E.164 -> space id: declared, not live at the start
    present: dict[str, str] = field(default_factory=dict)  # declared and live at the start


def make_fleet(root: Path, spaces: int, per_space: int, base: int = 0) -> Fleet:
    """``spaces`` declared spaces with ``per_space`` missing numbers each, plus bystanders.

    Numbers are Chinese mobiles ``+86 139 SSSS LLLL`` (S = space index + ``base``), so two
    fleets with different ``base`` never share a number.
    """
    assert 1 <= spaces <= 9000 - base and 1 <= per_space <= 900
    state: dict[str, Any] = {"spaces": {}}
    declared_spaces = []
    missing: dict[str, str] = {}
    present: dict[str, str] = {}
    for index in range(1, spaces + 1):
        space_id = str(800_000_000_000_000 + base + index)
        block = f"139{base + index:04d}"
        numbers = []
        live: list[dict[str, str]] = []
        for line in range(1, per_space + 1):
            phone = f"+86{block}{line:04d}"
            numbers.append({"phone": phone, "verified_name": f"Soak {index} line {line}"})
            missing[phone] = space_id
        if index % 10 == 0:  # declared and already live: never to be sent
            phone = f"+86{block}0999"
            numbers.append({"phone": phone, "verified_name": f"Soak {index} present"})
            live.append(live_number(phone[1:], f"Soak {index} present"))
            present[phone] = space_id
        if index % 7 == 0:  # live, not declared: unmanaged, never touched
            live.append(live_number(f"86{block}0888", "Unmanaged", "FLAGGED"))
        state["spaces"][space_id] = {"waba": dict(WABA), "numbers": live}
        declared_spaces.append({"id": space_id, "label": f"soak-{index}", "numbers": numbers})
    for extra in range(1, 4):  # spaces nobody declares
        block = f"138{base + extra:04d}"
        state["spaces"][str(900_000_000_000_000 + base + extra)] = {
            "waba": dict(WABA),
            "numbers": [live_number(f"86{block}{line:04d}", f"Bystander {line}")
                        for line in range(1, 4)]}
    path = root / f"fleet-{base}.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "spaces": declared_spaces},
                                   sort_keys=False), encoding="utf-8")
    return Fleet(state=state, manifest=path, missing=missing, present=present)


def load_desired(path: Path) -> Desired:
    result = load([str(path)], today=TODAY)
    assert result.desired is not None, [str(d) for d in result.errors]
    return result.desired


def new_app(state: Mapping[str, Any], faults: FaultPlan | None = None,
            latency_ms: float = 0.0, visibility_delay_ms: float = 0.0) -> EmulatorApp:
    return EmulatorApp(parse_state(copy.deepcopy(dict(state))), qps=EMULATOR_QPS,
                       latency_ms=latency_ms, faults=faults,
                       visibility_delay_ms=visibility_delay_ms)


@dataclass
class RunLog:
    """What the repeated applies did: per run, adds planned and how they ended."""

    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.runs)

    @property
    def converged(self) -> bool:
        return bool(self.runs) and self.runs[-1]["ok"]


async def _one_apply(app: EmulatorApp, desired: Desired, journal: Path, retry: RetryPolicy,
                     window: float) -> tuple[int, tuple[Outcome, ...]]:
    """One apply as the command line does it: the journal's doubts, then the adds."""
    async with open_client(ENDPOINT, qps=100_000, transport=InProcessTransport(app),
                           credentials=StaticCredentials(KEY), retry=retry) as client:
        read_at = datetime.now(UTC)  # doubts are judged when the live state is read
        plan = build_plan(desired, await refresh(client, desired))
        earlier = read_journal(journal)
        doubts = adds_in_doubt(earlier, ENDPOINT, read_at, window)
        with Journal(journal, ENDPOINT) as log:
            return len(plan.adds), await apply_adds(
                client, plan, log, in_doubt=doubts, sent_before=possibly_applied(earlier, ENDPOINT),
                reread_delays=rereads_within(window))


def apply_until_done(app: EmulatorApp, desired: Desired, journal: Path, max_runs: int,
                     retry: RetryPolicy = FAST, window: float = VISIBILITY_WINDOW) -> RunLog:
    """refresh -> plan -> apply, in process, again until a run plans no add and fails none.

    After a run that left adds ``unknown``, the next waits out the visibility window, as
    its message tells a user to.
    """
    log = RunLog()
    for _ in range(max_runs):
        if log.runs and log.runs[-1].get("results", {}).get(Result.UNKNOWN.value):
            time.sleep(window)
        try:
            planned, outcomes = asyncio.run(_one_apply(app, desired, journal, retry, window))
        except (CamsError, RefreshError) as exc:  # a read gave up: a failed run, run again
            log.runs.append({"ok": False, "planned": None, "error": str(exc)})
            continue
        results = Counter(o.result.value for o in outcomes)
        failed = [o.reason for o in outcomes if o.result is Result.FAILED]
        for reason in failed:  # every failure says what happened
            assert reason, "a failed add without a reason"
        log.runs.append({"ok": planned == 0, "planned": planned, "results": dict(results),
                         "failures": failed[:3]})
        if planned == 0:
            break
    return log


# --- the invariants ------------------------------------------------------------------------


def _numbers_by_space(state: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {sid: [dict(n) for n in space.get("numbers", [])]
            for sid, space in state["spaces"].items()}


def check_invariants(fleet: Fleet, before: Mapping[str, Any], after: Mapping[str, Any],
                     journal: list[dict[str, Any]], already_exists: int,
                     journal_may_lag: bool = False) -> list[str]:
    """Every way the run broke its promise, in words; ``[]`` when nothing did.

    ``before``/``after`` are states in the state-file format (``/_emulator/state``). With
    ``journal_may_lag`` (some apply was SIGKILLed, or left adds ``unknown`` that a later plan
    found listed), an add may have only its ``sending`` entry: then every new live number must
    have been announced, and every ``added`` entry must be live.
    """
    problems: list[str] = []
    old, new = _numbers_by_space(before), _numbers_by_space(after)
    if set(old) != set(new):
        problems.append(f"spaces changed: {sorted(set(old) ^ set(new))}")
    # Every live number exactly once, over the whole account.
    everywhere = Counter(n["PhoneNumber"] for listed in new.values() for n in listed)
    doubled = {digits: count for digits, count in everywhere.items() if count > 1}
    if doubled:
        problems.append(f"numbers live more than once: {doubled}")
    # Every declared number live, in its own space; nothing else new.
    expected_new = {phone[1:]: sid for phone, sid in fleet.missing.items()}
    for sid, listed in new.items():
        before_here = [n for n in old.get(sid, [])]
        old_digits = {n["PhoneNumber"] for n in before_here}
        added_here = {n["PhoneNumber"] for n in listed} - old_digits
        wanted_here = {d for d, owner in expected_new.items() if owner == sid}
        if added_here - wanted_here:
            problems.append(f"space {sid}: added, not wanted: {sorted(added_here - wanted_here)}")
        if wanted_here - added_here:
            problems.append(f"space {sid}: still missing: {sorted(wanted_here - added_here)}")
        # Nothing that was there changed (name, status, order of the old entries).
        kept = [n for n in listed if n["PhoneNumber"] in old_digits]
        if kept != before_here:
            problems.append(f"space {sid}: existing numbers changed")
    for sid, space in before["spaces"].items():
        rest_before = {k: v for k, v in space.items() if k != "numbers"}
        rest_after = {k: v for k, v in after["spaces"].get(sid, {}).items() if k != "numbers"}
        if rest_before != rest_after:
            problems.append(f"space {sid}: waba/profiles changed")
    if already_exists:
        problems.append(f"{already_exists} adds were sent for a number already present")
    # The journal agrees with the live state.
    added = Counter((e.get("space"), e.get("phone")) for e in journal if e.get("event") == "added")
    if any(count > 1 for count in added.values()):
        problems.append(f"journal: added twice: {[k for k, c in added.items() if c > 1]}")
    live_new = {("" + sid, "+" + d) for d, sid in expected_new.items()
                if d in {n["PhoneNumber"] for n in new.get(sid, [])}}
    announced = {(e.get("space"), e.get("phone")) for e in journal
                 if e.get("event") == "sending"}
    if journal_may_lag:
        if not live_new <= announced:
            problems.append(f"live but never announced: {sorted(live_new - announced)[:5]}")
        if not set(added) <= live_new:
            problems.append(f"journal 'added' not live: {sorted(set(added) - live_new)[:5]}")
    elif set(added) != live_new:
        problems.append(f"journal 'added' differs from the live state: journal only "
                        f"{sorted(set(added) - live_new)[:5]}, live only "
                        f"{sorted(live_new - set(added))[:5]}")
    touched = {e.get("phone") for e in journal}
    foreign = touched - set(fleet.missing)
    if foreign:
        problems.append(f"journal mentions numbers not to add: {sorted(map(str, foreign))[:5]}")
    return problems


def summary_line(label: str, seed: int, stats: Mapping[str, Any], runs: int,
                 problems: list[str], extra: str = "", numbers: int = 0) -> str:
    faults = dict(sorted(stats["faults"].items()))
    adds = stats["calls"].get(ADD, 0)
    per_number = f" adds_per_number={adds / numbers:.3f}" if numbers else ""
    return (f"[soak] {label} seed={seed} runs={runs} calls={stats['total_calls']} "
            f"adds_sent={adds}{per_number} faults={faults} "
            f"already_exists={stats['rejected'].get(ALREADY_EXISTS, 0)} "
            f"violations={len(problems)}{extra}")


def stats_json(app: EmulatorApp) -> dict[str, Any]:
    return json.loads(json.dumps(app.stats.as_json()))


def state_json(app: EmulatorApp) -> dict[str, Any]:
    return json.loads(json.dumps(dump_state(app.state)))


# --- the real command line -------------------------------------------------------------------


def child_env(home: Path) -> dict[str, str]:
    """camsctl's environment: the emulator's key, an empty HOME, no leaked settings."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("ALIBABA_CLOUD_", "CAMSCTL_"))
           and name not in ("GITHUB_STEP_SUMMARY", "SOURCE_DATE_EPOCH", "NO_COLOR")}
    env.update(HOME=str(home), ALIBABA_CLOUD_ACCESS_KEY_ID=KEY.access_key_id,
               ALIBABA_CLOUD_ACCESS_KEY_SECRET="emulator-secret", PYTHONUNBUFFERED="1")
    return env


def workdirs(root: Path) -> tuple[Path, Path, Path]:
    """An empty HOME and working folder for camsctl under ``root``, and its journal's path."""
    home, work = root / "home", root / "work"
    home.mkdir()
    work.mkdir()
    return home, work, work / "journal.jsonl"


def camsctl_argv(url: str, *args: str, qps: int = 200, parallelism: int = 8) -> list[str]:
    return [sys.executable, "-m", "reconciler", "--endpoint", url, "--qps", str(qps),
            "--parallelism", str(parallelism), *args]


@contextmanager
def socket_emulator(app: EmulatorApp) -> Iterator[str]:
    """``app`` on 127.0.0.1 (a free port) in a thread; yields its URL; always stopped."""
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        yield server.url


def run_camsctl(argv: list[str], workdir: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=workdir, env=child_env(home), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)


@contextmanager
def started(argv: list[str], workdir: Path, home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A camsctl child in the background (output discarded); SIGKILLed if still running."""
    child = subprocess.Popen(argv, cwd=workdir, env=child_env(home), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)


def wait_quiet(app: EmulatorApp, quiet_for: float, limit: float = 10.0) -> None:
    """Wait until the emulator has taken no call for ``quiet_for`` s (calls in flight finish)."""
    deadline = time.monotonic() + limit
    last = app.stats.as_json()["total_calls"]
    since = time.monotonic()
    while time.monotonic() - since < quiet_for:
        assert time.monotonic() < deadline, "the emulator never went quiet"
        time.sleep(0.02)
        now = app.stats.as_json()["total_calls"]
        if now != last:
            last, since = now, time.monotonic()
