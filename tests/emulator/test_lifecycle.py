"""The lifecycle: a number added through the API is PENDING, then CONNECTED ``connect_after``
seconds after its add (state file or ``serve --connect-after``); by default it stays PENDING.

In-process tests run the emulator and the client on one injected clock, so nothing sleeps;
one test serves the CLI on a socket with a short real delay.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api.models import ListedNumber
from reconciler.emulator import EmulatorApp, open_emulated_client
from reconciler.emulator.lifecycle import CONNECTED, advance
from reconciler.emulator.persistence import StateKeeper
from reconciler.emulator.state import (
    StateFileError,
    dump_state,
    load_state,
    parse_state,
    write_state,
)

SPACE = "100000000000001"
START = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class Clock:
    """One time for the emulator (epoch seconds) and the client (a datetime)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def wall(self) -> float:
        return self.now

    def client(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def account(lifecycle: dict[str, Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"spaces": {SPACE: {"numbers": [
        {"PhoneNumber": "8613800000001", "VerifiedName": "Written Pending", "Status": "PENDING",
         "NameStatus": "PENDING_REVIEW"}]}}}
    if lifecycle is not None:
        document["lifecycle"] = lifecycle
    return document


def add(app: EmulatorApp, clock: Clock, national: str = "13800001234") -> None:
    async def scenario() -> None:
        async with open_emulated_client(app, clock=clock.client) as client:
            await client.add_phone_number(SPACE, "86", national, "Acme")
    asyncio.run(scenario())


def listed(app: EmulatorApp, clock: Clock) -> dict[str, ListedNumber]:
    """QueryChatappPhoneNumbers, signed at the clock's time: the numbers by PhoneNumber."""
    async def scenario() -> dict[str, ListedNumber]:
        async with open_emulated_client(app, clock=clock.client) as client:
            result = await client.list_phone_numbers(SPACE)
        return {n.phone_number: n for n in result.numbers}
    return asyncio.run(scenario())


def test_a_new_number_connects_connect_after_seconds_after_its_add() -> None:
    clock = Clock()
    app = EmulatorApp(parse_state(account({"connect_after": 30})), wall_clock=clock.wall)
    add(app, clock)
    new = listed(app, clock)["8613800001234"]
    assert (new.status, new.name_status, new.quality_rating) == \
        ("PENDING", "PENDING_REVIEW", "UNKNOWN")
    assert app.state.pending == {"8613800001234": START}
    assert dump_state(app.state)["lifecycle"] == {
        "connect_after": 30, "pending": {"8613800001234": "2027-01-15T08:00:00.000Z"}}

    clock.now = START + 29.9
    assert listed(app, clock)["8613800001234"].status == "PENDING"
    clock.now = START + 30
    connected = listed(app, clock)["8613800001234"]
    assert (connected.status, connected.name_status, connected.quality_rating,
            connected.messaging_limit_tier, connected.code_verification_status) == \
        ("CONNECTED", "APPROVED", "GREEN", "TIER_250", "VERIFIED")
    assert app.state.spaces[SPACE].numbers[-1] == {
        "PhoneNumber": "8613800001234", "VerifiedName": "Acme", **CONNECTED}
    # A number the state file wrote as PENDING is as the file says: it never moves.
    assert listed(app, clock)["8613800000001"].status == "PENDING"
    assert app.state.pending == {}
    assert dump_state(app.state)["lifecycle"] == {"connect_after": 30}


def test_by_default_a_new_number_stays_pending() -> None:
    clock = Clock()
    app = EmulatorApp(parse_state(account()), wall_clock=clock.wall)
    add(app, clock)
    clock.now = START + 10 * 365 * 86400
    assert advance(app.state, clock.now) == 0
    assert listed(app, Clock(clock.now))["8613800001234"].status == "PENDING"
    # The time of the add is kept all the same: a later start with a delay catches up.
    assert app.state.pending == {"8613800001234": START}


def test_the_control_endpoint_sees_the_change_too() -> None:
    clock = Clock()
    app = EmulatorApp(parse_state(account({"connect_after": 0.5})), wall_clock=clock.wall)
    add(app, clock)
    clock.now += 1

    async def state() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
            return (await http.get("/_emulator/state")).json()
    numbers = asyncio.run(state())["spaces"][SPACE]["numbers"]
    assert numbers[-1]["Status"] == "CONNECTED"


def test_a_status_changed_meanwhile_is_left_alone() -> None:
    state = parse_state(account({"connect_after": 5,
                                 "pending": {"8613800000001": "2027-01-15T08:00:00Z"}}))
    state.spaces[SPACE].numbers[0]["Status"] = "FLAGGED"
    assert advance(state, START + 5) == 0
    assert state.spaces[SPACE].numbers[0]["Status"] == "FLAGGED"
    assert state.pending == {}


def test_the_add_time_survives_a_restart_from_the_kept_state(tmp_path: Path) -> None:
    """Persistence: the add's time is kept, so a later command sees the number connect."""
    source = tmp_path / "state.yaml"
    write_state(source, parse_state(account({"connect_after": 60})))
    folder = tmp_path / ".camsctl" / "emulator"
    clock = Clock()
    keeper = StateKeeper(source, folder)
    add(EmulatorApp(keeper.open(), wall_clock=clock.wall, on_change=keeper.save), clock)

    clock.now = START + 59
    again = StateKeeper(source, folder)
    app = EmulatorApp(again.open(), wall_clock=clock.wall, on_change=again.save)
    assert listed(app, clock)["8613800001234"].status == "PENDING"
    clock.now = START + 61
    assert listed(app, clock)["8613800001234"].status == "CONNECTED"
    # The connection was kept too: a third start sees it with nothing pending.
    third = StateKeeper(source, folder).open()
    assert third.pending == {}
    assert [n["Status"] for n in third.spaces[SPACE].numbers] == ["PENDING", "CONNECTED"]


@pytest.mark.parametrize(("lifecycle", "message"), [
    ({"connect_after": -1}, "lifecycle.connect_after: expected a number of seconds, 0 or more"),
    ({"connect_after": True}, "lifecycle.connect_after: expected a number of seconds"),
    ({"connect_after": "30"}, "lifecycle.connect_after: expected a number of seconds"),
    ({"connect_after": float("inf")}, "lifecycle.connect_after: expected a number"),
    ({"connect_afer": 3}, "lifecycle: unknown key 'connect_afer'"),
    ({"pending": {"8613899999999": "2027-01-15T08:00:00Z"}},
     'lifecycle.pending."8613899999999": no space has the number 8613899999999'),
    ({"pending": {"8613800000001": "2027-01-15T08:00:00"}}, "needs its offset from UTC"),
    ({"pending": {"8613800000001": "yesterday"}}, "'yesterday' is not an ISO 8601 time"),
    ({"pending": {"8613800000001": 1800000000}}, "expected an ISO 8601 time as text"),
    ([30], "lifecycle: expected a mapping"),
])
def test_a_bad_lifecycle_is_explained(lifecycle: Any, message: str) -> None:
    document = account()
    document["lifecycle"] = lifecycle
    with pytest.raises(StateFileError, match=re.escape(message)):
        parse_state(document)


def test_an_unquoted_yaml_time_is_explained_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "state.yaml"
    path.write_text(f'spaces:\n  "{SPACE}":\n    numbers: [{{PhoneNumber: "8613800000001"}}]\n'
                    'lifecycle:\n  connect_after: 1.5\n  pending:\n'
                    '    "8613800000001": 2027-01-15T08:00:00Z\n')
    with pytest.raises(StateFileError, match=r"state\.yaml:7:22: .*quote it in YAML"):
        load_state(path)
    path.write_text(path.read_text().replace("2027-01-15T08:00:00Z", '"2027-01-15T08:00:00Z"'))
    state = load_state(path)
    assert (state.connect_after, state.pending) == (1.5, {"8613800000001": START})


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    code = "from reconciler.emulator import emulator; emulator(prog_name='camsctl emulator')"
    process = subprocess.Popen([sys.executable, "-c", code, "serve", *args],
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stderr is not None
    line = process.stderr.readline()
    return process, line


def _until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_serve_connect_after_on_a_socket(tmp_path: Path) -> None:
    """``serve --connect-after`` overrides the file; ``--port 0`` prints the port it got."""
    source = tmp_path / "state.yaml"
    write_state(source, parse_state(account({"connect_after": 3600})))
    written = source.read_bytes()
    process, line = _serve("--state", str(source), "--port", "0", "--connect-after", "0.4")
    try:
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+) ", line)
        assert match and int(match.group(1)) != 0, line
        url = f"http://127.0.0.1:{match.group(1)}"
        assert _until(lambda: _reachable(url), 10)
        app_state: dict[str, Any] = {}

        async def scenario() -> None:
            from reconciler.api import open_client
            from reconciler.api.credential_types import Credentials, StaticCredentials
            async with open_client(url, credentials=StaticCredentials(
                    Credentials("emulator", "emulator-secret"))) as client:
                await client.add_phone_number(SPACE, "86", "13800001234", "Acme")
                numbers = (await client.list_phone_numbers(SPACE)).numbers
                app_state["first"] = [n.status for n in numbers]
        asyncio.run(scenario())
        assert app_state["first"] == ["PENDING", "PENDING"]

        def connected() -> bool:
            numbers = httpx.get(f"{url}/_emulator/state", trust_env=False).json()[
                "spaces"][SPACE]["numbers"]
            return [n["Status"] for n in numbers] == ["PENDING", "CONNECTED"]
        started = time.monotonic()
        assert _until(connected, 10)
        assert time.monotonic() - started < 5
        assert source.read_bytes() == written  # without --persist, never written
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _reachable(url: str) -> bool:
    try:
        httpx.get(f"{url}/_emulator/stats", trust_env=False)
    except httpx.ConnectError:
        return False
    return True


def test_serve_refuses_a_negative_connect_after(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconciler.emulator import emulator
    result = CliRunner().invoke(emulator, ["serve", "--state", str(tmp_path / "x.yaml"),
                                           "--connect-after", "-1"])
    assert result.exit_code == 2 and "--connect-after" in result.output
