"""SIGKILL ``camsctl apply`` at random moments, several times, then re-run: it converges.

30 spaces x 2 missing numbers; the emulator (on a loopback socket) answers every call after
100 ms and camsctl keeps 4 calls in flight, so an apply lasts about three seconds. Each seed
draws its kill points at random: either a delay after the start (which may fall before, during
or after the adds) or a count of ``sending`` journal entries to wait for. The points are printed
(``-s``). After every kill, and at the end: no number is live twice, nothing undeclared
changed, no add was ever sent for a number already present (zero ``PhoneNumber.
AlreadyExists``), and every number that reached the emulator was announced in the journal first.
tests/e2e/test_crash.py kills at three fixed points; this file draws them from a seed.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from soakkit import (
    ALREADY_EXISTS,
    camsctl_argv,
    check_invariants,
    make_fleet,
    new_app,
    run_camsctl,
    socket_emulator,
    started,
    state_json,
    stats_json,
    wait_quiet,
    workdirs,
)

from reconciler.journal import read_journal

SPACES = 30
PER_SPACE = 2
LATENCY_MS = 100.0
KILLS = 3
MAX_FINAL_RUNS = 3
SEEDS = [11, 12, 13]


def _live_new(app_state: dict[str, object], wanted: dict[str, str]) -> Counter[str]:
    spaces = app_state["spaces"]
    assert isinstance(spaces, dict)
    return Counter("+" + n["PhoneNumber"] for space in spaces.values()
                   for n in space.get("numbers", []) if "+" + n["PhoneNumber"] in wanted)


@pytest.mark.parametrize("seed", SEEDS)
def test_apply_killed_at_random_points_converges_without_duplicates(
        seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    fleet = make_fleet(tmp_path, SPACES, PER_SPACE, base=seed * 100)
    app = new_app(fleet.state, latency_ms=LATENCY_MS)
    before = state_json(app)
    home, work, journal = workdirs(tmp_path)
    points: list[str] = []
    with socket_emulator(app) as url:
        # A kill between an add's journal entry and its call leaves an add nobody can tell
        # about: apply re-reads it until the visibility window (1 s here) has passed.
        argv = camsctl_argv(url, "apply", str(fleet.manifest), "--auto-approve",
                            "--journal", str(journal), "--visibility-window", "1",
                            parallelism=4)
        for _ in range(KILLS):
            sent_before = sum(1 for e in read_journal(journal) if e["event"] == "sending")
            missing = len(fleet.missing) - sum(_live_new(state_json(app), fleet.missing).values())
            if missing == 0:
                points.append("nothing left to kill")
                break
            if rng.random() < 0.5:
                point = ("delay", round(rng.uniform(0.5, 3.0), 3))
            else:
                point = ("sendings", rng.randint(1, missing))
            with started(argv, work, home) as child:
                start = time.monotonic()
                while child.poll() is None:
                    assert time.monotonic() - start < 60, "apply neither ended nor reached it"
                    if point[0] == "delay" and time.monotonic() - start >= point[1]:
                        break
                    if point[0] == "sendings":
                        sent = sum(1 for e in read_journal(journal) if e["event"] == "sending")
                        if sent - sent_before >= point[1]:
                            break
                    time.sleep(0.005)
                finished = child.poll() is not None
                if not finished:
                    child.send_signal(signal.SIGKILL)
                    assert child.wait(timeout=10) == -signal.SIGKILL
            wait_quiet(app, quiet_for=3 * LATENCY_MS / 1000.0)
            state = state_json(app)
            live = _live_new(state, fleet.missing)
            points.append(f"{point[0]}={point[1]}->{'finished' if finished else 'killed'}"
                          f"@{sum(live.values())}/{len(fleet.missing)}")
            # After each kill: nothing doubled, nothing refused, everything live announced.
            assert all(count == 1 for count in live.values()), live
            assert stats_json(app)["rejected"].get(ALREADY_EXISTS, 0) == 0
            problems = [p for p in check_invariants(
                fleet, before, state, read_journal(journal), 0, journal_may_lag=True)
                if "still missing" not in p]  # the adds still to do are expected to be missing
            assert problems == [], problems

        runs = []
        for _ in range(MAX_FINAL_RUNS):
            runs.append(run_camsctl(argv, work, home))
            if runs[-1].returncode == 0:
                break
            time.sleep(1.0)  # "re-run apply later": after the visibility window
    stats = stats_json(app)
    problems = check_invariants(fleet, before, state_json(app), read_journal(journal),
                                stats["rejected"].get(ALREADY_EXISTS, 0), journal_may_lag=True)
    print(f"\n[crash] seed={seed} points={points} final_runs={len(runs)} "
          f"adds_sent={stats['calls'].get('AddChatappPhoneNumber', 0)} "
          f"wanted={len(fleet.missing)} already_exists="
          f"{stats['rejected'].get(ALREADY_EXISTS, 0)} violations={len(problems)}")
    assert runs[-1].returncode == 0, [(r.returncode, r.stdout[-800:], r.stderr[-800:])
                                      for r in runs]
    assert "Traceback" not in "".join(r.stderr for r in runs)
    assert problems == [], problems
    # No faults here, so no add was ever lost: exactly one call per declared number.
    assert stats["calls"]["AddChatappPhoneNumber"] == len(fleet.missing)
