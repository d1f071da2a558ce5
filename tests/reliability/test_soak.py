"""Soak: hundreds of adds through an emulator that spoils 20 % of the calls, until converged.

The promise under test (issue 6): every declared number ends up added exactly once, in its
own space; no add is ever sent for a number already present (the emulator would answer
``PhoneNumber.AlreadyExists``, and counts it); nothing undeclared is touched; the journal agrees
with the live state; and apply, re-run after failures, converges in a bounded number of runs.

Faults: 5 % each of throttling, HTTP 503, dropped connections and lost answers of committed
adds (``FaultPlan(throttle=0.05, server=0.05, drop=0.05, lost_add=0.05)``). And late visibility:
the emulator lists a new number only 200 ms after adding it, so an add whose answer was lost is
often not listed when re-read; apply must then end it ``unknown`` and never send it again until
the visibility window (1 s here) has passed.

Two modes:

* bounded (default, what CI runs, about half a minute): 200 spaces x 3 missing numbers, seeds
  1-3 driven in process (refresh -> build_plan -> apply_adds with a Journal and fast retries),
  and seed 4 through the real command line (``python -m reconciler --endpoint URL apply
  --auto-approve``) against the emulator on a loopback socket, 50 spaces x 3 (see CLI_SPACES);
* long (``CAMSCTL_SOAK=long python -m pytest tests/reliability/test_soak.py -s -p no:asyncio``,
  several minutes): 1000 spaces x 3 numbers, 20 seeds in process, 3 seeds of 200 x 3 through
  the command line, plus 3 in-process runs at 40 % faults (10 % of each kind).

Each run prints one summary line (run pytest with ``-s`` to see them): the seed, the faults
injected by kind, the adds sent, the ``PhoneNumber.AlreadyExists`` answers (duplicates) and the
number of violated invariants.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from soakkit import (
    ADD,
    ALREADY_EXISTS,
    LATE_VISIBILITY_MS,
    VISIBILITY_WINDOW,
    apply_until_done,
    camsctl_argv,
    check_invariants,
    load_desired,
    make_fleet,
    new_app,
    run_camsctl,
    soak_mode,
    socket_emulator,
    state_json,
    stats_json,
    summary_line,
    twenty_percent,
    workdirs,
)

from reconciler.emulator import FaultPlan
from reconciler.journal import read_journal

LONG = soak_mode() == "long"
SPACES = 1000 if LONG else 200
PER_SPACE = 3
ENGINE_SEEDS = list(range(1, 21)) if LONG else [1, 2, 3]
CLI_SEEDS = [101, 102, 103] if LONG else [4]
CLI_SPACES = 200 if LONG else 50
"""The command line's limiter backs off on every (injected) throttle, as it must, so a CLI run
is slow by design under 5 % throttling: 200 x 3 takes over a minute. The bounded run keeps the
CLI seed to 50 x 3; the 200 x 3 minimum is met by the in-process seeds (and by the long mode)."""
MAX_RUNS = 10
"""Applies allowed before convergence; at 20 % faults one or two suffice in practice."""


def _unknown_per_run(runs: list[dict[str, object]]) -> list[object]:
    return [results.get("unknown", 0) if isinstance(results := run.get("results"), dict)
            else None for run in runs]


def _soak_engine(tmp_path: Path, seed: int, faults: FaultPlan, label: str) -> None:
    fleet = make_fleet(tmp_path, SPACES, PER_SPACE)
    desired = load_desired(fleet.manifest)
    app = new_app(fleet.state, faults, visibility_delay_ms=LATE_VISIBILITY_MS)
    before = state_json(app)
    journal = tmp_path / "journal.jsonl"

    log = apply_until_done(app, desired, journal, MAX_RUNS)

    stats = stats_json(app)
    entries = read_journal(journal)
    # An add left unknown is settled by a later plan that lists it, with no journal entry.
    problems = check_invariants(fleet, before, state_json(app), entries,
                                stats["rejected"].get(ALREADY_EXISTS, 0), journal_may_lag=True)
    print("\n" + summary_line(label, seed, stats, log.count, problems,
                              f" planned_per_run={[r['planned'] for r in log.runs]} "
                              f"unknown_per_run={_unknown_per_run(log.runs)}",
                              numbers=len(fleet.missing)))
    assert log.converged, log.runs
    assert log.runs[0]["planned"] == len(fleet.missing)
    assert problems == [], problems
    # Faults of every kind were met, and each add was committed exactly once.
    assert all(stats["faults"].get(kind, 0) > 0
               for kind in ("throttle", "server", "drop", "lost_add")), stats["faults"]
    assert stats["calls"][ADD] >= len(fleet.missing)


@pytest.mark.parametrize("seed", ENGINE_SEEDS)
def test_soak_engine_20_percent_faults(seed: int, tmp_path: Path) -> None:
    _soak_engine(tmp_path, seed, twenty_percent(seed), "engine")


@pytest.mark.skipif(not LONG, reason="long soak only: CAMSCTL_SOAK=long")
@pytest.mark.parametrize("seed", [201, 202, 203])
def test_soak_engine_40_percent_faults(seed: int, tmp_path: Path) -> None:
    faults = FaultPlan(throttle=0.1, server=0.1, drop=0.1, lost_add=0.1, seed=seed)
    _soak_engine(tmp_path, seed, faults, "engine-40%")


@pytest.mark.parametrize("seed", CLI_SEEDS)
def test_soak_cli_20_percent_faults(seed: int, tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path, CLI_SPACES, PER_SPACE)
    app = new_app(fleet.state, twenty_percent(seed), visibility_delay_ms=LATE_VISIBILITY_MS)
    before = state_json(app)
    home, work, journal = workdirs(tmp_path)
    codes: list[int] = []
    with socket_emulator(app) as url:
        argv = camsctl_argv(url, "apply", str(fleet.manifest), "--auto-approve",
                            "--journal", str(journal),
                            "--visibility-window", str(VISIBILITY_WINDOW))
        for _ in range(MAX_RUNS):
            run = run_camsctl(argv, work, home)
            codes.append(run.returncode)
            assert "Traceback" not in run.stderr, run.stderr
            if run.returncode == 0:
                break
            # A failed run says what failed or stayed unknown, Terraform-style, and which numbers.
            assert ": failed: " in run.stdout or ": unknown: " in run.stdout, \
                (run.stdout, run.stderr)
            if ": unknown: " in run.stdout:
                time.sleep(VISIBILITY_WINDOW)  # "re-run apply later"
        replan = run_camsctl(camsctl_argv(url, "plan", str(fleet.manifest), "--format", "json"),
                             work, home)
    stats = stats_json(app)
    problems = check_invariants(fleet, before, state_json(app), read_journal(journal),
                                stats["rejected"].get(ALREADY_EXISTS, 0), journal_may_lag=True)
    print("\n" + summary_line("cli", seed, stats, len(codes), problems, f" exits={codes}",
                              numbers=len(fleet.missing)))
    assert codes[-1] == 0, (codes, run.stdout[-2000:], run.stderr[-2000:])
    assert "Apply complete:" in run.stdout and ", 0 failed." in run.stdout, run.stdout[-500:]
    assert problems == [], problems
    assert '"add": 0' in replan.stdout, replan.stdout[:500]


def test_the_invariant_checker_sees_every_kind_of_violation(tmp_path: Path) -> None:
    """The checker itself: a clean run passes; a doubled, stray or changed number does not."""
    fleet = make_fleet(tmp_path, 20, 2)
    app = new_app(fleet.state)
    before = state_json(app)
    log = apply_until_done(app, load_desired(fleet.manifest), tmp_path / "j.jsonl", 2)
    after, entries = state_json(app), read_journal(tmp_path / "j.jsonl")
    assert log.converged and check_invariants(fleet, before, after, entries, 0) == []
    spaces = after["spaces"]
    first, second = sorted(fleet.missing.values())[0], "900000000000001"
    spoiled = [
        ("doubled", lambda: spaces[second]["numbers"].append(spaces[first]["numbers"][0])),
        ("changed", lambda: spaces[second]["numbers"][0].update(Status="BANNED")),
        ("removed", lambda: spaces[first]["numbers"].pop()),
    ]
    for name, spoil in spoiled:
        broken = json.loads(json.dumps(after))
        spaces = broken["spaces"]
        spoil()
        assert check_invariants(fleet, before, broken, entries, 0), name
    assert check_invariants(fleet, before, after, entries, 1)  # an AlreadyExists answer
    assert check_invariants(fleet, before, after, entries + entries[-1:], 0)  # added twice
