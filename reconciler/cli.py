"""The command line: parses flags and environment, calls the core, prints, and sets the exit code.

This module is an edge: it owns the terminal. Everything it calls either is pure (manifest
model, plan, renderers) or owns its own I/O (loader for files, client for the network).
"""

from __future__ import annotations

from dataclasses import dataclass

import click

from reconciler import __version__


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


def main() -> None:
    cli(prog_name="camsctl")
