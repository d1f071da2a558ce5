"""The Markdown view: plans for pull-request comments and job summaries, apply outcomes.

Every live value is escaped for a table cell. A plan never exceeds ``limit`` characters
(GitHub refuses comments over 65,536): sections that do not fit are left out, and a last line
says how many spaces and entries were.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.diagnostics import Diagnostic
from reconciler.outcome import Outcome
from reconciler.plan import Plan, PlannedSpace
from reconciler.planfile import PlanMeta
from reconciler.views.wording import apply_summary, outcome_line, phone, shown, summary_line

MARKDOWN_LIMIT = 65_000
"""GitHub refuses comments over 65,536 characters; stay under with room for a footer."""


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _entries(space: PlannedSpace) -> int:
    return len(space.adds) + len(space.drift) + len(space.unmanaged) + len(space.warnings)


class MarkdownView:
    def __init__(self, *, mask: bool = False, limit: int = MARKDOWN_LIMIT) -> None:
        self.mask = mask
        self.limit = limit

    def _section(self, space: PlannedSpace) -> str:
        mask = self.mask
        counts = []
        if space.adds:
            counts.append(f"{len(space.adds)} to add")
        if space.drift:
            counts.append(f"{len(space.drift)} drifted")
        if space.unmanaged:
            counts.append(f"{len(space.unmanaged)} unmanaged")
        if space.warnings:
            counts.append(f"{len(space.warnings)} warning"
                          f"{'s' if len(space.warnings) != 1 else ''}")
        rows = ["| | number | change | declared at |", "|---|---|---|---|"]
        for add in space.adds:
            rows.append(f"| `+` add | `{phone(add.phone.e164, mask)}` | "
                        f"{_cell(add.verified_name)} | `{_cell(add.source.short)}` |")
        for drift in space.drift:
            change = (f"`{drift.field}`: {_cell(shown(drift.expected, drift.field))} → "
                      f"{_cell(shown(drift.actual, drift.field))}")
            rows.append(f"| `~` drift | `{phone(drift.phone, mask)}` | {change} | "
                        f"`{_cell(drift.source.short)}` |")
        for item in space.unmanaged:
            rows.append(f"| `?` unmanaged | `{phone(item.phone, mask)}` | "
                        f"{_cell(item.verified_name)} ({item.status}) | |")
        for warning in space.warnings:
            subject = f"`{phone(warning.phone, mask)}`" if warning.phone else ""
            where = f"`{_cell(warning.source.short)}`" if warning.source else ""
            rows.append(f"| `!` warning | {subject} | {_cell(warning.message)} | {where} |")
        return (f"<details><summary><b>{_cell(space.title)}</b>: {', '.join(counts)}"
                "</summary>\n\n" + "\n".join(rows) + "\n\n</details>\n")

    def plan(self, plan: Plan, meta: PlanMeta | None = None) -> str:
        """The summary first, then a collapsible section per space with findings."""
        body = f"### camsctl plan\n\n**{summary_line(plan)}**\n\n"
        if plan.findings():
            body += ("Drift and unmanaged numbers are reported only: camsctl never changes or "
                     "removes anything.\n\n")
        shown_spaces = [space for space in plan.spaces if space.has_findings]
        # Entries of the spaces from each index on, for the footer when the rest is cut.
        remaining = [0] * (len(shown_spaces) + 1)
        for index in range(len(shown_spaces) - 1, -1, -1):
            remaining[index] = remaining[index + 1] + _entries(shown_spaces[index])
        for index, space in enumerate(shown_spaces):
            section = self._section(space)
            left = len(shown_spaces) - index
            footer = (f"\n… {left} more space{'s' if left != 1 else ''} "
                      f"({remaining[index]} entries) left out to fit a comment; the JSON plan "
                      "has them all.\n")
            if len(body) + len(section) + len(footer) > self.limit:
                return body + footer
            body += section
        return body

    def outcomes(self, outcomes: Sequence[Outcome]) -> str:
        return f"### camsctl apply\n\n**{apply_summary(outcomes)}**\n\n" + "\n".join(
            f"- {_cell(outcome_line(o, self.mask))}" for o in outcomes) + "\n"

    def diagnostics(self, diagnostics: Sequence[Diagnostic]) -> str:
        return "".join(f"- `{_cell(str(d.location))}` {d.severity.value}: {_cell(d.message)}\n"
                       for d in diagnostics)
