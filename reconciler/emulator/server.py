"""The emulator on a real socket: a small HTTP/1.1 server that runs the emulator's ASGI app.

Why not uvicorn: a fault of the emulator is "the connection drops without an answer" (and
"the add commits but its answer is lost"). An ASGI app cannot ask uvicorn for that: an
exception in the app becomes an HTTP 500, which is a different failure for a client. So this
module owns the connections itself: h11 (the HTTP/1.1 state machine httpx and uvicorn use)
parses and frames the messages, asyncio streams carry them, and when the app raises
:class:`ConnectionDropped` the connection is reset (SO_LINGER 0, then abort) as a crashed
server or a middlebox would. Keep-alive is supported, since clients pool connections.

Owning the connections means bounding them, as any server facing the network must (uvicorn's
``timeout_keep_alive``, nginx's ``client_header_timeout`` and ``worker_connections``):

* a connection waiting for its next request is closed after ``idle_timeout`` seconds, and a
  request must arrive whole (head and body) within ``request_timeout`` seconds of its first
  byte, so silent or trickling clients cannot hold connections for ever;
* at most ``max_connections`` are served at once (fewer when the process may open fewer
  files: past that limit ``accept()`` fails and asyncio logs a traceback per attempt). At the
  cap, the connection idle the longest is closed to make room for a new one; when none is
  idle, the new one is answered HTTP 503 and closed;
* a client's misbehaviour (garbage, an oversized request, a reset, a half-close, a timeout)
  ends its connection quietly, with a 4xx answer where HTTP has one, never with a traceback.

:class:`EmulatorServer` runs in the caller's event loop; :func:`serve_in_thread` runs one in
a background thread, for synchronous callers (tests using the official SDK).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import resource
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import h11

from reconciler.emulator.app import ConnectionDropped, EmulatorApp

MAX_REQUEST_BYTES = 1 << 20  # the API's requests have an empty body; refuse absurd ones
DEFAULT_IDLE_TIMEOUT = 15.0
"""Seconds a connection may wait for its next request. Longer than clients keep an idle
pooled connection (httpx: 5 s), so they drop it first and never reuse one we are closing."""
DEFAULT_REQUEST_TIMEOUT = 10.0
"""Seconds a request has, from its first byte, to arrive whole and have its answer read."""
MAX_CONNECTIONS = 1000
FILE_RESERVE = 64
"""Files kept free under the process's limit for everything else it opens."""
LISTEN_BACKLOG = 128
ACCEPT_RETRY_SECONDS = 0.1
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

logger = logging.getLogger(__name__)


def default_max_connections() -> int:
    """``MAX_CONNECTIONS``, or fewer if the process's open-file limit is lower."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft - FILE_RESERVE))


class _Refusal(Exception):
    """A request answered with an HTTP error by the server itself, then the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(eq=False)
class _Client:
    """An accepted connection, as the connection cap sees it."""

    idle_since: float | None
    """Loop time since which it waits for a request with nothing of it received; None while
    a request is under way."""


class EmulatorServer:
    """Serves an :class:`EmulatorApp` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, app: EmulatorApp, host: str = "127.0.0.1", port: int = 8080, *,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
                 max_connections: int | None = None) -> None:
        if idle_timeout <= 0 or request_timeout <= 0:
            raise ValueError("the emulator's timeouts must be positive")
        if max_connections is not None and max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.app = app
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.max_connections = max_connections or default_max_connections()
        self.loop: asyncio.AbstractEventLoop | None = None
        """The event loop it serves in, once started: other threads call the app there."""
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # every connection, served or refused
        self._clients: dict[asyncio.Task[None], _Client] = {}  # the served ones

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def connections(self) -> tuple[int, int]:
        """How many connections are open now, and how many of them wait for a request."""
        clients = list(self._clients.values())  # may be read from another thread
        return len(clients), sum(client.idle_since is not None for client in clients)

    async def start(self) -> None:
        """Bind and listen; afterwards ``port`` is the bound port. Raises OSError if taken."""
        listener = await _listen(self.host, self.port)
        self.loop = asyncio.get_running_loop()
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        self._accepting = asyncio.get_running_loop().create_task(self._accept(listener))

    async def stop(self) -> None:
        if self._listener is None:
            return
        if self._accepting is not None:
            self._accepting.cancel()
            await asyncio.gather(self._accepting, return_exceptions=True)
        self._listener.close()
        self._listener = self._accepting = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def serve_forever(self) -> None:
        if self._listener is None:
            await self.start()
        assert self._accepting is not None
        try:
            await self._accepting
        finally:
            await self.stop()

    # -- accepting -------------------------------------------------------------------------

    async def _accept(self, listener: socket.socket) -> None:
        """Accept connections one at a time, each counted against the cap as it is accepted.

        Hand-written rather than asyncio's ``start_server``: that accepts up to a backlog's
        worth of connections at once before any of them can be counted, and logs a traceback
        for each accept() refused for want of files.
        """
        loop = asyncio.get_running_loop()
        short_of_files = False
        while True:
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError as exc:
                # Out of files despite the cap (the process opened others), or a connection
                # aborted before it was accepted: try again in a moment, saying so once.
                if exc.errno in _OUT_OF_RESOURCES and not short_of_files:
                    logger.warning("the emulator cannot accept connections for now (%s); "
                                   "%d are open", exc.strerror, len(self._tasks))
                short_of_files = exc.errno in _OUT_OF_RESOURCES
                await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                continue
            short_of_files = False
            client = _Client(idle_since=loop.time()) if self._make_room() else None
            task = loop.create_task(self._connection(sock, client))
            self._tasks.add(task)
            if client is not None:
                self._clients[task] = client
            await asyncio.sleep(0)  # let connections closed to make room release their files

    # -- one connection --------------------------------------------------------------------

    async def _connection(self, sock: socket.socket, client: _Client | None) -> None:
        """Serve one connection; ``client`` None: refuse it, every slot being busy."""
        task = asyncio.current_task()
        assert task is not None
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
            if client is None:
                await self._refuse_connection(writer)
            else:
                await self._exchange(client, reader, writer)
        except (OSError, TimeoutError):
            pass  # the client went away or stalled: nothing left to answer
        except asyncio.CancelledError:
            pass  # closed to make room, or the server stopping: end quietly
        finally:
            self._tasks.discard(task)
            self._clients.pop(task, None)
            if writer is None:
                sock.close()
            else:
                writer.close()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await writer.wait_closed()

    def _make_room(self) -> bool:
        """Whether a new connection may be served: below the cap, or once the connection idle
        the longest is closed for it. False when every connection is busy with a request."""
        if len(self._clients) < self.max_connections:
            return True
        idle = [(client.idle_since, task) for task, client in self._clients.items()
                if client.idle_since is not None]
        if not idle:
            return False
        _, oldest = min(idle, key=lambda pair: pair[0])
        del self._clients[oldest]
        oldest.cancel()  # it waits for a request: its task ends quietly, closing it
        return True

    async def _refuse_connection(self, writer: asyncio.StreamWriter) -> None:
        message = (f"The emulator is serving its maximum of {self.max_connections} "
                   "connections, each in the middle of a request; try again.")
        writer.write(_error_answer(None, 503, message, (("retry-after", "1"),)))
        async with asyncio.timeout(self.request_timeout):
            await writer.drain()

    async def _exchange(self, client: _Client, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_BYTES)
        peer = writer.get_extra_info("peername")
        while True:
            try:
                received = await self._receive(conn, reader, client)
            except _Refusal as refusal:
                writer.write(_error_answer(conn, refusal.status, refusal.message))
            except h11.RemoteProtocolError as exc:
                writer.write(_error_answer(conn, exc.error_status_hint, str(exc)))
            else:
                if received is None:
                    return  # closed, or the client went away between requests
                try:
                    status, headers, payload = await self._run_app(*received, peer)
                except ConnectionDropped:
                    _reset(writer)
                    return
                response_headers = [(k.encode(), v.encode()) for k, v in headers]
                writer.write(conn.send(h11.Response(status_code=status,
                                                    headers=response_headers)) or b"")
                writer.write(conn.send(h11.Data(data=payload)) or b"")
                writer.write(conn.send(h11.EndOfMessage()) or b"")
            async with asyncio.timeout(self.request_timeout):  # a client that never reads
                await writer.drain()
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return  # refused, or either side asked to close
            conn.start_next_cycle()

    async def _receive(self, conn: h11.Connection, reader: asyncio.StreamReader,
                       client: _Client) -> tuple[h11.Request, bytes] | None:
        """The next request and its body; None if the connection ended between requests.

        Raises TimeoutError when the client is idle too long or sends too slowly.
        """
        loop = asyncio.get_running_loop()
        client.idle_since = loop.time()
        deadline = client.idle_since + self.idle_timeout
        if conn.trailing_data[0]:  # part of a pipelined request is here already
            client.idle_since = None
            deadline = loop.time() + self.request_timeout
        request: h11.Request | None = None
        # The body grows in place: joining bytes objects chunk by chunk copies it all again
        # for each chunk (a body sent in 1-byte chunks would cost quadratic time).
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                async with asyncio.timeout_at(deadline):
                    data = await reader.read(65536)
                if client.idle_since is not None:
                    client.idle_since = None
                    deadline = loop.time() + self.request_timeout
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                client.idle_since = None
                request = event
                declared = dict(event.headers).get(b"content-length", b"0")
                if len(declared) > 10 or int(declared) > MAX_REQUEST_BYTES:
                    raise _too_large()
            elif isinstance(event, h11.Data):
                if len(body) + len(event.data) > MAX_REQUEST_BYTES:
                    raise _too_large()
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                return request, bytes(body)
            else:
                return None

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

        try:
            await self.app(scope, receive, send)
        except ConnectionDropped:
            raise
        except Exception:
            # A fault of the emulator itself, not of the client: answer as the service does
            # for its own failures, and keep the traceback for whoever fixes it.
            logger.exception("the emulator failed on %s %s", scope["method"], scope["path"])
            return 500, [("content-type", "application/json;charset=utf-8")], json.dumps(
                {"Code": "InternalError", "Message": "The request processing has failed due "
                 "to some unknown error."}).encode()
        payload = b"".join(parts)
        # Frame the answer ourselves: h11 needs an exact Content-Length for keep-alive.
        headers = [(k, v) for k, v in answer.get("headers", []) if k.lower() != "content-length"]
        headers.append(("content-length", str(len(payload))))
        return int(answer.get("status", 500)), headers, payload


async def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on the first address ``host`` resolves to."""
    loop = asyncio.get_running_loop()
    family, kind, proto, _, address = (await loop.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE))[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(LISTEN_BACKLOG)
        listener.setblocking(False)
    except BaseException:
        listener.close()
        raise
    return listener


def _too_large() -> _Refusal:
    return _Refusal(413, f"The request is larger than the emulator's limit of "
                         f"{MAX_REQUEST_BYTES:,} bytes.")


def _error_answer(conn: h11.Connection | None, status: int, message: str,
                  extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """An error of the server itself, in the service's JSON shape, closing the connection.

    With ``conn``, framed by h11 (empty if h11 says it is too late to answer); without, for a
    connection refused before any request was read, written out by hand.
    """
    phrase = HTTPStatus(status).phrase
    payload = json.dumps({"Code": phrase.replace(" ", ""), "Message": message}).encode()
    headers = [("content-type", "application/json;charset=utf-8"),
               ("content-length", str(len(payload))), ("connection", "close"), *extra]
    if conn is None:
        head = f"HTTP/1.1 {status} {phrase}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        return head.encode("latin-1") + b"\r\n" + payload
    try:
        return b"".join((
            conn.send(h11.Response(status_code=status, headers=headers,
                                   reason=phrase.encode())) or b"",
            conn.send(h11.Data(data=payload)) or b"",
            conn.send(h11.EndOfMessage()) or b""))
    except h11.LocalProtocolError:
        return b""


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST rather than a FIN: the peer sees "connection reset"."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextlib.contextmanager
def serve_in_thread(app: EmulatorApp, host: str = "127.0.0.1", port: int = 0, *,
                    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
                    max_connections: int | None = None) -> Iterator[EmulatorServer]:
    """Run a server in a background thread with its own event loop; always stopped on exit."""
    server = EmulatorServer(app, host, port, idle_timeout=idle_timeout,
                            request_timeout=request_timeout, max_connections=max_connections)
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
        # Anything else the app left running on this loop: end it too.
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
