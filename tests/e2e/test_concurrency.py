"""Eventual consistency and concurrent applies: a number is never added twice.

- A service that lists a new number only after a delay: a re-run moments after an apply trusts
  the journal (``added, awaiting visibility``) instead of sending the add again.
- Two applies at once on one machine: the lock beside the journal makes the second wait, then
  plan from what the first left. Across machines (no shared lock) the service refuses the
  second add and apply reports ``already-present``: still one number, never two.
"""

from __future__ import annotations

import time
from pathlib import Path

from e2ekit import (
    APPROVED_WABA,
    Camsctl,
    EmulatorFactory,
    declared,
    journal_entries,
    manifest,
    write_yaml,
)

SPACES = [f"70000000000{i:04d}" for i in range(4)]


def _inputs(tmp_path: Path, per_space: int = 2) -> tuple[dict[str, object], Path]:
    state = {"spaces": {sid: {"waba": APPROVED_WABA, "numbers": []} for sid in SPACES}}
    spaces = [{"id": sid, "numbers": [declared(f"+86 139 {i:04d} {j:04d}", f"Line {i}-{j}")
                                      for j in range(per_space)]}
              for i, sid in enumerate(SPACES)]
    return state, write_yaml(tmp_path / "manifests" / "m.yaml", manifest(*spaces))


def test_rerun_moments_after_an_add_does_not_add_it_again(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _inputs(tmp_path)
    emulator = serve(state, visibility_delay_ms=60_000)
    first = camsctl.run(emulator, "apply", "--auto-approve", str(manifests))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "Apply complete: 8 added, 0 failed."
    # The service does not list them yet: a plan would add them all again...
    assert '"add": 8' in camsctl.run(emulator, "plan", str(manifests), "--format",
                                     "json").stdout
    # ...but apply trusts its journal and sends nothing.
    again = camsctl.run(emulator, "apply", "--auto-approve", str(manifests))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == \
        "Apply complete: 0 added, 8 awaiting visibility, 0 failed."
    assert "added, awaiting visibility (RequestId " in again.stdout
    assert emulator.adds_sent() == 8
    assert emulator.already_exists_answers() == 0
    events = [e["event"] for e in journal_entries(camsctl.workdir / ".camsctl/journal.jsonl")]
    assert events.count("awaiting-visibility") == 8


def test_outside_the_window_the_journal_is_not_trusted(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _inputs(tmp_path, per_space=1)
    emulator = serve(state, visibility_delay_ms=60_000)
    assert camsctl.run(emulator, "apply", "--auto-approve", str(manifests)).returncode == 0
    again = camsctl.run(emulator, "apply", "--auto-approve", "--visibility-window", "0",
                        str(manifests))
    # The add is sent again, the service refuses it, the space does not list it yet: reported
    # as unknown (re-run later), neither hidden nor called a failure.
    assert again.returncode == 1
    assert "PhoneNumber.AlreadyExists" in again.stdout
    assert "Apply complete: 0 added, 4 unknown (re-run apply later), 0 failed." in again.stdout
    assert emulator.adds_sent() == 4 + 4  # each run sent its 4 adds
    assert sum(len(numbers) for numbers in emulator.numbers().values()) == 4


def test_two_applies_at_once_on_one_machine_add_each_number_once(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _inputs(tmp_path, per_space=3)
    emulator = serve(state, latency_ms=150)
    one = camsctl.start(emulator, "apply", "--auto-approve", str(manifests), log_name="one")
    time.sleep(0.2)
    two = camsctl.start(emulator, "apply", "--auto-approve", str(manifests), log_name="two")
    assert one.wait(timeout=60) == 0
    assert two.wait(timeout=60) == 0
    outputs = {name: (camsctl.workdir / f"{name}.stdout").read_text()
               for name in ("one", "two")}
    assert outputs["one"].splitlines()[-1] == "Apply complete: 12 added, 0 failed."
    # The second waited for the lock, then planned from the first one's result.
    assert "waiting for another apply" in (camsctl.workdir / "two.stderr").read_text()
    assert "No changes" in outputs["two"] or "Apply complete: 0 added" in outputs["two"]
    assert emulator.adds_sent() == 12
    assert emulator.already_exists_answers() == 0
    numbers = [n["PhoneNumber"] for ns in emulator.numbers().values() for n in ns]
    assert len(numbers) == len(set(numbers)) == 12


def test_across_machines_the_service_refuses_the_second_add(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = _inputs(tmp_path, per_space=3)
    emulator = serve(state, latency_ms=150)
    # Two journals in two folders: two "machines", no shared lock.
    one = camsctl.start(emulator, "apply", "--auto-approve", "--journal", "a/journal.jsonl",
                        str(manifests), log_name="one")
    two = camsctl.start(emulator, "apply", "--auto-approve", "--journal", "b/journal.jsonl",
                        str(manifests), log_name="two")
    assert one.wait(timeout=60) == 0
    assert two.wait(timeout=60) == 0
    numbers = [n["PhoneNumber"] for ns in emulator.numbers().values() for n in ns]
    assert len(numbers) == len(set(numbers)) == 12
    # Any add that both sent was refused once and reported already-present, not failed.
    assert emulator.adds_sent() == 12 + emulator.already_exists_answers()
