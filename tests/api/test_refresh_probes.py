"""Refresh sends the first read, and at most PROBES more, before the first answer: a failure
no space could escape still costs at most three calls, and a healthy plan keeps the pace
instead of waiting one round trip for the first answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import pytest

from reconciler.emulator import EmulatorApp
from reconciler.emulator.ratelimits import RateLimit
from reconciler.emulator.state import parse_state
from reconciler.loader import load
from reconciler.refresh import PROBES, refresh
from tests.api.inprocess import client_for

SPACES = [f"1000000000000{index:02d}" for index in range(8)]
LATENCY_MS = 400.0


def test_probes_keep_the_pace_while_the_first_read_is_answered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nspaces:\n" + "".join(
        f'  - id: "{space}"\n    numbers: []\n' for space in SPACES))
    loaded = load([str(manifest)], today=dt.date(2026, 11, 26))
    assert loaded.desired is not None, loaded.diagnostics
    arrivals: list[float] = []
    state = parse_state({"access_keys": [{"id": "LTAI5tTestKey", "secret": "test-secret"}],
                         "spaces": {space: {"numbers": []} for space in SPACES}})
    app = EmulatorApp(state, qps=1000.0, latency_ms=LATENCY_MS)
    limit = app._limit

    def counted(key_id: str) -> RateLimit:  # asked once per call, as it reaches the limiter
        arrivals.append(time.monotonic())
        return limit(key_id)

    monkeypatch.setattr(app, "_limit", counted)

    async def plan() -> None:
        async with client_for(app, qps=20.0) as client:  # permits 50 ms apart
            await refresh(client, loaded.desired)

    asyncio.run(plan())
    start = arrivals[0]
    answered = start + LATENCY_MS / 1000 * (1 - app.latency_inbound) * 0.8  # at the soonest
    assert len(arrivals) == len(SPACES)
    assert all(at < answered for at in arrivals[1:1 + PROBES])  # sent at the pace
    assert all(at >= answered for at in arrivals[1 + PROBES:])  # held for the first answer
