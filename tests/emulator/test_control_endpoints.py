"""The control endpoints: ``POST /_emulator/reset``; ``/_emulator/state`` keeps secrets out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from reconciler.emulator import EmulatorApp, EmulatorServer, FaultPlan, open_emulated_client
from reconciler.emulator.state import StateNotKept, parse_state

SPACE = "293483938849493"
EMPTY_SPACE = "100000000000001"


def control(app: EmulatorApp, method: str, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
            return await http.request(method, path)
    return asyncio.run(call())


def add(app: EmulatorApp, national: str = "13800001234") -> None:
    async def scenario() -> None:
        async with open_emulated_client(app) as client:
            await client.add_phone_number(EMPTY_SPACE, "86", national, "Acme")
    asyncio.run(scenario())


def numbers(app: EmulatorApp, space: str = EMPTY_SPACE) -> list[str]:
    return [str(n["PhoneNumber"]) for n in app.state.spaces[space].numbers]


def test_reset_goes_back_to_the_state_it_started_with(app: EmulatorApp) -> None:
    started = control(app, "GET", "/_emulator/state").json()
    add(app)
    assert numbers(app) == ["8613800001234"]
    answer = control(app, "POST", "/_emulator/reset")
    assert answer.status_code == 200
    body = answer.json()
    assert body["Code"] == "OK" and body["RequestId"] == answer.headers["x-acs-request-id"]
    assert numbers(app) == []
    assert app.state.pending == {}
    assert control(app, "GET", "/_emulator/state").json() == started
    assert control(app, "GET", "/_emulator/stats").json()["total_calls"] == 0
    # Again and again: the state it started with is not changed by what came after.
    add(app)
    add(app, "13800005555")
    control(app, "POST", "/_emulator/reset")
    assert numbers(app) == []


def test_only_post_resets(app: EmulatorApp) -> None:
    add(app)
    answer = control(app, "GET", "/_emulator/reset")
    assert answer.status_code == 404
    assert "POST /_emulator/reset" in answer.json()["Message"]
    assert numbers(app) == ["8613800001234"]


def test_reset_to_a_given_state_makes_it_the_one_reset_goes_back_to(app: EmulatorApp) -> None:
    app.reset(parse_state({"spaces": {EMPTY_SPACE: {"numbers": []}}}))
    assert list(app.state.spaces) == [EMPTY_SPACE]
    assert app.state.access_keys == {"emulator": "emulator-secret"}
    add(app)
    app.reset()
    assert numbers(app) == []


def test_reset_starts_the_fault_draws_again_from_their_seed() -> None:
    app = EmulatorApp(parse_state({"spaces": {EMPTY_SPACE: {}}}),
                      faults=FaultPlan(server=0.3, drop=0.3, seed=7))
    first = [app.faults.draw("QueryChatappBindWaba") for _ in range(40)]
    assert len(set(first)) == 3  # some of each: none, 5xx, drop
    app.reset()
    assert [app.faults.draw("QueryChatappBindWaba") for _ in range(40)] == first


def test_state_never_shows_secrets_even_after_a_reset(app: EmulatorApp) -> None:
    control(app, "POST", "/_emulator/reset")
    text = control(app, "GET", "/_emulator/state").text
    assert "test-secret" not in text and "second-secret" not in text
    keys: Any = json.loads(text)["access_keys"]
    assert keys == [{"id": "LTAI5tTestKey", "secret": "***"},
                    {"id": "second-key", "secret": "***"}]


def test_reset_over_a_socket(app: EmulatorApp, server: EmulatorServer) -> None:
    add(app)
    answer = httpx.post(f"{server.url}/_emulator/reset", trust_env=False)
    assert answer.status_code == 200 and answer.json()["Code"] == "OK"
    assert numbers(app) == []


def test_an_add_that_cannot_be_kept_is_undone_and_answered_as_a_failure() -> None:
    def refuse(_: object) -> None:
        raise StateNotKept("cannot keep the emulator's state in x.json: disk full")
    app = EmulatorApp(parse_state({"spaces": {EMPTY_SPACE: {}}}), on_change=refuse)

    async def scenario() -> Exception | None:
        async with open_emulated_client(app) as client:
            try:
                await client.add_phone_number(EMPTY_SPACE, "86", "13800001234", "Acme")
            except Exception as exc:
                return exc
        return None
    failure = asyncio.run(scenario())
    # HTTP 500 after the add may have committed: the client cannot know, it says so.
    assert type(failure).__name__ == "AmbiguousWriteError", failure
    assert "InternalError" in str(failure) and "disk full" in str(failure)
    assert numbers(app) == [] and app.state.pending == {}
    assert app.stats.rejected == {"InternalError": app.stats.calls["AddChatappPhoneNumber"]}
