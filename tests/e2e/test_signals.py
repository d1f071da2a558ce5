"""Signals people act on, end to end on a socket: pending numbers (issue 14).

Every number apply adds is PENDING until WhatsApp verifies it. The plan right after an apply
must not be red: no bit 2 (nothing left to add), no bit 4 (not drift), bit 16 (pending). Once
the service lists the numbers CONNECTED, the plan is clean: exit 0.
"""

from __future__ import annotations

from pathlib import Path

from e2ekit import (
    APPROVED_WABA,
    Camsctl,
    EmulatorFactory,
    declared,
    manifest,
    plan_json,
    write_yaml,
)

SPACE = "610000000000001"


def test_numbers_just_added_are_pending_then_clean_once_connected(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    emulator = serve({"spaces": {SPACE: {"waba": APPROVED_WABA, "numbers": []}}})
    manifests = write_yaml(tmp_path / "m" / "fleet.yaml", manifest(
        {"id": SPACE, "numbers": [declared("+86 138 0000 1111", "Acme One"),
                                  declared("+86 138 0000 2222", "Acme Two")]}))
    applied = camsctl.run(emulator, "apply", "--auto-approve", str(manifests))
    assert applied.returncode == 0, applied.stderr

    after = camsctl.run(emulator, "plan", "--detailed-exitcode", str(manifests))
    assert after.returncode == 16, after.stdout + after.stderr
    assert "> +8613800001111  pending: PENDING (WhatsApp is still verifying it)" in after.stdout
    assert after.stdout.splitlines()[-1] == \
        "Plan: 0 to add, 0 drifted, 0 unmanaged, 2 pending."
    document = plan_json(camsctl.run(emulator, "plan", "--format", "json", str(manifests)))
    assert document["format_version"] == "1.1"
    assert [(p["phone"], p["status"]) for p in document["pending"]] == [
        ("+8613800001111", "PENDING"), ("+8613800002222", "PENDING")]
    assert document["drift"] == [] and document["summary"]["pending"] == 2
    drift = camsctl.run(emulator, "drift", str(manifests))
    assert drift.returncode == 16, drift.stdout + drift.stderr

    # WhatsApp verifies them.
    for number in emulator.app.state.spaces[SPACE].numbers:
        number["Status"] = "CONNECTED"
    clean = camsctl.run(emulator, "plan", "--detailed-exitcode", str(manifests))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.strip() == "No changes. Live state matches the manifests."
