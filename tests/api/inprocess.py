"""Helpers for the client tests: the test state, and clients wired to an in-process emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from reconciler.api import RetryPolicy
from reconciler.api.client import CamsClient
from reconciler.emulator import EmulatorApp, FaultPlan, load_state, open_emulated_client

STATE_FILE = Path(__file__).parent.parent / "emulator" / "state.yaml"
SPACE = "293483938849493"
EMPTY_SPACE = "100000000000001"

# Fast retries: the tests count attempts, they do not wait for realistic backoff.
FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01, max_elapsed=10.0)


def make_app(faults: FaultPlan | None = None, qps: float = 1000.0, **kwargs: Any) -> EmulatorApp:
    return EmulatorApp(load_state(STATE_FILE), qps=qps, faults=faults, **kwargs)


@asynccontextmanager
async def client_for(app: EmulatorApp, *, qps: float = 1000.0, retry: RetryPolicy = FAST_RETRY,
                     **options: Any) -> AsyncIterator[CamsClient]:
    """A client of ``app``, signing with the state's first key (LTAI5tTestKey / test-secret);
    ``options`` (``credentials``, ``clock``, ``nonce``, ...) go to ``open_emulated_client``."""
    async with open_emulated_client(app, qps=qps, retry=retry, **options) as client:
        yield client

