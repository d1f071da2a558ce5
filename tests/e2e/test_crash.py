"""An apply killed (SIGKILL) or interrupted (Ctrl-C, SIGTERM) mid-way and run again converges,
and no number is ever sent twice, even when the service lists new numbers only later.

30 spaces with 2 missing numbers each; the emulator answers every call after 100 ms and lists
a new number only 1.5 s after adding it; camsctl keeps 4 calls in flight, so an apply takes a
few seconds and can be stopped while adds are in flight. The stopped run's journal must announce
every add that reached the emulator (an entry is on disk before its call goes out); re-runs must
add exactly what is still missing, never a number that is already there (listed or not yet).
An interrupted run (first SIGINT or SIGTERM) sends no new add, lets those under way finish,
journals them, and says how each ended.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2ekit import (
    APPROVED_WABA,
    Camsctl,
    Emulator,
    EmulatorFactory,
    declared,
    journal_entries,
    manifest,
    plan_json,
    write_yaml,
)

SPACES = 30
PER_SPACE = 2
LATENCY_MS = 100.0
VISIBILITY_MS = 1500.0
WINDOW = 3.0
"""--visibility-window of these applies: over the emulator's delay, short for the test."""
PARALLELISM = ("--parallelism", "4")
MAX_RUNS = 4

Entries = list[dict[str, Any]]


def _fleet(root: Path) -> tuple[dict[str, Any], Path, dict[str, str]]:
    """Emulator state (30 empty spaces), their manifest, and every declared number -> space."""
    spaces = [str(700000000000000 + index) for index in range(1, SPACES + 1)]
    wanted = {f"+86139{index:04d}{line:04d}": space_id
              for index, space_id in enumerate(spaces, start=1)
              for line in range(1, PER_SPACE + 1)}
    state = {"spaces": {space_id: {"waba": APPROVED_WABA, "numbers": []}
                        for space_id in spaces}}
    manifests = write_yaml(root / "manifests" / "fleet.yaml", manifest(*(
        {"id": space_id, "numbers": [declared(phone, f"Line {phone[-4:]}")
                                     for phone, owner in wanted.items() if owner == space_id]}
        for space_id in spaces)))
    return state, manifests, wanted


def _events(entries: Entries, event: str) -> int:
    return sum(1 for entry in entries if entry.get("event") == event)


KILL_POINTS: dict[str, Callable[[Entries], bool]] = {
    "first-send": lambda entries: _events(entries, "sending") >= 1,
    "a-third-added": lambda entries: _events(entries, "added") >= 20,
    "most-added": lambda entries: _events(entries, "added") >= 45,
}


def _live_phones(emulator: Emulator) -> Counter[str]:
    return Counter("+" + n["PhoneNumber"] for listed in emulator.numbers().values()
                   for n in listed)


def _wait_until_quiet(emulator: Emulator) -> None:
    """Let calls the killed client had already sent finish: the emulator commits them anyway."""
    quiet_for = 3 * LATENCY_MS / 1000.0
    deadline = time.monotonic() + 10.0
    last = (emulator.stats()["total_calls"], sum(_live_phones(emulator).values()))
    stable_since = time.monotonic()
    while time.monotonic() - stable_since < quiet_for:
        assert time.monotonic() < deadline, "the emulator never went quiet after the kill"
        time.sleep(0.05)
        now = (emulator.stats()["total_calls"], sum(_live_phones(emulator).values()))
        if now != last:
            last, stable_since = now, time.monotonic()


STOPS = [("first-send", signal.SIGKILL), ("a-third-added", signal.SIGKILL),
         ("most-added", signal.SIGKILL), ("a-third-added", signal.SIGINT),
         ("a-third-added", signal.SIGTERM)]


@pytest.mark.parametrize(("kill_point", "signum"), STOPS,
                         ids=[f"{point}-{signum.name}" for point, signum in STOPS])
def test_apply_stopped_mid_way_converges_on_rerun_without_adding_twice(
        kill_point: str, signum: signal.Signals, serve: EmulatorFactory, camsctl: Camsctl,
        tmp_path: Path) -> None:
    state, manifests, wanted = _fleet(tmp_path)
    emulator = serve(state, latency_ms=LATENCY_MS, visibility_delay_ms=VISIBILITY_MS)
    journal = camsctl.workdir / "journal.jsonl"
    apply_args = ("apply", str(manifests), "--auto-approve", "--journal", str(journal),
                  "--visibility-window", str(WINDOW))

    child = camsctl.start(emulator, *apply_args, global_options=PARALLELISM, log_name="killed")
    reached = KILL_POINTS[kill_point]
    deadline = time.monotonic() + 30.0
    while not reached(journal_entries(journal)):
        if child.poll() is not None:
            pytest.fail(f"apply ended (exit {child.returncode}) before the kill point "
                        f"{kill_point}: {(camsctl.workdir / 'killed.stderr').read_text()}")
        assert time.monotonic() < deadline, f"apply never reached the kill point {kill_point}"
        time.sleep(0.005)
    child.send_signal(signum)
    if signum == signal.SIGKILL:
        assert child.wait(timeout=10) == -signal.SIGKILL
    else:
        # Interrupted: it ends by itself, saying how each add ended, with no traceback.
        assert child.wait(timeout=30) == 1
        out = (camsctl.workdir / "killed.stdout").read_text()
        err = (camsctl.workdir / "killed.stderr").read_text()
        assert "Traceback" not in err
        assert "Interrupted: no further add is sent" in err
        assert "apply was interrupted" in err
        assert sum(f"(space {space_id}): " in out
                   for space_id in set(wanted.values())) == len(set(wanted.values()))
        assert "not sent: apply was interrupted" in out
        # Every add it sent was answered before it stopped: the journal leaves none unsettled.
        entries = journal_entries(journal)
        assert {e["phone"] for e in entries if e["event"] == "sending"} == \
            {e["phone"] for e in entries if e["event"] == "added"}
    _wait_until_quiet(emulator)

    killed_entries = journal_entries(journal)
    announced = {e["phone"] for e in killed_entries if e["event"] == "sending"}
    after_kill = _live_phones(emulator)
    assert set(after_kill) <= set(wanted)
    assert all(count == 1 for count in after_kill.values()), after_kill
    assert len(after_kill) < len(wanted), "the apply finished before it was stopped"
    # Journal before send: every number that reached the emulator was announced on disk first.
    assert set(after_kill) <= announced
    adds_before_rerun = emulator.adds_sent()
    assert adds_before_rerun == len(after_kill)

    journal_size = journal.stat().st_size
    runs = []
    for _ in range(MAX_RUNS):
        run = camsctl.run(emulator, *apply_args, global_options=PARALLELISM)
        runs.append(run)
        assert "Traceback" not in run.stderr
        if run.returncode == 0:
            break
        assert "re-run apply later" in run.stdout, (run.stdout, run.stderr)
        time.sleep(WINDOW)
    assert runs[-1].returncode == 0, [(r.returncode, r.stdout[-500:], r.stderr) for r in runs]

    # Every declared number is live exactly once, in its own space, as a new number.
    final = emulator.numbers()
    assert _live_phones(emulator) == Counter(list(wanted))
    for space_id, listed in final.items():
        assert {"+" + n["PhoneNumber"] for n in listed} == {
            phone for phone, owner in wanted.items() if owner == space_id}
        assert all(n["Status"] == "PENDING" for n in listed)
    # No add was ever sent for a number already present, listed or not yet: one call per
    # number, none refused.
    assert emulator.adds_sent() == len(wanted)
    assert emulator.already_exists_answers() == 0
    # The re-runs announced (and so sent) exactly the numbers that had not reached the service.
    rerun_entries = [json.loads(line) for line in
                     journal.read_bytes()[journal_size:].decode("utf-8").splitlines() if line]
    resent = Counter(e["phone"] for e in rerun_entries if e["event"] == "sending")
    assert resent == Counter(set(wanted) - set(after_kill))

    time.sleep(VISIBILITY_MS / 1000.0)  # the last adds are listed by now
    replanned = camsctl.run(emulator, "plan", str(manifests), "--detailed-exitcode",
                            "--format", "json", global_options=PARALLELISM)
    summary = plan_json(replanned)["summary"]
    assert summary["add"] == 0
    # Nothing to add and nothing unmanaged; the new numbers are PENDING: pending, not drift.
    assert replanned.returncode == 16, replanned.stderr
    assert summary["pending"] == len(wanted) and summary["drift"] == 0
