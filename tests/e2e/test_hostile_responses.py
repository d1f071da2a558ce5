"""Hostile answers from the service: every one ends as one clear error, never a traceback.

A raw asyncio server on loopback answers camsctl's calls with broken HTTP: non-JSON,
truncated JSON, HTML error pages, missing and mistyped fields, a huge body, or no answer at
all. camsctl must exit 1 with a message naming the operation (and the RequestId when the
answer had one), no traceback and no secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2ekit import KEY_SECRET, Camsctl

SPACE = "900000000000001"
RID = "5C1E2F3A-HOSTILE-REQUEST-ID"


def _http(status: str, body: bytes, content_type: str = "application/json",
          length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {size}\r\n"
            "Connection: close\r\n\r\n").encode() + body


OK_LIST = {"RequestId": RID, "Code": "OK", "PhoneNumbers": []}

ANSWERS = {
    "not-json": (_http("200 OK", b"Service is fine, thanks"), "not a JSON object"),
    "truncated-json": (_http("200 OK", b'{"RequestId": "x", "Code": "OK", "Phone'),
                       "not a JSON object"),
    "html-error-page": (_http("502 Bad Gateway", b"<html><body><h1>502 Bad Gateway</h1>"
                              b"</body></html>", "text/html"), "HTTP 502"),
    "missing-code": (_http("200 OK", json.dumps({"RequestId": RID}).encode()),
                     "answer without a Code"),
    "missing-phone-number": (_http("200 OK", json.dumps({
        **OK_LIST, "PhoneNumbers": [{"VerifiedName": "No number"}]}).encode()),
        f"PhoneNumbers[0].PhoneNumber: expected a string (missing) (RequestId {RID})"),
    "wrong-types": (_http("200 OK", json.dumps({**OK_LIST, "PhoneNumbers": "lots"}).encode()),
                    "PhoneNumbers: expected a list"),
    "error-with-request-id": (_http("400 Bad Request", json.dumps({
        "RequestId": RID, "Code": "Ram.PermissionDeny",
        "Message": "You are not authorized to perform the operation."}).encode()),
        f"Ram.PermissionDeny: You are not authorized to perform the operation. (RequestId {RID})"),
    "ram-denial-with-detail": (_http("403 Forbidden", json.dumps({
        "RequestId": RID, "Code": "Ram.PermissionDeny", "Message": "You are not authorized.",
        "AccessDeniedDetail": {"AuthAction": "cams:QueryChatappPhoneNumbers",
                               "NoPermissionType": "ImplicitDeny"}}).encode()),
        f'(RequestId {RID}; AccessDeniedDetail: {{"AuthAction": '
        '"cams:QueryChatappPhoneNumbers", "NoPermissionType": "ImplicitDeny"})'),
    "body-shorter-than-announced": (_http("200 OK", b'{"Code": "OK"', length=5000),
                                    "QueryChatappPhoneNumbers"),
    "ten-megabytes": (_http("200 OK", b'{"Code": "OK", "Pad": "' + b"x" * (10 << 20) + b'"}'),
                      "the answer is larger than 4,194,304 bytes; not reading it"),
    "ten-megabytes-unannounced": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        + b'{"Code": "OK", "Pad": "' + b"x" * (10 << 20) + b'"}',
        "the answer is larger than 4,194,304 bytes; not reading it"),
}


@contextlib.contextmanager
def hostile_server(answer: bytes | None) -> Iterator[str]:
    """Answers every request with ``answer`` (None: accept and never answer)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            if answer is None:
                await asyncio.sleep(3600)
            writer.write(answer)
            await writer.drain()
        writer.close()

    async def start() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        holder["server"] = server
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    def run() -> None:
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _plan(camsctl: Camsctl, url: str, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f'version: 1\nspaces:\n  - {{id: "{SPACE}", numbers: []}}\n')
    done = subprocess.run([sys.executable, "-m", "reconciler", "--endpoint", url, *extra,
                           "plan", str(manifest)], cwd=camsctl.workdir, env=camsctl.env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_hostile_answer_is_one_clear_error(case: str, camsctl: Camsctl, tmp_path: Path) -> None:
    answer, expected = ANSWERS[case]
    with hostile_server(answer) as url:
        code, out, err = _plan(camsctl, url, tmp_path)
    assert code == 1, (out, err)
    assert "QueryChatappPhoneNumbers" in err
    assert expected in err, err
    assert "Traceback" not in err and KEY_SECRET not in err
    assert len(err) < 2000
