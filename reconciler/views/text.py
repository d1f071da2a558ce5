"""The text view: Terraform-like plans for terminals and logs, outcome lines, diagnostics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click

from reconciler.diagnostics import Diagnostic, Severity
from reconciler.outcome import Outcome
from reconciler.plan import Plan, PlannedSpace
from reconciler.planfile import PlanMeta
from reconciler.views.wording import (
    LEGEND,
    apply_summary,
    outcome_line,
    phone,
    shown,
    summary_line,
)

_SEVERITY_COLOUR = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}


class TextView:
    """``color`` adds ANSI styles (only ever on a terminal); ``mask`` hides numbers."""

    def __init__(self, *, mask: bool = False, color: bool = False) -> None:
        self.mask = mask
        self.color = color

    def _style(self, text: str, colour: str | None = None) -> str:
        return click.style(text, fg=colour, bold=True) if self.color else text

    def _lines(self, space: PlannedSpace, style: Callable[[str, str], str]) -> list[str]:
        mask = self.mask
        out = []
        for add in space.adds:
            out.append(style("+", "green") + f" {phone(add.phone.e164, mask)}  "
                       f'add "{add.verified_name}"  ({add.source.short})')
        for drift in space.drift:
            out.append(style("~", "yellow") + f" {phone(drift.phone, mask)}  {drift.field}: "
                       f"{shown(drift.expected, drift.field)} -> "
                       f"{shown(drift.actual, drift.field)}  ({drift.source.short})")
        for item in space.unmanaged:
            out.append(style("?", "cyan") + f" {phone(item.phone, mask)}  not declared: "
                       f'"{item.verified_name}" ({item.status})')
        for warning in space.warnings:
            where = f"  ({warning.source.short})" if warning.source else ""
            subject = f"{phone(warning.phone, mask)}  " if warning.phone else ""
            out.append(style("!", "red") + f" {subject}{warning.message}{where}")
        return out

    def plan(self, plan: Plan, meta: PlanMeta | None = None) -> str:
        """A block per space with findings, then the summary line."""
        blocks = ["\n".join([self._style(space.title),
                             *("  " + line for line in self._lines(space, self._style))])
                  for space in plan.spaces if space.has_findings]
        parts = [LEGEND, *blocks] if blocks else []
        summary = summary_line(plan)
        parts.append(self._style(summary, "green" if not plan.findings() else "yellow"))
        return "\n\n".join(parts) + "\n"

    def outcomes(self, outcomes: Sequence[Outcome]) -> str:
        """One line per add, then ``Apply complete: ...``."""
        return "".join(outcome_line(o, self.mask) + "\n" for o in outcomes) \
            + apply_summary(outcomes) + "\n"

    def diagnostics(self, diagnostics: Sequence[Diagnostic]) -> str:
        """``FILE:LINE:COL: error: message``, one a line."""
        return "".join(f"{d.location}: "
                       f"{self._style(d.severity.value, _SEVERITY_COLOUR[d.severity])}: "
                       f"{d.message}\n" for d in diagnostics)
