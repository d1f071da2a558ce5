"""The CAMS emulator: state file, ASGI app, fault injection, socket server, CLI group.

One implementation, two ways in: in-process through ``app.InProcessTransport`` (what
``camsctl --emulator STATE_FILE`` uses) and on a socket through ``server.EmulatorServer``
(``camsctl emulator serve``).
"""

from reconciler.emulator.app import ConnectionDropped, EmulatorApp, InProcessTransport
from reconciler.emulator.commands import emulator
from reconciler.emulator.faults import FaultPlan
from reconciler.emulator.server import EmulatorServer, serve_in_thread
from reconciler.emulator.state import EmulatorState, StateFileError, load_state

__all__ = [
    "ConnectionDropped",
    "EmulatorApp",
    "EmulatorServer",
    "EmulatorState",
    "FaultPlan",
    "InProcessTransport",
    "StateFileError",
    "emulator",
    "load_state",
    "serve_in_thread",
]
