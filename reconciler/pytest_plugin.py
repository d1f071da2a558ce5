"""pytest plugin: the ``cams_emulator`` fixture, a CAMS emulator on a loopback socket per test.

Installed with camsctl (entry point ``pytest11``, name ``camsctl``): a project that has camsctl
installed can ask any test for ``cams_emulator`` and point its own code (the official SDK, the
aliyun CLI, a script) at ``cams_emulator.endpoint`` with ``cams_emulator.access_key_id`` and
``access_key_secret``. Where plugins do not load by themselves
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), ``-p reconciler.pytest_plugin`` loads it.

Each test gets its own emulator: the service's behaviour (signatures, 10 calls per second per
AccessKey, error codes), an empty account (no space) and the default key ``emulator`` /
``emulator-secret`` until :meth:`CamsEmulator.set_state`. The emulator runs in a thread of its
own; every method here runs its work in that thread's event loop, so a test never sees the
emulator half-way through a request.

Importing this module costs nothing but pytest: every pytest run of an environment with camsctl
installed loads it, so the emulator itself (a quarter of a second of imports) is imported only
when a test asks for it. That is also why it sits outside ``reconciler.emulator``, whose
package import would bring the whole emulator in.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from reconciler.api.models import JSONObject
    from reconciler.emulator.app import EmulatorApp
    from reconciler.emulator.server import EmulatorServer

T = TypeVar("T")
CALL_TIMEOUT = 10.0
"""Seconds a method waits for the emulator's thread (it answers in milliseconds)."""


class CamsEmulator:
    """A running emulator, as a test sees it. ``endpoint`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, server: EmulatorServer) -> None:
        self._server = server
        self.host = server.host
        self.port = server.port
        self.endpoint = server.url
        """The URL to call (camsctl's ``--endpoint``, httpx, requests)."""
        self.address = f"{server.host}:{server.port}"
        """``host:port``: what the official SDK's ``Config(endpoint=..., protocol="http")``
        takes."""

    def __repr__(self) -> str:
        return f"CamsEmulator(endpoint={self.endpoint!r})"

    @property
    def app(self) -> EmulatorApp:
        """The emulator itself, for what the methods do not cover (read it between calls)."""
        return self._server.app

    @property
    def access_key_id(self) -> str:
        """The state's first AccessKey id (``emulator`` unless the state lists keys)."""
        return self._in_loop(lambda: next(iter(self._server.app.state.access_keys)))

    @property
    def access_key_secret(self) -> str:
        """The secret of :attr:`access_key_id`."""
        return self._in_loop(lambda: next(iter(self._server.app.state.access_keys.values())))

    def set_state(self, state: Mapping[str, object] | Path) -> None:
        """Replace the whole account with ``state``: a document in the state-file format
        (``access_keys``, ``spaces``, ``oidc``, ``lifecycle``), or a state file's path.

        It is also what :meth:`reset` goes back to from then on; the stats start again.
        Raises ``StateFileError`` (a ValueError) naming the first fault of the document.
        """
        from reconciler.emulator.state import load_state, parse_state

        parsed = load_state(state) if isinstance(state, Path) \
            else parse_state(dict(state), "set_state()")
        self._in_loop(lambda: self._server.app.reset(parsed))

    def state(self) -> JSONObject:
        """The current account in the state-file format, as ``GET /_emulator/state`` answers
        it: secrets (AccessKey secrets, OIDC tokens) read ``***``, so the value can be printed
        in a test report or a CI log. The test knows the secrets it set anyway."""
        from reconciler.emulator.state import dump_state

        def current() -> JSONObject:
            self._server.app.advance_lifecycle()
            return dump_state(self._server.app.state, redact=True)
        return self._in_loop(current)

    def stats(self) -> JSONObject:
        """What ``GET /_emulator/stats`` answers: ``calls`` per action, ``total_calls``,
        ``throttled``, ``faulted``, ``faults`` and ``rejected`` per error code."""
        return self._in_loop(lambda: self._server.app.stats.as_json())

    def reset(self) -> None:
        """Back to the state the test started with (or last :meth:`set_state`), as
        ``POST /_emulator/reset`` does; the stats start again."""
        self._in_loop(lambda: self._server.app.reset())

    def _in_loop(self, work: Callable[[], T]) -> T:
        loop = self._server.loop
        assert loop is not None, "the emulator is not running"
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(work())
            except BaseException as exc:  # handed to the test's thread, raised there
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return done.result(timeout=CALL_TIMEOUT)


@pytest.fixture
def cams_emulator() -> Iterator[CamsEmulator]:
    """A CAMS emulator on 127.0.0.1 (a free port) for this test; stopped after it."""
    from reconciler.emulator.app import EmulatorApp
    from reconciler.emulator.server import serve_in_thread
    from reconciler.emulator.state import parse_state

    app = EmulatorApp(parse_state({"spaces": {}}, "cams_emulator"))
    with serve_in_thread(app, "127.0.0.1", 0) as server:
        yield CamsEmulator(server)
