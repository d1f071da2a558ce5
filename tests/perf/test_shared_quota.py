"""A plan on an AccessKey whose quota another client is spending still reads every space.

The emulator runs on a loopback socket with a rate limit of 40 calls per second; a neighbour
thread on the same AccessKey starts 20 calls per second, re-sends each throttled call after
``x-acs-retry-after`` and never slows down. ``camsctl plan`` (ceiling ``--qps 40``) must meet
throttled answers, slow down, and still finish with every space read. No timing is asserted:
the outcome and the emulator's counts are.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.api.credentials import Credentials
from reconciler.api.endpoint import resolve_endpoint
from reconciler.api.signing import RpcCall, sign_request
from reconciler.cli import cli
from reconciler.emulator import EmulatorApp, serve_in_thread
from reconciler.emulator.state import parse_state

KEY = Credentials("emulator", "emulator-secret")
SPACES = [str(300_000_000_000_000 + n) for n in range(120)]
NEIGHBOUR_ACTION = "QueryChatappBindWaba"  # not one our plan of these spaces makes


class Neighbour(threading.Thread):
    """Sends ``qps`` calls per second on a fixed timetable, each until it is answered 200."""

    def __init__(self, url: str, qps: float) -> None:
        super().__init__(name="neighbour", daemon=True)
        self.url = url
        self.interval = 1.0 / qps
        self.stop = threading.Event()
        self.granted = 0

    def run(self) -> None:
        host = resolve_endpoint(self.url, "ap-southeast-1").host
        call = RpcCall(action=NEIGHBOUR_ACTION, params=(("CustSpaceId", SPACES[0]),),
                       host=host)
        next_start = time.monotonic()
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            while not self.stop.is_set():
                signed = sign_request(call, KEY, datetime.now(UTC), uuid.uuid4().hex)
                answer = http.post(f"{self.url}/?{signed.query_string}", headers=signed.headers)
                if answer.status_code == 200:
                    self.granted += 1
                    next_start += self.interval
                    pause = next_start - time.monotonic()
                else:  # throttled: re-send as soon as the service says a token is back
                    pause = float(answer.headers.get("x-acs-retry-after", "50")) / 1000
                self.stop.wait(max(0.0, pause))


@pytest.fixture
def shared_account(tmp_path: Path) -> Iterator[tuple[EmulatorApp, str, Path]]:
    def live(n: int) -> str:  # a number lives in one space only
        return f"86138{n:08d}"
    state = {"spaces": {s: {"numbers": [{"PhoneNumber": live(n), "VerifiedName": "Line",
                                         "Status": "CONNECTED"}]}
                        for n, s in enumerate(SPACES)}}
    manifest = tmp_path / "spaces.yaml"
    manifest.write_text(json.dumps({"version": 1, "spaces": [
        {"id": s, "numbers": [{"phone": f"+{live(n)}", "verified_name": "Line"}]}
        for n, s in enumerate(SPACES)]}), encoding="utf-8")
    app = EmulatorApp(parse_state(state), qps=40)
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        yield app, server.url, manifest


def test_plan_on_a_shared_key_slows_down_and_reads_every_space(
        shared_account: tuple[EmulatorApp, str, Path]) -> None:
    app, url, manifest = shared_account
    neighbour = Neighbour(url, qps=20)
    neighbour.start()
    try:
        time.sleep(0.5)  # the neighbour is busy before the plan starts
        result = CliRunner().invoke(
            cli, ["--endpoint", url, "--qps", "40", "-v", "plan", "--format", "json",
                  str(manifest)],
            env={"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY.access_key_id,
                 "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY.access_key_secret,
                 "ALIBABA_CLOUD_SECURITY_TOKEN": None, "ALIBABA_CLOUD_PROFILE": None,
                 "CAMSCTL_ENDPOINT": None, "GITHUB_STEP_SUMMARY": None},
            catch_exceptions=False)
    finally:
        neighbour.stop.set()
        neighbour.join(timeout=10)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["summary"]["add"] == 0 and len(plan["spaces"]) == len(SPACES)
    # The quota really was contested: both clients met throttled answers...
    assert app.stats.throttled > 0
    assert "Note: the service throttled" in result.stderr
    # ...every space was read, and the neighbour kept getting its share meanwhile.
    ours = app.stats.calls["QueryChatappPhoneNumbers"]
    assert ours >= len(SPACES)
    assert neighbour.granted > 0
