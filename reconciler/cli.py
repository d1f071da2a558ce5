"""The command line: parses flags and environment, calls the core, prints, and sets the exit code.

This module is an edge: it owns the terminal. Everything it calls either is pure (manifest
model, plan, renderers) or owns its own I/O (loader for files, client for the network).
"""

from __future__ import annotations

from dataclasses import dataclass

import click

from reconciler import __version__
from reconciler.diagnostics import Diagnostic, Severity
from reconciler.loader import LoadResult, load


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
              help="Calls in flight at once.")
@click.option("--emulator", "emulator", metavar="STATE_FILE",
              type=click.Path(dir_okay=False),
              help="Talk to an in-process emulator seeded from STATE_FILE; no credentials needed.")
@click.option("--no-color", is_flag=True, help="Never colour the output.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeatable).")
@click.pass_context
def cli(ctx: click.Context, endpoint: str | None, region: str, profile: str | None, qps: float,
        parallelism: int, emulator: str | None, no_color: bool, verbose: int) -> None:
    """Declarative reconciler for the WhatsApp phone numbers of Alibaba Cloud CAMS."""
    ctx.obj = GlobalOptions(endpoint=endpoint, region=region, profile=profile, qps=qps,
                            parallelism=parallelism, emulator=emulator, color=not no_color,
                            verbose=verbose)


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


def load_or_exit(ctx: click.Context, paths: tuple[str, ...]) -> LoadResult:
    """Load manifests, print their diagnostics, and exit 1 if any is an error."""
    result = load(paths)
    echo_diagnostics(ctx, result.diagnostics)
    if result.errors:
        files_with_errors = len({d.location.file for d in result.errors})
        click.echo(f"{_plural(len(result.errors), 'error')} in "
                   f"{_plural(files_with_errors, 'file')}; nothing was done.", err=True)
        ctx.exit(1)
    return result


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Load and validate manifests (files or directories); no network.

    Prints every error as FILE:LINE:COL and exits 1 if there is any; warnings do not fail.
    """
    result = load_or_exit(ctx, paths)
    desired = result.desired
    assert desired is not None  # load_or_exit exits on any error
    warnings = sum(1 for d in result.diagnostics if d.severity is Severity.WARNING)
    summary = (f"{_plural(len(result.files), 'file')}, {_plural(len(desired.spaces), 'space')}, "
               f"{_plural(desired.number_count, 'number')}: valid")
    if warnings:
        summary += f" ({_plural(warnings, 'warning')})"
    click.echo(summary)


def main() -> None:
    cli(prog_name="camsctl")
