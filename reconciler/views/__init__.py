"""Views: one per output format, chosen once at the edge (as Terraform's ``command/views``).

Each view turns the application's values (a plan, apply outcomes, diagnostics) into text and
does nothing else: no I/O, no clock. The command line picks one with :func:`view_for` and
prints what it returns; nothing else in camsctl switches on the format.

    text       Terraform-like, for terminals and logs (optionally coloured)
    markdown   pull-request comments and job summaries
    json       the published plan format (``schemas/plan.schema.json``)
    github     GitHub Actions workflow annotations
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from reconciler.diagnostics import Diagnostic
from reconciler.outcome import Outcome
from reconciler.plan import Plan
from reconciler.planfile import PlanMeta
from reconciler.views.github import GithubView
from reconciler.views.json import JsonView
from reconciler.views.markdown import MarkdownView
from reconciler.views.text import TextView

FORMATS = ("text", "json", "markdown", "github")


class View(Protocol):
    def plan(self, plan: Plan, meta: PlanMeta | None = None) -> str: ...

    def outcomes(self, outcomes: Sequence[Outcome]) -> str: ...

    def diagnostics(self, diagnostics: Sequence[Diagnostic]) -> str: ...


def view_for(fmt: str, *, mask: bool = False, color: bool = False) -> View:
    """The view of ``fmt`` (one of :data:`FORMATS`); ``color`` matters to text only."""
    if fmt == "text":
        return TextView(mask=mask, color=color)
    if fmt == "markdown":
        return MarkdownView(mask=mask)
    if fmt == "github":
        return GithubView(mask=mask)
    if fmt == "json":
        return JsonView()
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "GithubView", "JsonView", "MarkdownView", "TextView", "View", "view_for"]
