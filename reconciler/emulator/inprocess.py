"""The emulator in-process: an httpx transport into an :class:`EmulatorApp`, and a client on it.

This module owns the in-process way in (``camsctl --emulator STATE_FILE``, and tests): no
socket, the client's requests go straight to the app through httpx's ASGI transport. It is
the only place where the API package and the emulator meet; ``reconciler.api`` knows nothing
of the emulator, so the wiring lives on this side of the one-way dependency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Unpack

import httpx

from reconciler.api.client import CamsClient, ClientOptions, open_client
from reconciler.api.credential_types import Credentials, StaticCredentials
from reconciler.api.errors import ConfigurationError
from reconciler.emulator.app import ConnectionDropped, EmulatorApp
from reconciler.emulator.persistence import StateKeeper
from reconciler.emulator.state import EmulatorState, StateFileError, load_state

EMULATED_ENDPOINT = "http://localhost"
"""The endpoint an in-process client signs for. Loopback, so plain http is allowed and no
proxy from the environment applies; nothing listens there, the transport never dials."""


class InProcessTransport(httpx.AsyncBaseTransport):
    """The emulator as an httpx transport, no socket: httpx's ASGI transport, plus the one
    thing it cannot express, a connection dropped without an answer."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self._asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._asgi.handle_async_request(request)
        except ConnectionDropped:
            # What httpx raises when a real server closes the connection mid-exchange.
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None

    async def aclose(self) -> None:
        await self._asgi.aclose()


def _app(emulator: Path | EmulatorState | EmulatorApp) -> EmulatorApp:
    if isinstance(emulator, EmulatorApp):
        return emulator
    if isinstance(emulator, EmulatorState):
        return EmulatorApp(emulator)
    try:
        return EmulatorApp(load_state(emulator))
    except StateFileError as exc:
        # A client that cannot be set up: one error of the API's tree, like a bad endpoint,
        # so callers (the CLI) report it as one line without knowing the emulator's errors.
        raise ConfigurationError(str(exc)) from None


def kept_app(state_file: Path, folder: Path,
             note: Callable[[str], None] = lambda _: None) -> EmulatorApp:
    """An app that starts from the state kept for ``state_file`` in ``folder`` (or from the
    file) and keeps every change there: what ``camsctl --emulator FILE`` talks to.

    ``note`` hears why a kept state was set aside (the state file changed since).
    """
    keeper = StateKeeper(state_file, folder)
    try:
        state = keeper.open(note)
    except StateFileError as exc:
        raise ConfigurationError(str(exc)) from None
    return EmulatorApp(state, on_change=keeper.save)


def _first_key(state: EmulatorState) -> Credentials:
    """The state's first access key, as credentials of origin "emulator"."""
    for key_id, secret in state.access_keys.items():
        return Credentials(key_id, secret, origin="emulator")
    raise ConfigurationError("the emulator state has no access key to sign calls with")


@asynccontextmanager
async def open_emulated_client(
    emulator: Path | EmulatorState | EmulatorApp, **options: Unpack[ClientOptions]
) -> AsyncIterator[CamsClient]:
    """A client whose calls an in-process emulator answers; closed on exit.

    ``emulator`` is a state file, a state, or an app (pass the app to look at its stats or
    state afterwards; a state file is read once and never written). The calls are signed with
    the state's first access key unless ``credentials`` says otherwise, so no credentials are
    looked for. ``options`` are :func:`~reconciler.api.client.open_client`'s.
    """
    app = _app(emulator)
    if "credentials" not in options:
        options["credentials"] = StaticCredentials(_first_key(app.state))
    async with open_client(EMULATED_ENDPOINT, transport=InProcessTransport(app),
                           **options) as client:
        yield client
