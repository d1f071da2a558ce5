"""Fixtures for the end-to-end tests: emulators on loopback sockets, a camsctl runner.

Both always clean up: every emulator is stopped and every camsctl child still running is
killed when the test ends, whatever its outcome. The helpers live in ``e2ekit``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from e2ekit import Camsctl, Emulator, EmulatorFactory, RecordingApp

from reconciler.emulator import FaultPlan, load_state, serve_in_thread
from reconciler.emulator.state import parse_state


@pytest.fixture
def serve() -> Iterator[EmulatorFactory]:
    """Start emulators on 127.0.0.1 (a free port); every one is stopped when the test ends.

    ``serve(state)`` takes a state file path or a state document (the file format as a dict).
    The emulator allows 1000 calls per second, so camsctl (at ``--qps 200``) is never
    throttled.
    """
    with ExitStack() as stack:
        def start(state: Path | Mapping[str, Any], *, latency_ms: float = 0.0,
                  faults: FaultPlan | None = None,
                  visibility_delay_ms: float = 0.0,
                  exists_code: str = "PhoneNumber.AlreadyExists") -> Emulator:
            loaded = (load_state(state) if isinstance(state, Path)
                      else parse_state(json.loads(json.dumps(state))))
            app = RecordingApp(loaded, qps=1000.0, latency_ms=latency_ms, faults=faults,
                               visibility_delay_ms=visibility_delay_ms,
                               exists_code=exists_code)
            server = stack.enter_context(serve_in_thread(app, "127.0.0.1", 0))
            return Emulator(app, server.url)
        yield start


@pytest.fixture
def camsctl(tmp_path: Path) -> Iterator[Camsctl]:
    """Runs camsctl in ``tmp_path/work`` with ``HOME=tmp_path/home`` (empty)."""
    home = tmp_path / "home"
    home.mkdir()
    workdir = tmp_path / "work"
    workdir.mkdir()
    runner = Camsctl(workdir, home)
    try:
        yield runner
    finally:
        runner.kill_all()
