"""The command line: flags → workflow → view → exit code.

This module is an edge: it owns the terminal and the environment. It parses flags into the
application layer's options (:mod:`reconciler.workflow`), calls one workflow function, hands
its result to the view of the chosen format (:mod:`reconciler.views`), prints, and sets the
exit code. Every failure a workflow can raise becomes one ``Error:`` line and exit 1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Callable, Collection, Coroutine, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import click

from reconciler import __version__, workflow
from reconciler.api import CamsError
from reconciler.diagnostics import Severity
from reconciler.emulator.commands import emulator
from reconciler.emulator.persistence import DEFAULT_FOLDER as EMULATOR_FOLDER
from reconciler.gitbase import GitBaseError, load_at
from reconciler.importer import import_notes, render_manifest, schema_reference
from reconciler.journal import DEFAULT_JOURNAL, JournalError
from reconciler.ledger import DEFAULT_PENDING_DEADLINE, LedgerRecord, follow, parse_duration
from reconciler.ledgerfile import LedgerFileError, append_record, read_ledger
from reconciler.loader import LoadResult, load
from reconciler.lock import LockError
from reconciler.manifest import MANIFEST_SCHEMA, Desired
from reconciler.outcome import Outcome
from reconciler.phone import mask_in_text
from reconciler.plan import Plan
from reconciler.planfile import PlanFileError
from reconciler.planfile import read as read_plan
from reconciler.refresh import RefreshError
from reconciler.report import render_report
from reconciler.schemas import schema_file
from reconciler.scope import Scope, changed_spaces
from reconciler.views import FORMATS, View, view_for
from reconciler.views.text import visible
from reconciler.views.wording import outcome_line

T = TypeVar("T")


@dataclass(frozen=True)
class GlobalOptions:
    """Options given before the command name; shared by every command."""

    connection: workflow.Connection
    color: bool
    verbose: int


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
@click.option("--emulator", "emulator", metavar="STATE_FILE", type=click.Path(path_type=Path),
              help="Talk to an in-process emulator seeded from STATE_FILE; no credentials "
                   "needed. Its changes are kept in .camsctl/emulator/ for the next command "
                   "here (`camsctl emulator reset` forgets them).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              metavar="SECONDS", help="Give up on an answer that takes longer than this.")
@click.option("--no-color", is_flag=True, help="Never colour the output.")
@click.option("-v", "--verbose", count=True,
              help="Progress on stderr even when it is not a terminal; -vv: every API call.")
@click.pass_context
def cli(ctx: click.Context, endpoint: str | None, region: str, profile: str | None, qps: float,
        parallelism: int, emulator: Path | None, timeout: float, no_color: bool,
        verbose: int) -> None:
    """Declarative reconciler for the WhatsApp phone numbers of Alibaba Cloud CAMS."""
    if verbose >= 2:
        # -vv: one line per API attempt (operation, HTTP status, RequestId); never secrets.
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="camsctl: %(name)s: %(message)s")
        for noisy in ("httpx", "httpcore", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = GlobalOptions(
        connection=workflow.Connection(endpoint=endpoint, region=region, profile=profile,
                                       qps=qps, parallelism=parallelism, emulator=emulator,
                                       timeout=timeout, emulator_folder=EMULATOR_FOLDER),
        color=not no_color, verbose=verbose)


# --- the edge's small services ----------------------------------------------------------------


def _options(ctx: click.Context) -> GlobalOptions:
    options = ctx.find_object(GlobalOptions)
    assert options is not None
    return options


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _view(ctx: click.Context, fmt: str, mask: bool) -> View:
    """The view of ``fmt``; text is styled unless --no-color (see :func:`_echo`)."""
    return view_for(fmt, mask=mask, color=_options(ctx).color)


def _echo(ctx: click.Context, text: str, *, err: bool = False) -> None:
    """Print a rendering as it is; click drops its colours where the stream is no terminal."""
    click.echo(text, nl=False, err=err, color=None if _options(ctx).color else False)


def _error(message: str, details: Iterable[str] = ()) -> None:
    """``Error: message`` on stderr, then each detail indented on its own line.

    Errors quote what camsctl read (the service's messages, plan files, paths), so each line
    is made visible on its own: nothing quoted can break it, or move the cursor.
    """
    click.echo(f"Error: {visible(message)}", err=True)
    for detail in details:
        click.echo(f"  {visible(detail)}", err=True)


def _service(text: str, mask: bool) -> str:
    """The service's words (an error's message) as shown: numbers in them masked with
    --mask-numbers."""
    return mask_in_text(text) if mask else text


def _fail(ctx: click.Context, message: str) -> None:
    _error(message)
    ctx.exit(1)


def _run(ctx: click.Context, work: Coroutine[None, None, T], *, mask: bool = False) -> T:
    """Run a workflow; any failure to reach CAMS or to start safely is one error and exit 1.

    With ``mask`` (--mask-numbers), numbers in the service's words are masked too.
    """
    try:
        return asyncio.run(work)
    except RefreshError as exc:
        _error("could not read the live state:", (f"space {space}: {_service(str(error), mask)}"
                                                  for space, error in exc.failures.items()))
    except CamsError as exc:
        _error(_service(str(exc), mask))
    except workflow.Refused as exc:
        _error(exc.message, exc.details)
    except (PlanFileError, LockError, JournalError) as exc:
        _error(str(exc))
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing more was done.", err=True)
    ctx.exit(1)
    raise AssertionError("unreachable")


class _Terminal(workflow.Listener):
    """What a run says while it works, on stderr: progress only on a terminal (or -v)."""

    def __init__(self, options: GlobalOptions, mask: bool = False) -> None:
        self._chatty = sys.stderr.isatty() or options.verbose > 0
        self._mask = mask

    def progress(self, message: str) -> None:
        if self._chatty:
            click.echo(visible(message), err=True)

    def note(self, message: str) -> None:
        click.echo(visible(message), err=True)

    def outcome(self, outcome: Outcome) -> None:
        if self._chatty:
            click.echo(visible(outcome_line(outcome, self._mask)), err=True)


def _created_at() -> str:
    # SOURCE_DATE_EPOCH makes saved plans reproducible byte for byte (as in reproducible builds).
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch and epoch.isdigit() \
        else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_date(created_at: str) -> date:
    """The date of the run, from the moment its plan records (as ``workflow`` derives it), so
    that loading and planning agree on which acknowledgements are in force."""
    return date.fromisoformat(created_at[:10])


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _append_step_summary(render: Callable[[], str]) -> None:
    """Append a Markdown rendering to the job summary, made only when a runner asks for one
    (``GITHUB_STEP_SUMMARY``).

    The summary is a courtesy to the reader of the job: one that cannot be written (a
    directory, a missing folder, a full or read-only disk) is a warning on stderr, and the
    command keeps the exit code of what it did.
    """
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as summary:
            summary.write(render() + "\n")
    except OSError as exc:
        click.echo(f"Warning: could not append to the job summary GITHUB_STEP_SUMMARY="
                   f"{visible(target)} ({visible(exc.strerror or type(exc).__name__)}); "
                   "the command's result is unchanged.", err=True)


# --- manifests --------------------------------------------------------------------------------


def load_or_exit(ctx: click.Context, paths: tuple[str, ...], created_at: str,
                 fmt: str = "text") -> LoadResult:
    """Load manifests as of the run's moment ``created_at``, print their diagnostics, and exit
    1 if any is an error.

    Text diagnostics go to stderr; GitHub annotations to stdout, where the runner reads them.
    """
    result = load(paths, today=_run_date(created_at))
    if fmt == "github":
        click.echo(view_for("github").diagnostics(result.diagnostics), nl=False)
    else:
        _echo(ctx, _view(ctx, "text", False).diagnostics(result.diagnostics), err=True)
    if result.errors or result.desired is None:
        files_with_errors = len({d.location.file for d in result.errors})
        click.echo(f"{_plural(len(result.errors), 'error')} in "
                   f"{_plural(files_with_errors, 'file')}; nothing was done.", err=True)
        ctx.exit(1)
    return result


def _loaded(ctx: click.Context, paths: tuple[str, ...], created_at: str) -> Desired:
    desired = load_or_exit(ctx, paths, created_at).desired
    assert desired is not None  # load_or_exit exits on any error
    return desired


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "fmt", type=click.Choice(["text", "github"]), default="text",
              show_default=True, help="github: GitHub Actions annotations on stdout.")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...], fmt: str) -> None:
    """Load and validate manifests (files or directories); no network.

    Prints every error as FILE:LINE:COL and exits 1 if there is any; warnings do not fail.
    """
    result = load_or_exit(ctx, paths, _created_at(), fmt)
    desired = result.desired
    assert desired is not None
    warnings = sum(1 for d in result.diagnostics if d.severity is Severity.WARNING)
    summary = (f"{_plural(len(result.files), 'file')}, {_plural(len(desired.spaces), 'space')}, "
               f"{_plural(desired.number_count, 'number')}: valid")
    if warnings:
        summary += f" ({_plural(warnings, 'warning')})"
    click.echo(summary)


# --- plan, drift, show ------------------------------------------------------------------------


_FORMAT = click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="text",
                       show_default=True,
                       help="How to print the plan (github: workflow annotations).")
_MASK = click.option("--mask-numbers", is_flag=True,
                     help="Hide the middle digits of phone numbers in text and Markdown.")
_SPACE = click.option("--space", "spaces", multiple=True, metavar="ID",
                      help="Only these declared spaces (repeatable).")
_SYNC = click.option("--sync", is_flag=True,
                     help="Read numbers with ChatappSyncPhoneNumber (fresh from WhatsApp).")


_CHANGED_SINCE = click.option(
    "--changed-since", "changed_since", metavar="REF",
    help="Read only the declared spaces whose declaration differs from git revision REF "
         "(and spaces new since): a pull-request plan. The drift audit reads everything.")


def _only(desired: Desired, spaces: Collection[str]) -> Desired:
    return replace(desired, spaces=MappingProxyType(
        {sid: space for sid, space in desired.spaces.items() if sid in spaces}))


def _select_spaces(ctx: click.Context, desired: Desired, spaces: tuple[str, ...]) -> Desired:
    if not spaces:
        return desired
    unknown = sorted(set(spaces) - set(desired.spaces))
    if unknown:
        _fail(ctx, f"--space {', '.join(unknown)}: not declared in the manifests")
    return _only(desired, spaces)


def _changed_since(ctx: click.Context, paths: tuple[str, ...], desired: Desired,
                   ref: str | None, created_at: str) -> tuple[Desired, Scope | None]:
    """With ``--changed-since REF``: only the spaces whose declaration changed since REF."""
    if ref is None:
        return desired, None
    try:
        _, base = load_at(ref, paths, partial(load, today=_run_date(created_at)))
    except GitBaseError as exc:
        _fail(ctx, str(exc))
        raise AssertionError("unreachable") from None
    before = base.desired if not base.errors else None
    if before is None:
        click.echo(f"Warning: the manifests at {visible(ref)} do not load "
                   f"({_plural(len(base.errors), 'error')}): every declared space counts as "
                   "changed.", err=True)
    changed = changed_spaces(before, desired)
    return _only(desired, changed), Scope(ref, len(desired.spaces), changed)


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_LEDGER = click.option(
    "--ledger", "ledger", type=click.Path(dir_okay=False, path_type=Path),
    help="Append this run's findings to FILE (JSON lines; a missing file starts one) and say "
         "since when each finding is open.")
_PENDING_DEADLINE = click.option(
    "--pending-deadline", default=DEFAULT_PENDING_DEADLINE, show_default=True,
    metavar="DURATION", callback=_duration,
    help="With --ledger: a number pending for longer than this (30s, 15m, 12h, 7d) is drift.")


@dataclass(frozen=True)
class _LedgerOptions:
    path: Path | None = None
    pending_deadline: timedelta = timedelta(days=7)


def _with_ledger(ctx: click.Context, ledger: _LedgerOptions, records: list[LedgerRecord],
                 result: workflow.PlanResult) -> workflow.PlanResult:
    """Follow the run in the ledger: overdue pending numbers become drift, findings learn
    since when they are open, and the run's record is appended."""
    if ledger.path is None:
        return result
    plan, meta, record = follow(result.plan, result.meta, records, ledger.pending_deadline)
    try:
        append_record(ledger.path, record)
    except LedgerFileError as exc:
        _fail(ctx, str(exc))
    return workflow.PlanResult(plan, meta)


def _plan_and_show(ctx: click.Context, paths: tuple[str, ...], fmt: str, sync: bool,
                   spaces: tuple[str, ...], mask: bool, out: Path | None,
                   changed_since: str | None = None,
                   ledger: _LedgerOptions = _LedgerOptions()) -> Plan:
    """What plan and drift share: load, refresh, build, follow in the ledger (with
    ``--ledger``), save (with ``out``), show, summarise."""
    options = _options(ctx)
    created_at = _created_at()
    desired = _select_spaces(ctx, _loaded(ctx, paths, created_at), spaces)
    desired, scope = _changed_since(ctx, paths, desired, changed_since, created_at)
    records: list[LedgerRecord] = []
    if ledger.path is not None:  # before any call: a ledger that cannot be used stops here
        try:
            records = read_ledger(ledger.path)
        except LedgerFileError as exc:
            _fail(ctx, str(exc))
    result = _with_ledger(ctx, ledger, records, _run(
        ctx, workflow.plan(options.connection, desired, created_at=created_at, sync=sync,
                           scope=scope, listener=_Terminal(options)), mask=mask))
    if out is not None:
        _write_atomically(out, view_for("json").plan(result.plan, result.meta))
    _echo(ctx, _view(ctx, fmt, mask).plan(result.plan, result.meta))
    _append_step_summary(lambda: view_for("markdown", mask=mask).plan(result.plan,
                                                                      result.meta))
    return result.plan


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save the plan (JSON) to FILE, for `apply --plan FILE`.")
@_FORMAT
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 in sync, else 2 (adds) | 4 (drift) | 8 (unmanaged) | 16 (pending), "
                   "added up.")
@_SYNC
@_SPACE
@_CHANGED_SINCE
@_LEDGER
@_PENDING_DEADLINE
@_MASK
@click.pass_context
def plan(ctx: click.Context, paths: tuple[str, ...], out: Path | None, fmt: str,
         detailed_exitcode: bool, sync: bool, spaces: tuple[str, ...],
         changed_since: str | None, ledger: Path | None, pending_deadline: timedelta,
         mask_numbers: bool) -> None:
    """Compare the manifests with the live account and show what apply would add.

    Drift (name, status, profile, WABA) and unmanaged numbers are reported, never changed.
    """
    result = _plan_and_show(ctx, paths, fmt, sync, spaces, mask_numbers, out, changed_since,
                            _LedgerOptions(ledger, pending_deadline))
    if detailed_exitcode:
        ctx.exit(int(result.findings()))


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@_FORMAT
@_SYNC
@_SPACE
@_LEDGER
@_PENDING_DEADLINE
@_MASK
@click.pass_context
def drift(ctx: click.Context, paths: tuple[str, ...], fmt: str, sync: bool,
          spaces: tuple[str, ...], ledger: Path | None, pending_deadline: timedelta,
          mask_numbers: bool) -> None:
    """Audit: report drift, missing and unmanaged numbers. Never writes.

    Exit 0 in sync, else 2 (numbers to add) | 4 (drift) | 8 (unmanaged) | 16 (pending),
    added up.
    """
    result = _plan_and_show(ctx, paths, fmt, sync, spaces, mask_numbers, out=None,
                            ledger=_LedgerOptions(ledger, pending_deadline))
    ctx.exit(int(result.findings()))


@cli.command()
@click.argument("plan_file", metavar="PLANFILE", type=click.Path(dir_okay=False, path_type=Path))
@_FORMAT
@_MASK
@click.pass_context
def show(ctx: click.Context, plan_file: Path, fmt: str, mask_numbers: bool) -> None:
    """Show a plan saved by `plan --out`, with no network.

    The text is what `plan` printed when it made the file.
    """
    try:
        saved, meta = read_plan(plan_file)
    except PlanFileError as exc:
        _fail(ctx, f"{plan_file}: {exc}")
        return
    _echo(ctx, _view(ctx, fmt, mask_numbers).plan(saved, meta))


# --- report -----------------------------------------------------------------------------------


@cli.command()
@click.argument("ledgers", nargs=-1, required=True, metavar="LEDGER...",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report (one HTML file) to FILE.")
@_MASK
@click.pass_context
def report(ctx: click.Context, ledgers: tuple[Path, ...], out: Path,
           mask_numbers: bool) -> None:
    """Write an audit report of ledgers (`plan`/`drift --ledger`) as one HTML page.

    Findings per category over time, open findings with their age and place in the
    manifests, acknowledgements that end within 14 days, pending numbers by age. The page
    loads nothing from any other host. No network.
    """
    records: list[LedgerRecord] = []
    for path in ledgers:
        if path.resolve() == out.resolve():
            _fail(ctx, f"{out} is one of the ledgers; write the report to another file.")
        if not path.exists() and not path.is_symlink():
            _fail(ctx, f"{path}: no such ledger (write one with `camsctl drift --ledger "
                       f"{path} ...`).")
        try:
            records.extend(read_ledger(path))
        except LedgerFileError as exc:
            _fail(ctx, str(exc))
    if not records:
        _fail(ctx, f"{', '.join(map(str, ledgers))}: no runs recorded yet; nothing to report.")
    now = datetime.fromisoformat(_created_at().replace("Z", "+00:00"))
    made = render_report(records, now=now, mask=mask_numbers)
    try:
        _write_atomically(out, made.html)
    except OSError as exc:
        _fail(ctx, f"cannot write the report {out}: {exc.strerror or type(exc).__name__}")
    click.echo(f"Wrote {visible(str(out))}: {_plural(made.runs, 'run')}; {made.headline}")


# --- apply ------------------------------------------------------------------------------------


def _confirm(auto_approve: bool, saved: bool, ctx: click.Context, mask: bool) \
        -> workflow.Confirm:
    def confirm(result: workflow.PlanResult) -> bool:
        adds = len(result.plan.adds)
        if auto_approve or saved or not adds:
            return True
        if not sys.stdin.isatty():
            click.echo("Error: apply needs confirmation: run it on a terminal, or pass "
                       "--auto-approve (for CI, prefer `plan --out` and `apply --plan`).",
                       err=True)
            return False
        answer = click.prompt(f"Add {adds} number(s)? Only 'yes' will be accepted",
                              default="", show_default=False, err=True)
        if answer != "yes":
            click.echo("Apply cancelled; nothing was added.", err=True)
            return False
        return True
    return confirm


class _ApplyTerminal(_Terminal):
    """Also shows the plan apply made (not a saved one, which was reviewed already)."""

    def __init__(self, ctx: click.Context, options: GlobalOptions, mask: bool,
                 saved: bool) -> None:
        super().__init__(options, mask)
        self._ctx = ctx
        self._saved = saved
        self._mask_numbers = mask

    def planned(self, result: workflow.PlanResult) -> None:
        if not self._saved:
            _echo(self._ctx, _view(self._ctx, "text", self._mask_numbers).plan(result.plan,
                                                                             result.meta))


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
@_CHANGED_SINCE
@_MASK
@click.pass_context
def apply(ctx: click.Context, paths: tuple[str, ...], plan_file: Path | None,
          auto_approve: bool, max_adds: int | None, journal_path: Path, lock_timeout: float,
          visibility_window: float, changed_since: str | None, mask_numbers: bool) -> None:
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
    if plan_file is not None and changed_since is not None:
        raise click.UsageError("--changed-since plans anew; a saved plan (--plan) keeps the "
                               "scope it was made with")
    created_at = _created_at()
    desired, scope = _changed_since(ctx, paths, _loaded(ctx, paths, created_at),
                                    changed_since, created_at)
    saved: workflow.PlanResult | None = None
    if plan_file is not None:
        try:
            saved = workflow.PlanResult(*read_plan(plan_file))
        except PlanFileError as exc:
            _fail(ctx, f"{plan_file}: {exc}")
    done = _run(ctx, workflow.apply(
        options.connection, desired,
        workflow.ApplyOptions(journal=journal_path, lock_timeout=lock_timeout,
                              visibility_window=visibility_window, max_adds=max_adds,
                              mask=mask_numbers, scope=scope),
        created_at=created_at, saved=saved,
        confirm=_confirm(auto_approve, saved is not None, ctx, mask_numbers),
        listener=_ApplyTerminal(ctx, options, mask_numbers, saved is not None)),
        mask=mask_numbers)
    if done.cancelled:
        ctx.exit(1)
    click.echo(view_for("text", mask=mask_numbers).outcomes(done.outcomes), nl=False)
    if done.stop.journal_error is not None:
        _error(f"{done.stop.journal_error}. No add was sent after that; the lines above say "
               "how each one ended.")
    elif done.stop.account_wide is not None:
        _error(_service(str(done.stop.account_wide), mask_numbers))
    elif done.stop.interrupted:
        click.echo("Error: apply was interrupted; the lines above say how each add ended. "
                   "Run apply again to add the rest.", err=True)
    _append_step_summary(lambda: view_for("markdown", mask=True).outcomes(done.outcomes))
    if not done.ok:
        ctx.exit(1)


# --- import -----------------------------------------------------------------------------------


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
        _fail(ctx, f"{output} exists; choose another file or remove it first.")
    live = _run(ctx, workflow.import_spaces(options.connection, spaces, isv_code,
                                            listener=_Terminal(options)))
    where = output.parent if output else Path.cwd()
    text = render_manifest(live, isv_code=isv_code, schema_path=schema_reference(
        schema_file(MANIFEST_SCHEMA), where))
    for note in import_notes(live):
        click.echo(f"Note: {visible(note)}", err=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write_atomically(output, text)
        click.echo(f"Wrote {output}.", err=True)


cli.add_command(emulator)


def _where(exc: BaseException) -> str:
    """`` at reconciler/x.py:12``: the innermost line of camsctl's own code the error passed."""
    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)
              if "reconciler" in Path(frame.f_code.co_filename).parts]
    if not frames:
        return ""
    code = frames[-1].f_code
    return f" in {Path(code.co_filename).name}, {code.co_name}()"


def main() -> None:
    """The console script. Last resort: an error nothing else caught ends as one line and
    exit 1, never a traceback; its type and place only (its text could hold anything read,
    secrets included), the traceback itself with -vv."""
    try:
        cli(prog_name="camsctl")
    except Exception as exc:
        logging.getLogger("camsctl").debug("unexpected failure", exc_info=True)
        click.echo(f"Error: camsctl stopped on an unexpected {type(exc).__name__}{_where(exc)}. "
                   "Run it again with -vv for the details, and please report them.", err=True)
        sys.exit(1)
