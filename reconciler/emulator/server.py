"""The emulator on a real socket: a small HTTP/1.1 server that runs the emulator's ASGI app.

Why not uvicorn: a fault of the emulator is "the connection drops without an answer" (and
"the add commits but its answer is lost"). An ASGI app cannot ask uvicorn for that: an
exception in the app becomes an HTTP 500, which is a different failure for a client. So this
module owns the connections itself: h11 (the HTTP/1.1 state machine httpx and uvicorn use)
parses and frames the messages, asyncio streams carry them, and when the app raises
:class:`ConnectionDropped` the connection is reset (SO_LINGER 0, then abort) as a crashed
server or a middlebox would. Keep-alive is supported, since clients pool connections.

:class:`EmulatorServer` runs in the caller's event loop; :func:`serve_in_thread` runs one in
a background thread, for synchronous callers (tests using the official SDK).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import h11

from reconciler.emulator.app import ConnectionDropped, EmulatorApp

MAX_REQUEST_BYTES = 1 << 20  # the API's requests have an empty body; refuse absurd ones


class EmulatorServer:
    """Serves an :class:`EmulatorApp` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, app: EmulatorApp, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and listen; afterwards ``port`` is the bound port. Raises OSError if taken."""
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.stop()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._exchange(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, h11.RemoteProtocolError):
            pass  # the client went away or spoke no HTTP: nothing left to answer
        except asyncio.CancelledError:
            # stop() cancels idle keep-alive connections. End quietly: asyncio's stream
            # protocol would otherwise log the cancelled task as an error.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_BYTES)
        peer = writer.get_extra_info("peername")
        while True:
            event = await self._next_event(conn, reader)
            if not isinstance(event, h11.Request):
                return  # closed, or the client went away between requests
            # The body grows in place: adding bytes objects copies the whole body again for
            # each chunk, quadratic in a body sent in 1-byte chunks.
            body = bytearray()
            while True:
                part = await self._next_event(conn, reader)
                if isinstance(part, h11.Data):
                    if len(body) + len(part.data) > MAX_REQUEST_BYTES:
                        return
                    body += part.data
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    return
            try:
                status, headers, payload = await self._run_app(event, bytes(body), peer)
            except ConnectionDropped:
                _reset(writer)
                return
            response_headers = [(k.encode(), v.encode()) for k, v in headers]
            writer.write(conn.send(h11.Response(status_code=status, headers=response_headers))
                         or b"")
            writer.write(conn.send(h11.Data(data=payload)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()

    @staticmethod
    async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
                continue
            return event

    async def _run_app(self, request: h11.Request, body: bytes,
                       peer: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        target = request.target
        path, _, query = target.partition(b"?")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": request.http_version.decode(),
            "method": request.method.decode(),
            "scheme": "http",
            "path": path.decode("latin-1"),
            "raw_path": path,
            "query_string": query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers],
            "client": (peer[0], peer[1]) if isinstance(peer, tuple) else None,
            "server": (self.host, self.port),
        }
        sent = False
        answer: dict[str, Any] = {}
        parts: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # never: we do not watch for disconnects
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = int(message["status"])
                answer["headers"] = [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
                                     for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                parts.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, send)
        payload = b"".join(parts)
        # Frame the answer ourselves: h11 needs an exact Content-Length for keep-alive.
        headers = [(k, v) for k, v in answer.get("headers", []) if k.lower() != "content-length"]
        headers.append(("content-length", str(len(payload))))
        return int(answer.get("status", 500)), headers, payload


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST rather than a FIN: the peer sees "connection reset"."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextlib.contextmanager
def serve_in_thread(app: EmulatorApp, host: str = "127.0.0.1", port: int = 0
                    ) -> Iterator[EmulatorServer]:
    """Run a server in a background thread with its own event loop; always stopped on exit."""
    server = EmulatorServer(app, host, port)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        # Connections accepted in the last instant may not have registered yet: end them too.
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))

    thread = threading.Thread(target=run, name="cams-emulator", daemon=True)
    thread.start()
    started.wait()
    if failure:
        thread.join()
        loop.close()
        raise failure[0]
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
