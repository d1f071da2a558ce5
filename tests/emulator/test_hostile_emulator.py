"""The emulator in a hostile world: what clients and state files may throw at it.

Every test here talks to a real loopback socket (or runs the real command line), is bounded
in time by socket timeouts and in size by its own constants, and checks that the emulator
answers in the service's own terms, never with a 500 or a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import h11
import httpx
import pytest
from click.testing import CliRunner

from reconciler.api.operations import ASSUME_ROLE_WITH_OIDC, STS_VERSION
from reconciler.cli import cli
from reconciler.emulator import EmulatorApp, EmulatorServer, serve_in_thread
from reconciler.emulator.app import ApiRequest
from reconciler.emulator.server import MAX_REQUEST_BYTES
from reconciler.emulator.state import (
    MAX_STATE_BYTES,
    load_state,
    parse_state,
    write_state,
)

ROLE = "acs:ram::1234567890:role/camsctl-plan"
PROVIDER = "acs:ram::1234567890:oidc-provider/github"
OIDC_TOKEN = "oidc-token-7f3a9c1e5b2d"
KEY_SECRET = "key-secret-4e8b0d6f2a"
SECOND_SECRET = "key-secret-9c5e1a7b3f"
SPACE = "293483938849493"
STATE_FILE = Path(__file__).parent / "state.yaml"
BOUND = 30.0
"""Seconds any socket operation of these tests may wait: a hang guard, never a measurement."""


def hostile_state_document() -> dict[str, object]:
    return {
        "access_keys": [{"id": "LTAI5tHostile", "secret": KEY_SECRET},
                        {"id": "second", "secret": SECOND_SECRET}],
        "oidc": [{"role_arn": ROLE, "provider_arn": PROVIDER, "token": OIDC_TOKEN}],
        "spaces": {SPACE: {"numbers": [{"PhoneNumber": "8613800005678",
                                        "VerifiedName": "ACME", "Status": "CONNECTED"}]}},
    }


@pytest.fixture
def hostile_app() -> EmulatorApp:
    return EmulatorApp(parse_state(hostile_state_document()))


@pytest.fixture
def hostile_server(hostile_app: EmulatorApp) -> Iterator[EmulatorServer]:
    with serve_in_thread(hostile_app, "127.0.0.1", 0) as running:
        yield running


def no_traceback(caplog: pytest.LogCaptureFixture, captured: str) -> None:
    """Nothing the tests did was logged with a traceback, nor printed as one."""
    assert "Traceback" not in captured
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


# -- STS: DurationSeconds ------------------------------------------------------------------


def sts_params(duration: str | None) -> dict[str, str]:
    params = {"Action": ASSUME_ROLE_WITH_OIDC, "Version": STS_VERSION, "RoleArn": ROLE,
              "OIDCProviderArn": PROVIDER, "OIDCToken": OIDC_TOKEN,
              "RoleSessionName": "ci"}
    if duration is not None:
        params["DurationSeconds"] = duration
    return params


@pytest.mark.parametrize("duration", [
    "9" * 5000,  # beyond int()'s 4,300-digit limit
    str(10**30),
    "43201",
    "899",
    "0",
    "-1",
    "-3600",
    "abc",
    "",
    "3600.0",
    "1e3",
    " 3600",
    "1²",  # str.isdigit() says yes, int() says no
    "٣٦٠٠",  # Arabic-Indic digits: int() reads 3600, the service reads no number
])
def test_sts_refuses_a_bad_duration_with_its_own_error(
        hostile_server: EmulatorServer, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str], duration: str) -> None:
    with httpx.Client(base_url=hostile_server.url, timeout=BOUND, trust_env=False) as client:
        answer = client.post("/", params=sts_params(duration))
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert body["Code"] == "InvalidParameter.DurationSeconds"
        assert "900" in body["Message"] and "43200" in body["Message"]
        assert body["RequestId"] == answer.headers["x-acs-request-id"]
        # The emulator is still serving, and a good duration still works.
        fine = client.post("/", params=sts_params("900"))
        assert fine.status_code == 200, fine.text
    no_traceback(caplog, capfd.readouterr().err)


def test_sts_refuses_a_5000_digit_duration_on_a_raw_socket(
        hostile_server: EmulatorServer) -> None:
    """The same, byte for byte on the wire, with no client library in between."""
    query = urlencode(sts_params("1" + "0" * 4999))
    request = (f"POST /?{query} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n"
               "connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", hostile_server.port), timeout=BOUND) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert json.loads(payload)["Code"] == "InvalidParameter.DurationSeconds"


# -- introspection never shows a secret ----------------------------------------------------


def test_no_introspection_answer_holds_a_secret(hostile_server: EmulatorServer,
                                                hostile_app: EmulatorApp) -> None:
    with httpx.Client(base_url=hostile_server.url, timeout=BOUND, trust_env=False) as client:
        exchanged = client.post("/", params=sts_params(None)).json()["Credentials"]
        secrets = [KEY_SECRET, SECOND_SECRET, OIDC_TOKEN, exchanged["AccessKeySecret"],
                   exchanged["SecurityToken"]]
        answers = {path: client.get(path) for path in (
            "/_emulator/state", "/_emulator/stats", "/_emulator/", "/_emulator/state/",
            "/_emulator/nothing", "/_emulator/state?secrets=1")}
        answers["POST /_emulator/state"] = client.post("/_emulator/state")
    for where, answer in answers.items():
        for secret in secrets:
            assert secret not in answer.text, (where, secret)
    state = answers["/_emulator/state"].json()
    # The ids stay, so a test can see which keys and roles the emulator knows.
    assert state["access_keys"] == [{"id": "LTAI5tHostile", "secret": "***"},
                                    {"id": "second", "secret": "***"}]
    assert state["oidc"] == [{"role_arn": ROLE, "provider_arn": PROVIDER, "token": "***"}]
    assert state["spaces"][SPACE]["numbers"][0]["PhoneNumber"] == "8613800005678"
    # Hidden from the answer only: the emulator itself still holds them.
    assert hostile_app.state.access_keys["LTAI5tHostile"] == KEY_SECRET


def test_persisting_the_state_keeps_its_secrets(tmp_path: Path) -> None:
    """Only answers are redacted: --persist writes the state file whole, or it would lose keys."""
    state = parse_state(hostile_state_document())
    write_state(tmp_path / "state.yaml", state)
    again = load_state(tmp_path / "state.yaml")
    assert again.access_keys == {"LTAI5tHostile": KEY_SECRET, "second": SECOND_SECRET}
    assert [role.token for role in again.oidc_roles] == [OIDC_TOKEN]


# -- request bodies --------------------------------------------------------------------------


class BodyEcho(EmulatorApp):
    """Answers every request with the length and SHA-256 of the body the server handed it."""

    def __init__(self) -> None:
        super().__init__(parse_state({}))
        self.bodies = 0

    async def handle(self, request: ApiRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        self.bodies += 1
        payload = json.dumps({"length": len(request.body),
                              "sha256": hashlib.sha256(request.body).hexdigest()}).encode()
        return 200, [("content-type", "application/json")], payload


def chunked(body: bytes, size: int) -> bytes:
    """``body`` in Transfer-Encoding: chunked, ``size`` bytes a chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` on a new connection, half-close, and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may refuse before all is sent: read what it said
        received = bytearray()
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return bytes(received)


CHUNKED_POST = (b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n"
                b"connection: close\r\n\r\n")


def test_a_body_in_200000_one_byte_chunks_arrives_whole() -> None:
    """Each chunk is one event of the HTTP parser: the body must grow in place, not be copied
    whole again for each (quadratic: a 1 MiB body so sent cost ~30 s of CPU). Only a clock
    would show that cost, so this checks that such a body arrives whole and right."""
    app = BodyEcho()
    body = bytes(range(256)) * 781 + b"tail"  # 199,940 bytes
    with serve_in_thread(app) as server:
        answer = exchange(server.port, CHUNKED_POST + chunked(body, 1))
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert json.loads(payload) == {"length": len(body),
                                   "sha256": hashlib.sha256(body).hexdigest()}


def test_the_body_limit_still_holds_in_chunks() -> None:
    app = BodyEcho()
    limit = MAX_REQUEST_BYTES
    with serve_in_thread(app) as server:
        at_limit = exchange(server.port, CHUNKED_POST + chunked(b"x" * limit, 65536))
        assert at_limit.startswith(b"HTTP/1.1 200 "), at_limit[:100]
        over = exchange(server.port, CHUNKED_POST + chunked(b"x" * (limit + 1), 65536))
    assert not over.startswith(b"HTTP/1.1 200 "), over[:100]
    assert app.bodies == 1


# -- connections: idle, stalled, too many, misbehaving -------------------------------------


def answer_on(sock: socket.socket) -> tuple[int, bytes]:
    """``GET /_emulator/stats`` on an open connection, kept open unless the server closes it."""
    client = h11.Connection(h11.CLIENT)
    sock.sendall(client.send(h11.Request(method="GET", target="/_emulator/stats",
                                         headers=[("host", "127.0.0.1")])) or b"")
    sock.sendall(client.send(h11.EndOfMessage()) or b"")
    status, body = 0, bytearray()
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(sock.recv(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return status, bytes(body)
        else:
            raise AssertionError(f"no answer: {event!r}")


def closed_by_server(sock: socket.socket) -> bool:
    """Wait (within the socket's timeout) for the server to end the connection."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=BOUND)


def serve_cli(tmp_path: Path, *args: str, open_files: int) -> tuple[subprocess.Popen[bytes],
                                                                      str, Path]:
    """``camsctl emulator serve`` in a subprocess allowed ``open_files`` files; its URL."""
    code = ("import resource, sys\n"
            "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({open_files}, hard))\n"
            "from reconciler.cli import cli\n"
            "cli(sys.argv[1:], prog_name='camsctl')\n")
    errors = tmp_path / "serve.stderr"
    with errors.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", code, "emulator", "serve", "--state", str(STATE_FILE),
             "--port", "0", *args], stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
    deadline = time.monotonic() + BOUND
    while not (found := re.search(r"listening on (http://\S+)", errors.read_text())):
        assert process.poll() is None and time.monotonic() < deadline, errors.read_text()
        time.sleep(0.05)
    return process, found.group(1), errors


def test_400_idle_connections_neither_stop_the_server_nor_make_it_log(tmp_path: Path) -> None:
    """Past its open-file limit a server cannot accept(): asyncio then logs a traceback per
    attempt and nobody is served. The cap keeps the emulator under the limit; the idle
    timeout and the cap close the idle connections."""
    process, url, errors = serve_cli(tmp_path, "--idle-timeout", "1", open_files=256)
    port = int(url.rsplit(":", 1)[1])
    idle: list[socket.socket] = []
    try:
        idle.extend(connect(port) for _ in range(400))
        with httpx.Client(timeout=BOUND, trust_env=False) as client:
            assert client.get(url + "/_emulator/stats").status_code == 200
        assert all(closed_by_server(sock) for sock in idle)
    finally:
        for sock in idle:
            sock.close()
        process.terminate()
        process.wait(timeout=BOUND)
    log = errors.read_text()
    assert "Traceback" not in log and "out of system resource" not in log, log[:2000]
    assert len(log.splitlines()) == 1, log[:2000]  # only the "listening on" line


def test_silent_stalled_and_trickling_clients_are_closed(
        app: EmulatorApp, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(app, idle_timeout=0.5, request_timeout=0.5) as server:
        silent = connect(server.port)
        stalled = connect(server.port)
        stalled.sendall(b"GET /_emulator/stats HTTP/1.1\r\nhost: 127.0.0.1\r\nx-part")
        kept_alive = connect(server.port)
        assert answer_on(kept_alive)[0] == 200
        trickling = connect(server.port)
        trickling.sendall(b"GET /_emulator/stats HTTP/1.1\r\n")
        sent = 0
        try:
            while sent < 400:  # 20 s of trickle at most: the server must not wait for it
                trickling.sendall(b"x-trickle: 1\r\n"[sent % 14:sent % 14 + 1])
                sent += 1
                if select.select([trickling], [], [], 0.05)[0]:
                    break
        except OSError:
            pass
        assert sent < 400 and closed_by_server(trickling)
        for sock in (silent, stalled, kept_alive):
            assert closed_by_server(sock)
            sock.close()
        trickling.close()
        with connect(server.port) as fresh:
            assert answer_on(fresh)[0] == 200
    no_traceback(caplog, capfd.readouterr().err)


def test_at_the_cap_the_longest_idle_connection_makes_room(app: EmulatorApp) -> None:
    with serve_in_thread(app, max_connections=4, idle_timeout=BOUND) as server:
        pooled = [connect(server.port) for _ in range(4)]
        for sock in pooled:
            assert answer_on(sock)[0] == 200  # now idle between requests, as in a pool
        with connect(server.port) as newcomer:
            assert answer_on(newcomer)[0] == 200
        assert closed_by_server(pooled[0])
        assert [answer_on(sock)[0] for sock in pooled[1:]] == [200, 200, 200]
        for sock in pooled:
            sock.close()


def test_at_the_cap_with_every_connection_busy_a_new_one_is_refused(app: EmulatorApp) -> None:
    with serve_in_thread(app, max_connections=2, request_timeout=BOUND) as server:
        busy = [connect(server.port) for _ in range(2)]
        for sock in busy:
            sock.sendall(b"GET /_emulator/stats HTTP/1.1\r\nhost: 127.0.0.1\r\n")
        deadline = time.monotonic() + BOUND
        while server.connections != (2, 0):  # both counted, neither idle
            assert time.monotonic() < deadline, server.connections
            time.sleep(0.01)
        refused = exchange(server.port, b"GET /_emulator/stats HTTP/1.1\r\nhost: x\r\n\r\n")
        head, _, payload = refused.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 "), head
        assert b"connection: close" in head.lower() and b"retry-after: 1" in head.lower()
        assert "maximum of 2 connections" in json.loads(payload)["Message"]
        for sock in busy:  # the busy ones were left alone: they finish their requests
            sock.sendall(b"\r\n")
            assert b" 200 " in sock.recv(65536).split(b"\r\n")[0]
            sock.close()


@pytest.mark.parametrize(("sent", "status"), [
    (b"\x00\x01\x02 garbage\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nhost: x\r\ncontent-length: lots\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % (MAX_REQUEST_BYTES + 1), 413),
    (b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: " + b"9" * 5000 + b"\r\n\r\n", 400),
])
def test_requests_no_server_could_serve_are_answered_4xx(
        app: EmulatorApp, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
        sent: bytes, status: int) -> None:
    with serve_in_thread(app) as server:
        head, _, payload = exchange(server.port, sent).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 %d " % status), head
        assert b"connection: close" in head.lower()
        assert json.loads(payload)["Message"]
        with connect(server.port) as fresh:
            assert answer_on(fresh)[0] == 200
    no_traceback(caplog, capfd.readouterr().err)


def test_resets_and_half_closes_end_quietly(
        app: EmulatorApp, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    linger_zero = struct.pack("ii", 1, 0)
    request = b"GET /_emulator/stats HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"
    with serve_in_thread(app) as server:
        for sent in (b"", b"GET /_emulator/st", request, request * 50):
            sock = connect(server.port)  # reset mid-head, or before reading the answer(s)
            sock.sendall(sent)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
            sock.close()
        half = exchange(server.port, request)  # asks, then closes its sending side
        assert half.startswith(b"HTTP/1.1 200 "), half[:100]
        with connect(server.port) as fresh:
            assert answer_on(fresh)[0] == 200
    no_traceback(caplog, capfd.readouterr().err)


# -- state files -----------------------------------------------------------------------------

MANIFESTS = Path(__file__).resolve().parents[2] / "examples" / "manifests"


def _deep(path: Path) -> None:
    path.write_text("[" * 100_000)


def _written(text: str) -> Callable[[Path], object]:
    return lambda path: path.write_text(text, encoding="utf-8")


def _huge(path: Path) -> None:
    with path.open("wb") as sparse:  # no disk used: a hole larger than the limit
        sparse.truncate(MAX_STATE_BYTES + 1)


def _directory(path: Path) -> None:
    path.mkdir()


NUMBER = "{PhoneNumber: '8613800005678', VerifiedName: ACME, Status: CONNECTED}"

# (what, how to make the file, where the error is (line or 0 for the file), what it says).
# FIFOs and devices are tried in a process of their own, below: read, they never end.
BAD_STATE_FILES: list[tuple[str, Callable[[Path], object], int, str]] = [
    ("deep", _deep, 1, "nested more than 64 levels"),
    ("deep-mapping", _written("spaces:\n  '1': " + "{a: " * 5000 + "\n"), 2, "nested more"),
    ("not-utf8", lambda p: p.write_bytes(b"spaces: {}\n# caf\xe9\n"), 2, "not UTF-8"),
    ("integer-key", _written("spaces: {}\n1: x\n"), 2, "unknown top-level key(s) 1"),
    ("float-space", _written("spaces:\n  12.5: {}\n"), 2, "a CustSpaceId is a string of digits"),
    ("list-key", _written("spaces:\n  ? [1]\n  : {}\n"), 2, "mapping keys must be plain"),
    ("duplicate", _written("spaces: {}\nspaces: {}\n"), 2, "duplicate key 'spaces'"),
    ("a-list", _written("- 1\n"), 1, "expected a mapping"),
    ("spaces-int", _written("spaces: 5\n"), 1, "spaces: expected a mapping"),
    ("numbers-map", _written("spaces:\n  '1':\n    numbers: {a: 1}\n"), 3, "expected a list"),
    ("date-name", _written(f"spaces:\n  '1':\n    numbers:\n      - {NUMBER[:-1]}, "
                           "NewNameStatus: 2024-01-01}\n"), 4, "NewNameStatus: expected text"),
    ("list-status", _written(f"spaces:\n  '1':\n    numbers:\n      - {NUMBER[:-1]}, "
                             "QualityRating: [1]}\n"), 4, "QualityRating: expected text"),
    ("websites", _written("spaces:\n  '1':\n    profiles:\n      '8613800005678':\n"
                          "        Websites: https://x.example\n"), 5, "a list of texts"),
    ("binary", _written("spaces:\n  '1':\n    waba: {Id: !!binary aGk=}\n"), 3,
     "Id: expected text"),
    ("python-tag", _written("spaces: !!python/object:os.system {}\n"), 1, "unsupported YAML tag"),
    ("key-id-int", _written("access_keys: [{id: 1, secret: s}]\n"), 1, "needs string id"),
    ("oidc-map", _written("oidc: {role_arn: r}\n"), 1, "oidc: must be a list"),
    ("phone-key", _written("spaces:\n  '1':\n    profiles: {acme: {About: x}}\n"), 3,
     "a phone number"),
    ("missing", lambda p: None, 0, "cannot read state file"),
    ("directory", _directory, 0, "is a directory"),
    ("huge", _huge, 0, f"limit is {MAX_STATE_BYTES:,} bytes"),
]


@pytest.fixture(params=BAD_STATE_FILES, ids=[case[0] for case in BAD_STATE_FILES])
def bad_state(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, int, str]:
    _, make, line, message = request.param
    path = tmp_path / "state.yaml"
    make(path)
    return path, line, message


def one_clear_error(output: str, path: Path | str, line: int, message: str) -> None:
    """Exactly one line, ``Error: ``, naming the file (and the line), saying ``message``."""
    assert output.count("\n") == 1 and output.startswith("Error: "), output[:2000]
    assert "Traceback" not in output and "unexpected" not in output, output
    assert message in output, output
    where = f"{path}:{line}:" if line else str(path)
    assert where in output, output


def test_plan_with_a_bad_emulator_state_file_says_so_in_one_line(
        bad_state: tuple[Path, int, str]) -> None:
    path, line, message = bad_state
    result = CliRunner().invoke(cli, ["--emulator", str(path), "plan", str(MANIFESTS)])
    assert result.exit_code == 1, result.output
    one_clear_error(result.stderr, path, line, message)


def test_serve_with_a_bad_state_file_says_so_before_serving(
        bad_state: tuple[Path, int, str], monkeypatch: pytest.MonkeyPatch) -> None:
    path, line, message = bad_state

    async def never(self: EmulatorServer) -> None:
        raise AssertionError(f"serving {path}")
    monkeypatch.setattr(EmulatorServer, "serve_forever", never)  # a failure, never a hang
    result = CliRunner().invoke(cli, ["emulator", "serve", "--state", str(path), "--port", "0"])
    assert result.exit_code == 1, result.output
    one_clear_error(result.stderr, path, line, message)


def run_camsctl(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, with a bounded address space and time: a
    file it should refuse (/dev/zero, a FIFO) must not make it read for ever."""
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
            "from reconciler.cli import cli\n"
            "cli(sys.argv[1:], prog_name='camsctl')\n")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=BOUND, stdin=subprocess.DEVNULL, check=False)


@pytest.mark.parametrize("device", ["/dev/zero", "fifo"])
def test_devices_and_fifos_are_refused_without_reading(tmp_path: Path, device: str) -> None:
    path = Path(device)
    if device == "fifo":
        path = tmp_path / "state.yaml"
        os.mkfifo(path)  # nobody ever writes to it: a read would wait for ever
    kind = "a device" if device == "/dev/zero" else "a FIFO"
    for args in (["--emulator", str(path), "plan", str(MANIFESTS)],
                 ["emulator", "serve", "--state", str(path), "--port", "0"]):
        done = run_camsctl(*args)
        assert done.returncode == 1, done.stderr
        one_clear_error(done.stderr, path, 0, f"not a regular file ({kind})")


def test_unquoted_ids_are_read_as_written(tmp_path: Path) -> None:
    """YAML keys are names here, as in manifests: ``0293483938849493:`` is that text, and a
    phone number key too (YAML 1.1 would read ``0123:`` as the number 83)."""
    path = tmp_path / "state.yaml"
    path.write_text("spaces:\n  0293483938849493:\n    numbers: [" + NUMBER + "]\n"
                    "    profiles: {8613800005678: {About: x}}\n", encoding="utf-8")
    state = load_state(path)
    assert list(state.spaces) == ["0293483938849493"]
    assert state.spaces["0293483938849493"].profiles == {"8613800005678": {"About": "x"}}
