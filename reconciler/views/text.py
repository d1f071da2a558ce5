"""The text view: Terraform-like plans for terminals and logs, outcome lines, diagnostics.

Every value it prints that came from outside camsctl (live names, statuses, phone strings, the
service's error texts, manifest and plan-file contents) goes through :func:`visible`, the text
format's one escaping function: a terminal is shown what the value holds, never told to do it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click

from reconciler.diagnostics import Diagnostic, Severity
from reconciler.outcome import Outcome
from reconciler.plan import Drift, FindingKey, Plan, PlannedSpace
from reconciler.planfile import PlanMeta
from reconciler.views.wording import (
    LEGEND,
    PENDING_WHY,
    acknowledgement,
    apply_summary,
    change,
    outcome_line,
    phone,
    since,
    summary_line,
)

BIDI_CONTROLS = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
"""Unicode's embedding, override and isolate controls: they reorder the text around them
(the "Trojan Source" characters)."""

_VISIBLE: dict[int, str] = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))},
    **{ord(char): name for char, name in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))},
    **{code: f"\\u{code:04x}" for code in (*BIDI_CONTROLS, 0x2028, 0x2029,
                                          *range(0xD800, 0xE000))},
}


def visible(text: str) -> str:
    """``text`` with every character a terminal could act on written as an escape.

    C0 and C1 controls and DEL (which start ANSI sequences, move the cursor, erase lines:
    ``\\x1b``, ``\\x9b``, ``\\x7f``; ``\\n``, ``\\r``, ``\\t``), line and paragraph separators,
    bidi embeddings, overrides and isolates (``\\u2028``, ``\\u202e``), and lone surrogates
    (which cannot be written as UTF-8 at all). Everything else, every script and emoji
    included, is left as it is, so ordinary values print unchanged.
    """
    return text.translate(_VISIBLE)


_SEVERITY_COLOUR = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}


class TextView:
    """``color`` adds ANSI styles (only ever on a terminal); ``mask`` hides numbers."""

    def __init__(self, *, mask: bool = False, color: bool = False) -> None:
        self.mask = mask
        self.color = color

    def _style(self, text: str, colour: str | None = None) -> str:
        return click.style(text, fg=colour, bold=True) if self.color else text

    def _lines(self, space: PlannedSpace, style: Callable[[str, str], str],
               meta: PlanMeta | None = None) -> list[str]:
        def number(e164: str | None) -> str:
            return visible(phone(e164, self.mask))

        def age(key: FindingKey) -> str:
            text = since(meta, key)
            return f"  {text}" if text else ""

        out = []
        for add in space.adds:
            out.append(style("+", "green") + f" {number(add.phone.e164)}  "
                       f'add "{visible(add.verified_name)}"  ({visible(add.source.short)})')
        for drift in space.drift:
            out.append(style("~", "yellow") + f" {number(drift.phone)}  {drift.field}: "
                       f"{change(drift, visible, '->')}  ({visible(drift.source.short)})"
                       f"{age(drift.key)}")
        for pending in space.pending:
            out.append(style(">", "cyan") + f" {number(pending.phone)}  pending: "
                       f"{visible(pending.status)} ({PENDING_WHY})  "
                       f"({visible(pending.source.short)}){age(pending.key)}")
        for item in space.unmanaged:
            out.append(style("?", "cyan") + f" {number(item.phone)}  not declared: "
                       f'"{visible(item.verified_name)}" ({visible(item.status)})'
                       f"{age(item.key)}")
        for ack in space.acknowledged:
            finding = ack.finding
            what = f"{finding.field}: {change(finding, visible, '->')}" \
                if isinstance(finding, Drift) else \
                f'not declared: "{visible(finding.verified_name)}" ({visible(finding.status)})'
            out.append(style("=", "green") + f" {number(ack.phone)}  {what}  "
                       f"{acknowledgement(ack, visible)}  ({visible(ack.source.short)})"
                       f"{age(ack.key)}")
        for kind, symbol, colour in ((space.warnings, "!", "red"), (space.notes, "*", "cyan")):
            for message in kind:
                where = f"  ({visible(message.source.short)})" if message.source else ""
                subject = f"{number(message.phone)}  " if message.phone else ""
                out.append(style(symbol, colour) + f" {subject}{visible(message.message)}"
                           f"{where}")
        return out

    def plan(self, plan: Plan, meta: PlanMeta | None = None) -> str:
        """A block per space with findings, then the summary line."""
        blocks = ["\n".join([self._style(visible(space.title)),
                             *("  " + line for line in self._lines(space, self._style, meta))])
                  for space in plan.spaces if space.has_findings]
        parts = [LEGEND, *blocks] if blocks else []
        if meta is not None and meta.scope is not None:
            parts.insert(0, visible(meta.scope.line))  # before anything else
        summary = summary_line(plan)
        parts.append(self._style(summary, "green" if not plan.findings() else "yellow"))
        return "\n\n".join(parts) + "\n"

    def outcomes(self, outcomes: Sequence[Outcome]) -> str:
        """One line per add, then ``Apply complete: ...``."""
        return "".join(visible(outcome_line(o, self.mask)) + "\n" for o in outcomes) \
            + apply_summary(outcomes) + "\n"

    def diagnostics(self, diagnostics: Sequence[Diagnostic]) -> str:
        """``FILE:LINE:COL: error: message``, one a line."""
        return "".join(f"{visible(str(d.location))}: "
                       f"{self._style(d.severity.value, _SEVERITY_COLOUR[d.severity])}: "
                       f"{visible(d.message)}\n" for d in diagnostics)
