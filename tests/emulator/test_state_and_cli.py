"""The state file format and the `emulator serve` command line."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from reconciler.emulator import StateFileError, emulator, load_state
from reconciler.emulator.state import dump_state, parse_state, write_state

STATE_FILE = Path(__file__).parent / "state.yaml"


def test_default_access_key_and_round_trip(tmp_path: Path) -> None:
    state = parse_state({"spaces": {"1": {"numbers": [{"PhoneNumber": "+8613800001234"}]}}})
    assert state.access_keys == {"emulator": "emulator-secret"}
    assert state.spaces["1"].numbers[0]["PhoneNumber"] == "8613800001234"
    assert "access_keys" not in dump_state(state)
    for name in ("out.yaml", "out.json"):
        write_state(tmp_path / name, state)
        assert dump_state(load_state(tmp_path / name)) == dump_state(state)


def test_file_loads_and_dumps_in_its_own_format() -> None:
    state = load_state(STATE_FILE)
    assert dump_state(state)["spaces"] == {
        k: v for k, v in yaml.safe_load(STATE_FILE.read_text())["spaces"].items()
    } | {"100000000000001": {"numbers": []}}


@pytest.mark.parametrize(("text", "message"), [
    ("spaces:\n  0x1F: {}\n", "a CustSpaceId is a string of digits"),
    ("spaces:\n  '1':\n    numbers: [{PhoneNumber: 8613800001234}]\n", "quote it"),
    ("spaces:\n  '1':\n    nubmers: []\n", "unknown key"),
    ("space: {}\n", "unknown top-level key"),
    ("spaces:\n  '1':\n    numbers: [{PhoneNumber: '1', VerifedName: x}]\n",
     "did you mean VerifiedName"),
    ("spaces: [\n", "YAML syntax error"),
    ("spaces:\n  '1': {numbers: [{PhoneNumber: '1'}]}\n  '2': {numbers: [{PhoneNumber: '1'}]}\n",
     "one space only"),
])
def test_bad_state_files_are_explained(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "state.yaml"
    path.write_text(text)
    with pytest.raises(StateFileError, match=message) as caught:
        load_state(path)
    assert str(path) in str(caught.value)


def test_serve_help_lists_the_flags() -> None:
    result = CliRunner().invoke(emulator, ["serve", "--help"])
    assert result.exit_code == 0
    for flag in ("--state", "--host", "--port", "--qps", "--latency-ms", "--fault-throttle",
                 "--fault-5xx", "--fault-drop", "--fault-lost-add", "--seed", "--persist",
                 "--connect-after"):
        assert flag in result.output


def test_serve_refuses_a_bad_state_file_in_one_line(tmp_path: Path) -> None:
    missing = CliRunner().invoke(emulator, ["serve", "--state", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read state file" in missing.output
    bad_rate = CliRunner().invoke(emulator, ["serve", "--state", str(STATE_FILE),
                                             "--fault-drop", "1.5"])
    assert bad_rate.exit_code == 2 and "--fault-drop" in bad_rate.output


def test_serve_reports_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(emulator, ["serve", "--state", str(STATE_FILE),
                                               "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in result.output


def test_serve_in_a_subprocess_answers_and_stops(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"spaces": {"1": {"numbers": []}}}))
    code = "from reconciler.emulator import emulator; emulator(prog_name='camsctl emulator')"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--state", str(state), "--port", "0"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        deadline = time.monotonic() + 10
        while True:
            try:
                stats = httpx.get(f"{match.group(1)}/_emulator/stats", trust_env=False)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert stats.json()["calls"] == {}
        assert "emulator" in line
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
