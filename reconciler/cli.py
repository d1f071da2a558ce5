"""The command line: parses flags and environment, calls the core, prints, and sets the exit code.

This module is an edge: it owns the terminal. Everything it calls either is pure (manifest
model, plan, renderers) or owns its own I/O (loader for files, client for the network).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import click

from reconciler import __version__
from reconciler.annotations import diagnostic_annotations, plan_annotations
from reconciler.api import CamsClient, CamsError, open_client
from reconciler.apply import (
    Outcome,
    Result,
    Stop,
    apply_adds,
    rereads_within,
    stale_spaces,
)
from reconciler.diagnostics import Diagnostic, Severity
from reconciler.emulator import open_emulated_client
from reconciler.emulator.commands import emulator
from reconciler.importer import ImportedSpace, render_manifest, schema_reference
from reconciler.journal import (
    DEFAULT_JOURNAL,
    Journal,
    JournalError,
    adds_in_doubt,
    possibly_applied,
    read_journal,
)
from reconciler.live import Live
from reconciler.loader import LoadResult, load
from reconciler.lock import ApplyLock, LockError
from reconciler.manifest import MANIFEST_SCHEMA, Desired
from reconciler.plan import Plan, build_plan, live_digest
from reconciler.planfile import PlanFileError, PlanMeta, dumps
from reconciler.planfile import read as read_plan
from reconciler.refresh import RefreshError, refresh, reread
from reconciler.render import render_markdown, render_text, summary_line
from reconciler.savedplan import saved_plan_problems
from reconciler.schemas import schema_file

T = TypeVar("T")


@dataclass(frozen=True)
class GlobalOptions:
    """Options given before the command name; shared by every command."""

    endpoint: str | None
    region: str
    profile: str | None
    qps: float
    parallelism: int
    emulator: str | None
    color: bool
    verbose: int
    timeout: float = 30.0


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="camsctl")
@click.option("--endpoint", envvar="CAMSCTL_ENDPOINT", metavar="URL",
              help="CAMS endpoint URL [env CAMSCTL_ENDPOINT]; default from --region.")
@click.option("--region", envvar="ALIBABA_CLOUD_REGION_ID", default="ap-southeast-1",
              show_default=True, help="Region id [env ALIBABA_CLOUD_REGION_ID].")
@click.option("--profile", envvar="ALIBABA_CLOUD_PROFILE", metavar="NAME",
              help="aliyun CLI profile [env ALIBABA_CLOUD_PROFILE].")
@click.option("--qps", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Requests per second across all calls (the documented per-account limit).")
@click.option("--parallelism", type=click.IntRange(min=1), default=8, show_default=True,
              help="Calls under way at once (a call keeps its slot through its retries).")
@click.option("--emulator", "emulator", metavar="STATE_FILE",
              type=click.Path(dir_okay=False),
              help="Talk to an in-process emulator seeded from STATE_FILE; no credentials needed.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              metavar="SECONDS", help="Give up on an answer that takes longer than this.")
@click.option("--no-color", is_flag=True, help="Never colour the output.")
@click.option("-v", "--verbose", count=True,
              help="Progress on stderr even when it is not a terminal; -vv: every API call.")
@click.pass_context
def cli(ctx: click.Context, endpoint: str | None, region: str, profile: str | None, qps: float,
        parallelism: int, emulator: str | None, timeout: float, no_color: bool,
        verbose: int) -> None:
    """Declarative reconciler for the WhatsApp phone numbers of Alibaba Cloud CAMS."""
    if verbose >= 2:
        # -vv: one line per API attempt (operation, HTTP status, RequestId); never secrets.
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="camsctl: %(name)s: %(message)s")
        for noisy in ("httpx", "httpcore", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = GlobalOptions(endpoint=endpoint, region=region, profile=profile, qps=qps,
                            parallelism=parallelism, emulator=emulator, color=not no_color,
                            verbose=verbose, timeout=timeout)


_SEVERITY_COLOUR = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _colour_enabled(ctx: click.Context) -> bool | None:
    """None lets click decide (colour only on a terminal); False forces it off."""
    options: GlobalOptions = ctx.find_object(GlobalOptions) or ctx.obj
    return None if options.color else False


def echo_diagnostics(ctx: click.Context, diagnostics: tuple[Diagnostic, ...]) -> None:
    """Print located diagnostics on stderr, one a line, as ``FILE:LINE:COL: error: message``."""
    colour = _colour_enabled(ctx)
    for diagnostic in diagnostics:
        label = click.style(diagnostic.severity.value,
                            fg=_SEVERITY_COLOUR[diagnostic.severity], bold=True)
        click.echo(f"{diagnostic.location}: {label}: {diagnostic.message}", err=True,
                   color=colour)


def load_or_exit(ctx: click.Context, paths: tuple[str, ...],
                 github: bool = False) -> LoadResult:
    """Load manifests, print their diagnostics, and exit 1 if any is an error.

    With ``github`` the diagnostics are workflow annotations on stdout, where the runner
    reads them.
    """
    result = load(paths)
    if github:
        for line in diagnostic_annotations(result.diagnostics):
            click.echo(line)
    else:
        echo_diagnostics(ctx, result.diagnostics)
    if result.errors:
        files_with_errors = len({d.location.file for d in result.errors})
        click.echo(f"{_plural(len(result.errors), 'error')} in "
                   f"{_plural(files_with_errors, 'file')}; nothing was done.", err=True)
        ctx.exit(1)
    return result


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "fmt", type=click.Choice(["text", "github"]), default="text",
              show_default=True, help="github: GitHub Actions annotations on stdout.")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...], fmt: str) -> None:
    """Load and validate manifests (files or directories); no network.

    Prints every error as FILE:LINE:COL and exits 1 if there is any; warnings do not fail.
    """
    result = load_or_exit(ctx, paths, github=fmt == "github")
    desired = result.desired
    assert desired is not None  # load_or_exit exits on any error
    warnings = sum(1 for d in result.diagnostics if d.severity is Severity.WARNING)
    summary = (f"{_plural(len(result.files), 'file')}, {_plural(len(desired.spaces), 'space')}, "
               f"{_plural(desired.number_count, 'number')}: valid")
    if warnings:
        summary += f" ({_plural(warnings, 'warning')})"
    click.echo(summary)


# --- talking to CAMS --------------------------------------------------------------------------


def _options(ctx: click.Context) -> GlobalOptions:
    options = ctx.find_object(GlobalOptions)
    assert options is not None
    return options


@asynccontextmanager
async def _client(options: GlobalOptions) -> AsyncIterator[CamsClient]:
    if options.emulator:
        opened = open_emulated_client(Path(options.emulator), qps=options.qps,
                                      parallelism=options.parallelism, timeout=options.timeout)
    else:
        opened = open_client(endpoint=options.endpoint, region=options.region,
                             profile=options.profile, qps=options.qps,
                             parallelism=options.parallelism, timeout=options.timeout)
    async with opened as client:
        try:
            await client.authenticate()
            yield client
        finally:
            _report_throttling(client)


def _report_throttling(client: CamsClient) -> None:
    """Say so when the service throttled us: the AccessKey's quota may be shared."""
    rate = client.flow.rate
    if rate.throttled_answers:
        click.echo(f"Note: the service throttled {_plural(rate.throttled_answers, 'answer')}; "
                   f"camsctl slowed to {rate.lowest:.1f} calls/s at the lowest and retried "
                   "(another client may be using this AccessKey's quota).", err=True)


def _endpoint_label(options: GlobalOptions, client: CamsClient) -> str:
    if options.emulator:
        return f"emulator:{options.emulator}"
    return client.endpoint.url


def _run(ctx: click.Context, work: Callable[[], Coroutine[None, None, T]]) -> T:
    """Run async work; any failure to reach or read CAMS becomes one clear line and exit 1."""
    try:
        return asyncio.run(work())
    except RefreshError as exc:
        click.echo(f"Error: {exc}", err=True)
    except CamsError as exc:
        click.echo(f"Error: {exc}", err=True)
    except (PlanFileError, LockError, JournalError) as exc:
        click.echo(f"Error: {exc}", err=True)
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing more was done.", err=True)
    ctx.exit(1)
    raise AssertionError("unreachable")


def _progress(options: GlobalOptions) -> Callable[[str], None] | None:
    """Progress lines on stderr, only when stderr is a terminal (or with -v)."""
    if not (sys.stderr.isatty() or options.verbose):
        return None

    def show(message: str) -> None:
        click.echo(message, err=True)
    return show


def _created_at() -> str:
    # SOURCE_DATE_EPOCH makes saved plans reproducible byte for byte (as in reproducible builds).
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch and epoch.isdigit() \
        else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _select_spaces(ctx: click.Context, desired: Desired, spaces: tuple[str, ...]) -> Desired:
    if not spaces:
        return desired
    unknown = sorted(set(spaces) - set(desired.spaces))
    if unknown:
        click.echo(f"Error: --space {', '.join(unknown)}: not declared in the manifests",
                   err=True)
        ctx.exit(1)
    return replace(desired, spaces=MappingProxyType(
        {sid: space for sid, space in desired.spaces.items() if sid in spaces}))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _append_step_summary(markdown: str) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as summary:
            summary.write(markdown + "\n")


def _show_plan(ctx: click.Context, plan: Plan, meta: PlanMeta, fmt: str, mask: bool) -> None:
    if fmt == "json":
        click.echo(dumps(plan, meta), nl=False)
    elif fmt == "github":
        for line in plan_annotations(plan, mask=mask):
            click.echo(line)
        click.echo(summary_line(plan))
    elif fmt == "markdown":
        click.echo(render_markdown(plan, mask=mask), nl=False)
    else:
        color = _colour_enabled(ctx)
        use_colour = sys.stdout.isatty() if color is None else color
        click.echo(render_text(plan, color=use_colour, mask=mask), nl=False, color=color)


_FORMAT = click.option("--format", "fmt",
                       type=click.Choice(["text", "json", "markdown", "github"]),
                       default="text", show_default=True,
                       help="How to print the plan (github: workflow annotations).")
_MASK = click.option("--mask-numbers", is_flag=True,
                     help="Hide the middle digits of phone numbers in text and Markdown.")
_SPACE = click.option("--space", "spaces", multiple=True, metavar="ID",
                      help="Only these declared spaces (repeatable).")
_SYNC = click.option("--sync", is_flag=True,
                     help="Read numbers with ChatappSyncPhoneNumber (fresh from WhatsApp).")


async def _plan(options: GlobalOptions, client: CamsClient, desired: Desired,
                sync: bool) -> tuple[Plan, PlanMeta]:
    live = await refresh(client, desired, sync=sync, progress=_progress(options))
    meta = PlanMeta(created_at=_created_at(), endpoint=_endpoint_label(options, client))
    return build_plan(desired, live, sync=sync), meta


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save the plan (JSON) to FILE, for `apply --plan FILE`.")
@_FORMAT
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 in sync, else 2 (adds) | 4 (drift) | 8 (unmanaged), added up.")
@_SYNC
@_SPACE
@_MASK
@click.pass_context
def plan(ctx: click.Context, paths: tuple[str, ...], out: Path | None, fmt: str,
         detailed_exitcode: bool, sync: bool, spaces: tuple[str, ...],
         mask_numbers: bool) -> None:
    """Compare the manifests with the live account and show what apply would add.

    Drift (name, status, profile, WABA) and unmanaged numbers are reported, never changed.
    """
    result = _plan_and_show(ctx, paths, fmt, sync, spaces, mask_numbers, out)
    if detailed_exitcode:
        ctx.exit(int(result.findings()))


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@_FORMAT
@_SYNC
@_SPACE
@_MASK
@click.pass_context
def drift(ctx: click.Context, paths: tuple[str, ...], fmt: str, sync: bool,
          spaces: tuple[str, ...], mask_numbers: bool) -> None:
    """Audit: report drift, missing and unmanaged numbers. Never writes.

    Exit 0 in sync, else 2 (numbers to add) | 4 (drift) | 8 (unmanaged), added up.
    """
    result = _plan_and_show(ctx, paths, fmt, sync, spaces, mask_numbers, out=None)
    ctx.exit(int(result.findings()))


def _plan_and_show(ctx: click.Context, paths: tuple[str, ...], fmt: str, sync: bool,
                   spaces: tuple[str, ...], mask: bool, out: Path | None) -> Plan:
    """What plan and drift share: load, refresh, build, save (with ``out``), show, summarise."""
    options = _options(ctx)
    desired = _select_spaces(ctx, _loaded(ctx, paths), spaces)

    async def work() -> tuple[Plan, PlanMeta]:
        async with _client(options) as client:
            return await _plan(options, client, desired, sync)

    result, meta = _run(ctx, work)
    if out is not None:
        _write_atomically(out, dumps(result, meta))
    _show_plan(ctx, result, meta, fmt, mask)
    _append_step_summary(render_markdown(result, mask=mask))
    return result


def _loaded(ctx: click.Context, paths: tuple[str, ...]) -> Desired:
    result = load_or_exit(ctx, paths)
    assert result.desired is not None
    return result.desired


def _outcome_line(outcome: Outcome, mask: bool) -> str:
    phone = outcome.add.phone.masked() if mask else outcome.add.phone.e164
    text = f"{phone} (space {outcome.add.space_id}): {outcome.result.value}"
    if outcome.result in (Result.FAILED, Result.UNKNOWN, Result.NOT_SENT):
        text += f": {outcome.reason}"
    elif outcome.request_id:
        text += f" (RequestId {outcome.request_id})"
    elif outcome.reason:
        text += f" ({outcome.reason})"
    return text


def _apply_summary(outcomes: tuple[Outcome, ...]) -> str:
    counts = Counter(o.result for o in outcomes)
    middle = "".join(f"{counts[result]} {label}, " for result, label in (
        (Result.ALREADY_PRESENT, "already present"),
        (Result.AWAITING_VISIBILITY, "awaiting visibility"),
        (Result.UNKNOWN, "unknown (re-run apply later)"),
        (Result.NOT_SENT, "not sent")) if counts[result])
    return f"Apply complete: {counts[Result.ADDED]} added, {middle}{counts[Result.FAILED]} failed."


class _Interrupts:
    """SIGINT and SIGTERM while adds are being sent: the first stops every add not yet sent
    and lets those under way finish and be journaled; the second ends the process at once
    (the journal then holds them as sent, and the next apply re-reads before sending)."""

    def __init__(self, stop: Stop) -> None:
        self._stop = stop
        self._signals = (signal.SIGINT, signal.SIGTERM)

    def _received(self, signum: int) -> None:
        if self._stop.interrupted:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self._stop.interrupt()
        click.echo("Interrupted: no further add is sent; finishing the adds under way "
                   "(interrupt again to stop at once).", err=True)

    def __enter__(self) -> _Interrupts:
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            loop.add_signal_handler(signum, self._received, signum)
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            loop.remove_signal_handler(signum)


@dataclass(frozen=True)
class _Applied:
    outcomes: tuple[Outcome, ...]
    stop: Stop


@cli.command()
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Apply a plan saved by `plan --out`, checked against the manifests PATH... "
                   "and refused if the live state changed.")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--max-adds", type=click.IntRange(min=0), metavar="N",
              help="Refuse, adding nothing, if the plan would add more than N numbers.")
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_JOURNAL, show_default=True,
              help="Append-only record of every add (JSON lines).")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
              metavar="SECONDS", help="How long to wait for another apply using the same "
              "journal folder to finish.")
@click.option("--visibility-window", type=click.FloatRange(min=0), default=600.0,
              show_default=True, metavar="SECONDS",
              help="How long the service may take to list a new number: an add sent this "
                   "recently is re-read, never sent again.")
@_MASK
@click.pass_context
def apply(ctx: click.Context, paths: tuple[str, ...], plan_file: Path | None,
          auto_approve: bool, max_adds: int | None, journal_path: Path, lock_timeout: float,
          visibility_window: float, mask_numbers: bool) -> None:
    """Add every declared number that is missing. Nothing else is ever changed.

    With PATH... it plans first and asks for `yes` on a terminal (refusing with no terminal
    unless --auto-approve). With --plan FILE PATH... it applies that saved plan without
    asking, after checking every change against the manifests and that the spaces it adds
    to have not changed since.
    """
    options = _options(ctx)
    if not paths:
        raise click.UsageError("give the manifests' PATHs (with --plan FILE too: a saved plan "
                               "is checked against them)")
    desired = _loaded(ctx, paths)
    saved: tuple[Plan, PlanMeta] | None = None
    if plan_file is not None:
        try:
            saved = read_plan(plan_file)
        except PlanFileError as exc:
            click.echo(f"Error: {plan_file}: {exc}", err=True)
            ctx.exit(1)

    def refuse(message: str) -> None:
        click.echo(f"Error: {message}", err=True)

    def confirm(plan_: Plan) -> bool:
        if auto_approve or saved is not None or not plan_.adds:
            return True
        if not sys.stdin.isatty():
            refuse("apply needs confirmation: run it on a terminal, or pass --auto-approve "
                   "(for CI, prefer `plan --out` and `apply --plan`).")
            return False
        answer = click.prompt(f"Add {len(plan_.adds)} number(s)? Only 'yes' will be accepted",
                              default="", show_default=False, err=True)
        if answer != "yes":
            click.echo("Apply cancelled; nothing was added.", err=True)
            return False
        return True

    def progress(outcome: Outcome) -> None:
        if sys.stderr.isatty() or options.verbose:
            click.echo(_outcome_line(outcome, mask_numbers), err=True)

    async def checked_saved_plan(client: CamsClient, endpoint: str) -> Plan | None:
        assert saved is not None
        plan_, meta = saved
        problems = saved_plan_problems(plan_, meta.endpoint, desired, endpoint,
                                       mask=mask_numbers)
        if problems:
            refuse(f"{plan_file} does not match the manifests; nothing was added:\n  "
                   + "\n  ".join(problems))
            return None
        touched = [s for s in plan_.spaces if any(a.space_id == s.id for a in plan_.adds)]
        fresh = _replan_digests(plan_, await reread(client, touched,
                                                    progress=_progress(options)))
        stale = stale_spaces(plan_, fresh)
        if stale:
            refuse(f"the plan is stale: the live state of space {', '.join(stale)} changed "
                   "since it was made. Nothing was added; run `camsctl plan` again.")
            return None
        return plan_

    async def work() -> _Applied | None:
        def waiting(message: str) -> None:
            click.echo(message, err=True)
        # Held from before the refresh to the last add, so a second apply plans from our result.
        with ApplyLock(journal_path.with_name("apply.lock"), lock_timeout, waiting):
            async with _client(options) as client:
                endpoint = _endpoint_label(options, client)
                # Opened before anything is read or sent: a journal that cannot be written
                # stops the run before its first add.
                earlier = read_journal(journal_path)
                with Journal(journal_path, endpoint) as journal:
                    return await locked_work(client, endpoint, journal, earlier)

    async def locked_work(client: CamsClient, endpoint: str, journal: Journal,
                          earlier: list[dict[str, object]]) -> _Applied | None:
        # The journal's doubts are judged at the moment the live state is read, not later:
        # a number sent just over the window before a read may have been listed only after it.
        read_at = datetime.now(UTC)
        if saved is not None:
            plan_ = await checked_saved_plan(client, endpoint)
        else:
            plan_, meta = await _plan(options, client, desired, sync=False)
            _show_plan(ctx, plan_, meta, "text", mask_numbers)
        if plan_ is None:
            return None
        if max_adds is not None and len(plan_.adds) > max_adds:
            refuse(f"the plan adds {len(plan_.adds)} numbers, more than --max-adds "
                   f"{max_adds}; nothing was added.")
            return None
        if not confirm(plan_):
            return None
        stop = Stop()
        if not plan_.adds:
            return _Applied((), stop)
        doubts = adds_in_doubt(earlier, endpoint, read_at, visibility_window)
        with _Interrupts(stop):
            outcomes = await apply_adds(client, plan_, journal, in_doubt=doubts,
                                        sent_before=possibly_applied(earlier, endpoint), stop=stop,
                                        reread_delays=rereads_within(visibility_window),
                                        progress=progress)
        return _Applied(outcomes, stop)

    done = _run(ctx, work)
    if done is None:
        ctx.exit(1)
    for outcome in done.outcomes:
        click.echo(_outcome_line(outcome, mask_numbers))
    summary = _apply_summary(done.outcomes)
    click.echo(summary)
    if done.stop.journal_error is not None:
        refuse(f"{done.stop.journal_error}. No add was sent after that; the lines above say "
               "how each one ended.")
    elif done.stop.interrupted:
        refuse("apply was interrupted; the lines above say how each add ended. Run apply "
               "again to add the rest.")
    _append_step_summary(f"### camsctl apply\n\n**{summary}**\n\n" + "\n".join(
        f"- {_outcome_line(o, True)}" for o in done.outcomes))
    if done.stop.requested or not all(o.result.settled for o in done.outcomes):
        ctx.exit(1)


def _replan_digests(saved: Plan, live: Live) -> Plan:
    """The saved plan with each re-read space's digest as it is now."""
    spaces = tuple(replace(s, live_digest=live_digest(live.spaces[s.id]))
                   for s in saved.spaces if s.id in live.spaces)
    return replace(saved, spaces=spaces)


@cli.command(name="import")
@click.option("--space", "spaces", multiple=True, required=True, metavar="ID",
              help="A space to import (repeatable).")
@click.option("--isv-code", metavar="CODE", help="IsvCode to pass when reading the spaces.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the manifest to FILE (refuses to overwrite) instead of stdout.")
@click.pass_context
def import_(ctx: click.Context, spaces: tuple[str, ...], isv_code: str | None,
            output: Path | None) -> None:
    """Write a manifest of what the spaces have now.

    Planning with it right after shows nothing to add and no drift.
    """
    options = _options(ctx)
    if output is not None and output.exists():
        click.echo(f"Error: {output} exists; choose another file or remove it first.", err=True)
        ctx.exit(1)

    async def work() -> str:
        async with _client(options) as client:
            async def read(space_id: str) -> ImportedSpace:
                listed = await client.list_phone_numbers(space_id, isv_code)
                waba = (await client.query_bind_waba(space_id, isv_code)).waba
                return ImportedSpace(space_id, listed, waba)
            read_all = await asyncio.gather(*(read(s) for s in dict.fromkeys(spaces)))
            where = output.parent if output else Path.cwd()
            return render_manifest(read_all, isv_code=isv_code, schema_path=schema_reference(
                schema_file(MANIFEST_SCHEMA), where))

    text = _run(ctx, work)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write_atomically(output, text)
        click.echo(f"Wrote {output}.", err=True)


cli.add_command(emulator)


def main() -> None:
    cli(prog_name="camsctl")
