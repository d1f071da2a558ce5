"""Helpers of the end-to-end tests: the emulator on a loopback socket, camsctl as a subprocess.

Every test here drives the real command line (``python -m reconciler``) in a child process,
against an emulator served from this process on 127.0.0.1 (a free port). The emulator's state
lives in this process, so it persists between commands and the tests can look at it (or
change it) between two runs, as another pipeline would.

The child's environment is scrubbed: ``HOME`` is an empty folder (no ``~/.aliyun/config.json``),
no ``ALIBABA_CLOUD_*``/``CAMSCTL_*`` variable leaks in except the emulator's AccessKey, and every
run has its own working directory, so the default journal ``.camsctl/journal.jsonl`` lands there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from reconciler.emulator import EmulatorApp
from reconciler.emulator.app import ApiRequest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
EXAMPLE_MANIFESTS = EXAMPLES / "manifests"
EXAMPLE_STATE = EXAMPLES / "live-state.yaml"

KEY_ID = "emulator"
KEY_SECRET = "emulator-secret"
ADD = "AddChatappPhoneNumber"
RUN_TIMEOUT = 60.0
"""Seconds a single camsctl run may take before the test fails (a hang guard, not a budget)."""

CLIENT_QPS = "200"
"""camsctl's --qps in these tests; the emulator allows more, so nothing is ever throttled."""


class RecordingApp(EmulatorApp):
    """The emulator, also counting every API answer by (action, Code).

    ``/_emulator/stats`` counts calls per action and refusals that happen before an operation
    runs (signature, key, nonce); an add the operation itself refuses (``PhoneNumber.
    AlreadyExists``) shows in no counter there. These tests must see that one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers: Counter[tuple[str, str]] = Counter()

    async def handle(self, request: ApiRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        status, headers, payload = await super().handle(request)
        if not request.path.startswith("/_emulator/"):
            code = str(json.loads(payload).get("Code", ""))
            self.answers[(request.headers.get("x-acs-action", ""), code)] += 1
        return status, headers, payload


class Emulator:
    """A running socket emulator and what a test asks of it."""

    def __init__(self, app: RecordingApp, url: str) -> None:
        self.app = app
        self.url = url

    def _get(self, path: str) -> dict[str, Any]:
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            response = http.get(self.url + path)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def stats(self) -> dict[str, Any]:
        return self._get("/_emulator/stats")

    def state(self) -> dict[str, Any]:
        return self._get("/_emulator/state")

    def adds_sent(self) -> int:
        """AddChatappPhoneNumber calls received so far (whatever their answer)."""
        return int(self.stats()["calls"].get(ADD, 0))

    def numbers(self) -> dict[str, list[dict[str, Any]]]:
        """Live numbers per space, as the state endpoint lists them."""
        return {space_id: list(space.get("numbers", []))
                for space_id, space in self.state()["spaces"].items()}

    def already_exists_answers(self) -> int:
        """Adds refused because the number exists, whatever code the emulator used for it."""
        return self.app.answers[(ADD, self.app.exists_code)]


EmulatorFactory = Callable[..., Emulator]
"""``serve(state, *, latency_ms=0, faults=None)``: the ``serve`` fixture's starter."""


def child_env(home: Path) -> dict[str, str]:
    """The environment of a camsctl child: the emulator's key, an empty HOME, nothing else but
    the run's date (``SOURCE_DATE_EPOCH``, set for every test by tests/conftest.py, so that
    the examples' acknowledgement is in force whatever the day the suite runs)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("ALIBABA_CLOUD_", "CAMSCTL_"))
           and name not in ("GITHUB_STEP_SUMMARY", "NO_COLOR")}
    env.update(HOME=str(home), ALIBABA_CLOUD_ACCESS_KEY_ID=KEY_ID,
               ALIBABA_CLOUD_ACCESS_KEY_SECRET=KEY_SECRET, PYTHONUNBUFFERED="1")
    return env


class Camsctl:
    """Runs ``python -m reconciler --endpoint URL --qps N ...`` in ``workdir``, never on a TTY."""

    def __init__(self, workdir: Path, home: Path) -> None:
        self.workdir = workdir
        self.env = child_env(home)
        self._children: list[subprocess.Popen[bytes]] = []

    def argv(self, emulator: Emulator, args: tuple[str, ...],
             global_options: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "reconciler", "--endpoint", emulator.url,
                "--qps", CLIENT_QPS, *global_options, *args]

    def run(self, emulator: Emulator, *args: str,
            global_options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        """Run to completion, stdin closed (not a terminal); output captured as text."""
        return subprocess.run(self.argv(emulator, args, global_options), cwd=self.workdir,
                              env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=RUN_TIMEOUT, check=False)

    def start(self, emulator: Emulator, *args: str, global_options: tuple[str, ...] = (),
              log_name: str = "child") -> subprocess.Popen[bytes]:
        """Start in the background (output to files in workdir); killed at teardown."""
        out = (self.workdir / f"{log_name}.stdout").open("wb")
        err = (self.workdir / f"{log_name}.stderr").open("wb")
        with out, err:
            child = subprocess.Popen(self.argv(emulator, args, global_options),
                                     cwd=self.workdir, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        self._children.append(child)
        return child

    def kill_all(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)


# --- building inputs ---------------------------------------------------------------------------


def write_yaml(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


def manifest(*spaces: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest document declaring ``spaces`` (each ``{"id", "numbers": [...]}``, ...)."""
    return {"version": 1, "spaces": [dict(space) for space in spaces]}


def declared(phone: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"phone": phone, "verified_name": name, **extra}


def live(digits: str, name: str, status: str = "CONNECTED") -> dict[str, str]:
    """A live number as QueryChatappPhoneNumbers lists it."""
    return {"PhoneNumber": digits, "VerifiedName": name, "Status": status,
            "NameStatus": "APPROVED", "QualityRating": "GREEN"}


APPROVED_WABA = {"Id": "20000000000001", "Name": "Test WABA", "AccountReviewStatus": "APPROVED"}


def one_number_fleet(root: Path, spaces: int, base: int) -> tuple[dict[str, Any], Path]:
    """``spaces`` empty spaces (ids ``base + 1``...) each declaring one missing number, and
    their manifest: the state document and the manifest's path."""
    ids = [str(base + i) for i in range(1, spaces + 1)]
    state = {"spaces": {sid: {"waba": APPROVED_WABA, "numbers": []} for sid in ids}}
    path = write_yaml(root / "manifests" / "fleet.yaml", manifest(*(
        {"id": sid, "numbers": [declared(f"+86 139 {i:04d} 0001", f"Line {i}")]}
        for i, sid in enumerate(ids, start=1))))
    return state, path


def journal_entries(path: Path) -> list[dict[str, Any]]:
    """The journal's entries; a torn last line (a kill mid-write) is left out."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        entries.append(entry)
    return entries


def plan_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.stdout, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# --- hostile servers ---------------------------------------------------------------------------

Answer = Callable[[str, asyncio.StreamWriter], Awaitable[None]]
"""How a raw server answers one request, given its head (lower-cased)."""


def http_answer(status: str, body: bytes, *headers: str, content_type: str = "application/json",
                length: int | None = None) -> bytes:
    """A whole HTTP/1.1 answer; ``length`` may lie about the body's size."""
    extra = "".join(f"{header}\r\n" for header in headers)
    size = len(body) if length is None else length
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {size}\r\n"
            f"{extra}Connection: close\r\n\r\n").encode() + body


def fixed(answer: bytes) -> Answer:
    async def send(_head: str, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()
    return send


async def silent(_head: str, _writer: asyncio.StreamWriter) -> None:
    """Accept the request and never answer."""
    await asyncio.sleep(3600)


@contextlib.contextmanager
def raw_server(answers: Callable[[str], Answer]) -> Iterator[str]:
    """A loopback server speaking raw bytes; ``answers(head)`` picks how to answer each
    request from its whole head, lower-cased (route on ``x-acs-action`` or the query)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            await answers(head)(head, writer)
        writer.close()

    async def start() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()),
                                              loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def hostile_server(answer: bytes | None) -> contextlib.AbstractContextManager[str]:
    """Answers every request with ``answer`` (None: accept and never answer)."""
    return raw_server(lambda _head: silent if answer is None else fixed(answer))
