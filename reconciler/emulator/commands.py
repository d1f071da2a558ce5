"""The ``camsctl emulator`` command group: run the CAMS emulator on a socket, forget kept state.

This module owns the emulator's command line only: it turns flags into an :class:`EmulatorApp`
and an :class:`EmulatorServer`, prints where it listens, and turns setup failures (a bad state
file, a port in use) into one clear line and exit status 1. ``reset`` removes what
``camsctl --emulator FILE`` keeps between commands (``persistence.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from pathlib import Path

import click

from reconciler.emulator.app import EmulatorApp
from reconciler.emulator.faults import FaultPlan
from reconciler.emulator.persistence import DEFAULT_FOLDER, KeptStateError, kept_path
from reconciler.emulator.persistence import reset as reset_kept
from reconciler.emulator.ratelimits import Algorithm
from reconciler.emulator.server import DEFAULT_IDLE_TIMEOUT, EmulatorServer
from reconciler.emulator.state import StateFileError, StateNotKept, load_state, write_state
from reconciler.journal import DEFAULT_JOURNAL

_RATE = click.FloatRange(0.0, 1.0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def emulator() -> None:
    """A local stand-in for the five CAMS operations camsctl uses.

    It verifies Signature V3 like the service, limits each AccessKey to --qps calls per
    second (HTTP 400 Throttling.User; --limiter says how they are counted), and can inject
    seeded faults, so pipelines can be tested without a cloud account. Point camsctl at it with
    `camsctl --endpoint http://127.0.0.1:8080 ...` and the state file's access key
    (default: id `emulator`, secret `emulator-secret`).
    """


@emulator.command("serve")
@click.option("--state", "state_file", required=True, metavar="FILE",
              type=click.Path(path_type=Path),  # a folder too: load_state says so, exit 1
              help="State file (YAML or JSON): access keys, spaces, WABAs, numbers, profiles.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The emulator has no TLS: keep it on loopback.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free port and prints it).")
@click.option("--qps", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Calls per second allowed per AccessKey before Throttling.User.")
@click.option("--limiter", default=Algorithm.BUCKET.value, show_default=True,
              type=click.Choice([a.value for a in Algorithm]),
              help="How calls are counted against --qps: a token bucket of --qps tokens, a "
                   "fixed window per wall-clock second, or a sliding 1-second window.")
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Delay added to every API answer, in milliseconds: --latency-inbound of it "
                   "before the rate limit counts the call, the rest after.")
@click.option("--latency-inbound", default=10.0, show_default=True,
              type=click.FloatRange(0, 100), metavar="PERCENT",
              help="The share of --latency-ms spent on the way in, before the rate limit "
                   "counts the call (the network's trip to the gateway).")
@click.option("--latency-jitter", default=0.0, show_default=True,
              type=click.FloatRange(0, 100), metavar="PERCENT",
              help="Vary each part of --latency-ms uniformly by up to this share (seeded).")
@click.option("--fault-throttle", default=0.0, show_default=True, type=_RATE, metavar="RATE",
              help="Share of calls answered Throttling.User regardless of rate.")
@click.option("--fault-5xx", "fault_server", default=0.0, show_default=True, type=_RATE,
              metavar="RATE", help="Share of calls answered HTTP 503 ServiceUnavailable.")
@click.option("--fault-drop", default=0.0, show_default=True, type=_RATE, metavar="RATE",
              help="Share of calls whose connection is reset without an answer.")
@click.option("--fault-lost-add", default=0.0, show_default=True, type=_RATE, metavar="RATE",
              help="Share of AddChatappPhoneNumber calls that add the number, then drop the "
                   "answer.")
@click.option("--fault-no-list", default=0.0, show_default=True, type=_RATE, metavar="RATE",
              help="Share of QueryChatappPhoneNumbers/ChatappSyncPhoneNumber calls answered "
                   "Code OK without their PhoneNumbers list.")
@click.option("--exists-code", default="PhoneNumber.AlreadyExists", show_default=True,
              metavar="CODE", help="Error code answered to an add of a number that exists.")
@click.option("--visibility-delay-ms", default=0.0, show_default=True,
              type=click.FloatRange(min=0),
              help="Eventual consistency: list an added number only this long after its add.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the fault draws and the latency jitter: the same calls meet the "
                   "same faults.")
@click.option("--persist", is_flag=True,
              help="Write every added number back to the state file (atomically).")
@click.option("--connect-after", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Lifecycle: a number added through the API becomes CONNECTED (name "
                   "APPROVED) this long after its add. Default: the state file's "
                   "lifecycle.connect_after, else never (it stays PENDING).")
@click.option("--idle-timeout", default=DEFAULT_IDLE_TIMEOUT, show_default=True,
              type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Close a connection that waits this long for its next request.")
def serve(state_file: Path, host: str, port: int, qps: float, limiter: str,
          latency_ms: float, latency_inbound: float, latency_jitter: float,
          fault_throttle: float, fault_server: float, fault_drop: float, fault_lost_add: float,
          fault_no_list: float, exists_code: str, visibility_delay_ms: float, seed: int,
          persist: bool, connect_after: float | None, idle_timeout: float) -> None:
    """Serve the emulator on HOST:PORT until interrupted (Ctrl-C).

    \b
    GET /_emulator/stats   calls per action, throttled and faulted counts
    GET /_emulator/state   the current state, in the state-file format (secrets as ***)
    POST /_emulator/reset  back to the state it started with
    """
    try:
        state = load_state(state_file)
    except StateFileError as exc:
        raise click.ClickException(str(exc)) from None
    if connect_after is not None:
        state.connect_after = connect_after
    try:
        faults = FaultPlan(throttle=fault_throttle, server=fault_server, drop=fault_drop,
                           lost_add=fault_lost_add, no_list=fault_no_list, seed=seed)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault-*") from None
    on_change = (lambda s: write_state(state_file, s)) if persist else None
    app = EmulatorApp(state, qps=qps, limiter=limiter, latency_ms=latency_ms,
                      latency_jitter=latency_jitter / 100,
                      latency_inbound=latency_inbound / 100, faults=faults, on_change=on_change,
                      visibility_delay_ms=visibility_delay_ms, exists_code=exists_code)
    server = EmulatorServer(app, host, port, idle_timeout=idle_timeout)

    async def run() -> None:
        try:
            await server.start()
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else (
                exc.strerror or str(exc))
            raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None
        key = next(iter(state.access_keys))
        click.echo(f"CAMS emulator listening on {server.url} (state {state_file}, "
                   f"{len(state.spaces)} space(s), access key id {key!r}, {qps:g} QPS per key, "
                   f"{limiter} limiter)",
                   err=True)
        if faults.active:
            click.echo(f"fault injection on: throttle={fault_throttle} 5xx={fault_server} "
                       f"drop={fault_drop} lost-add={fault_lost_add} no-list={fault_no_list} "
                       f"seed={seed}", err=True)
        await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@emulator.command("reset")
@click.argument("state_file", required=False, metavar="[STATE_FILE]",
                type=click.Path(path_type=Path))
@click.option("--emulator", "emulator_file", metavar="FILE", type=click.Path(path_type=Path),
              help="The state file of `camsctl --emulator FILE` (the same as STATE_FILE).")
@click.pass_context
def reset(ctx: click.Context, state_file: Path | None, emulator_file: Path | None) -> None:
    """Forget what `camsctl --emulator FILE` kept in this folder: the next command starts
    again from FILE. With no FILE, forget every state kept in this folder.

    \b
    camsctl emulator reset examples/live-state.yaml
    camsctl --emulator examples/live-state.yaml emulator reset
    """
    root = ctx.find_root().params.get("emulator")  # `camsctl --emulator FILE emulator reset`
    named = [path for path in (state_file, emulator_file, root) if isinstance(path, Path)]
    if len({path.resolve() for path in named}) > 1:
        raise click.UsageError("name one state file: " + ", ".join(map(str, named)))
    target = named[0] if named else None
    try:
        removed = reset_kept(target)
    except (KeptStateError, StateNotKept) as exc:
        raise click.ClickException(str(exc)) from None
    if target is not None and removed:
        click.echo(f"Removed {removed[0]}: the next `--emulator {target}` command starts "
                   f"again from {target}.")
    elif target is not None:
        click.echo(f"Nothing to reset: no state is kept for {target} in this folder "
                   f"({kept_path(target)} does not exist).")
    else:
        click.echo(f"Removed {len(removed)} kept state(s) from {DEFAULT_FOLDER}"
                   + (": the next `--emulator` commands here start again from their state "
                      "files." if removed else "."))
    if removed and DEFAULT_JOURNAL.exists():
        # The journal is apply's record, not the emulator's: kept, and its effect explained.
        click.echo(f"Note: the journal {DEFAULT_JOURNAL} records adds sent to the emulator: "
                   "an apply within --visibility-window of them waits for them to be listed "
                   "rather than sending them again. Remove the journal as well to start "
                   "entirely afresh.")
