"""Fixtures for the emulator tests: the test state and an emulator on a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import EmulatorApp, EmulatorServer, load_state, serve_in_thread

STATE_FILE = Path(__file__).parent / "state.yaml"


@pytest.fixture
def app() -> EmulatorApp:
    return EmulatorApp(load_state(STATE_FILE))


@pytest.fixture
def server(app: EmulatorApp) -> Iterator[EmulatorServer]:
    """``app`` served on 127.0.0.1, a free port, in a background thread; always stopped."""
    with serve_in_thread(app, "127.0.0.1", 0) as running:
        yield running
