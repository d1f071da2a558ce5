"""The CAMS emulator: state file, ASGI app, fault injection, socket server, CLI group.

One implementation, two ways in: in-process through ``inprocess.open_emulated_client`` (what
``camsctl --emulator STATE_FILE`` uses; ``inprocess.InProcessTransport`` for other clients)
and on a socket through ``server.EmulatorServer`` (``camsctl emulator serve``).
"""

from reconciler.emulator.app import ConnectionDropped, EmulatorApp
from reconciler.emulator.commands import emulator
from reconciler.emulator.faults import FaultPlan
from reconciler.emulator.inprocess import InProcessTransport, open_emulated_client
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
    "open_emulated_client",
    "serve_in_thread",
]
