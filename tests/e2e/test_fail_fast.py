"""A failure no space could escape ends the run after at most three calls, with one error
(toward issue 13).

Before, a wrong secret or a dead endpoint gave one identical error per space, each spending a
call of the account's quota (and, for a dead endpoint, its retries).
"""

from __future__ import annotations

from pathlib import Path

from e2ekit import Camsctl, EmulatorFactory, one_number_fleet

from reconciler.refresh import PROBES

SPACES = 30


def test_a_wrong_secret_costs_at_most_three_calls_and_gives_one_error(
        serve: EmulatorFactory, camsctl: Camsctl, tmp_path: Path) -> None:
    state, manifests = one_number_fleet(tmp_path, SPACES, base=350000000000000)
    emulator = serve(state)
    camsctl.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "not-the-secret"
    for command in (("plan", str(manifests)), ("apply", str(manifests), "--auto-approve")):
        before = emulator.stats()["total_calls"]
        run = camsctl.run(emulator, *command)
        assert run.returncode == 1
        errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "SignatureDoesNotMatch" in errors[0], run.stderr
        assert "QueryChatappPhoneNumbers: HTTP 400 SignatureDoesNotMatch" in errors[0]
        assert "(RequestId " in errors[0]
        assert "Used credentials from environment (AccessKey ****)." in errors[0]
        assert "Check that the AccessKey secret is the one of this AccessKey id" in errors[0]
        assert "space 35" not in run.stderr  # not one line per space
        # The first read and at most PROBES more sent before its answer; no add.
        assert 1 <= emulator.stats()["total_calls"] - before <= 1 + PROBES
    assert emulator.adds_sent() == 0


def test_a_dead_endpoint_gives_one_error(camsctl: Camsctl, tmp_path: Path,
                                         serve: EmulatorFactory) -> None:
    state, manifests = one_number_fleet(tmp_path, SPACES, base=350000000000000)
    emulator = serve(state)
    run = camsctl.run(emulator, "--endpoint", "http://127.0.0.1:1", "--timeout", "2", "plan",
                      str(manifests))
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "cannot connect to 127.0.0.1:1" in errors[0], run.stderr
    assert "Check the endpoint (--endpoint, --region), DNS" in errors[0]
    assert run.stderr.count("cannot connect") == 1
