"""Fixtures shared by the client tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from inprocess import STATE_FILE


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    target = tmp_path / "state.yaml"
    shutil.copy(STATE_FILE, target)
    return target
