"""The emulator in-process: ``open_emulated_client`` from a state file, a state or an app."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.api import ConfigurationError
from reconciler.cli import cli
from reconciler.emulator import EmulatorApp, load_state, open_emulated_client

STATE_FILE = Path(__file__).parent / "state.yaml"
SPACE = "293483938849493"
EMPTY_SPACE = "100000000000001"


def test_a_state_file_needs_no_credentials(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # Half-set environment keys make the credential chain fail: only a client that never
    # consults it gets through.
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "half-set")
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    async def scenario() -> None:
        async with open_emulated_client(STATE_FILE, qps=1000) as client:
            numbers = await client.list_phone_numbers(SPACE)
        assert [n.phone_number for n in numbers.numbers] == ["8613800005678", "8613800009999"]
        assert client.endpoint.url == "http://localhost"
    asyncio.run(scenario())


def test_a_state_is_changed_in_place_and_an_app_is_used_as_given() -> None:
    state = load_state(STATE_FILE)
    app = EmulatorApp(load_state(STATE_FILE))

    async def scenario() -> None:
        async with open_emulated_client(state) as client:
            await client.add_phone_number(EMPTY_SPACE, "86", "13800001234", "Acme")
        async with open_emulated_client(app) as client:
            await client.query_bind_waba(SPACE)
    asyncio.run(scenario())
    assert [n["PhoneNumber"] for n in state.spaces[EMPTY_SPACE].numbers] == ["8613800001234"]
    assert app.stats.calls == {"QueryChatappBindWaba": 1}


def test_a_bad_state_file_is_a_configuration_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spaces: [1]\n")

    async def scenario(path: Path) -> None:
        async with open_emulated_client(path):
            raise AssertionError("opened a client on a bad state file")
    with pytest.raises(ConfigurationError, match="spaces: expected a mapping"):
        asyncio.run(scenario(bad))
    with pytest.raises(ConfigurationError, match="cannot read state file"):
        asyncio.run(scenario(tmp_path / "missing.yaml"))


def test_camsctl_reports_a_bad_emulator_state_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spaces: [1]\n")
    manifest = tmp_path / "m.yaml"
    manifest.write_text('version: 1\nspaces:\n  - id: "1"\n    numbers: []\n')
    result = CliRunner().invoke(cli, ["--emulator", str(bad), "plan", str(manifest)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {bad}:1:9: spaces: expected a mapping\n"
