"""The Markdown view: plans for pull-request comments and job summaries, apply outcomes.

Every value from outside camsctl goes through :func:`escape_markdown`, the format's one
escaping function, or is shown in a code span when nothing in it could end one (:func:`_code`).
A plan never exceeds ``limit`` characters (GitHub refuses comments over 65,536): sections that
do not fit are left out, and a last line says how many spaces and entries were.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.diagnostics import Diagnostic
from reconciler.outcome import Outcome
from reconciler.plan import Drift, FindingKey, Plan, PlannedSpace
from reconciler.planfile import PlanMeta
from reconciler.views.text import visible
from reconciler.views.wording import (
    acknowledgement,
    apply_summary,
    change,
    outcome_line,
    phone,
    since,
    summary_line,
)

MARKDOWN_LIMIT = 65_000
"""GitHub refuses comments over 65,536 characters; stay under with room for a footer."""


_MARKDOWN = {ord(char): f"&#{ord(char)};" for char in "\\`*_[]|~"} | {
    ord("<"): "&lt;", ord(">"): "&gt;", ord("&"): "&amp;"}


def escape_markdown(text: str) -> str:
    """``text`` as inert Markdown: shown as written, never as markup, links, HTML or lines.

    Controls and line breaks are first made visible as in the text view (``\\n``, ``\\x1b``),
    so a value stays on its table row; then HTML's ``<>&`` and Markdown's ``\\`*_[]|~`` become
    character references. References, unlike backslash escapes, mean the same in a table cell
    and inside the HTML of a ``<details>`` summary, and never split a table row.
    """
    return visible(text).translate(_MARKDOWN)


def _code(text: str) -> str:
    """``text`` in a code span, which shows it literally, when nothing in it could end the
    span or the table row (a backtick, a pipe, a control); escaped plain text otherwise."""
    if "`" in text or "|" in text or visible(text) != text:
        return escape_markdown(text)
    return f"`{text}`"


def _entries(space: PlannedSpace) -> int:
    """The rows of a space's own section (pending and acknowledged findings have theirs)."""
    return len(space.adds) + len(space.drift) + len(space.unmanaged) + len(space.warnings) \
        + len(space.notes)


def _age(meta: PlanMeta | None, key: FindingKey) -> str:
    """`` (since 2026-11-20, 6 days)`` with a ledger; digits and words only, nothing to
    escape."""
    text = since(meta, key)
    return f" ({text})" if text else ""


class MarkdownView:
    def __init__(self, *, mask: bool = False, limit: int = MARKDOWN_LIMIT) -> None:
        self.mask = mask
        self.limit = limit

    def _section(self, space: PlannedSpace, meta: PlanMeta | None = None) -> str:
        def number(e164: str | None) -> str:
            return _code(phone(e164, self.mask))

        def age(key: FindingKey) -> str:
            return _age(meta, key)

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
        if space.notes:
            counts.append(f"{len(space.notes)} note{'s' if len(space.notes) != 1 else ''}")
        rows = ["| | number | change | declared at |", "|---|---|---|---|"]
        for add in space.adds:
            rows.append(f"| `+` add | {number(add.phone.e164)} | "
                        f"{escape_markdown(add.verified_name)} | {_code(add.source.short)} |")
        for drift in space.drift:
            rows.append(f"| `~` drift | {number(drift.phone)} | {_code(drift.field)}: "
                        f"{change(drift, escape_markdown, '→')}{age(drift.key)} | "
                        f"{_code(drift.source.short)} |")
        for item in space.unmanaged:
            rows.append(f"| `?` unmanaged | {number(item.phone)} | "
                        f"{escape_markdown(item.verified_name)} "
                        f"({escape_markdown(item.status)}){age(item.key)} | |")
        for kind, label in ((space.warnings, "`!` warning"), (space.notes, "`*` note")):
            for message in kind:
                subject = number(message.phone) if message.phone else ""
                where = _code(message.source.short) if message.source else ""
                rows.append(f"| {label} | {subject} | {escape_markdown(message.message)} | "
                            f"{where} |")
        return (f"<details><summary><b>{escape_markdown(space.title)}</b>: "
                f"{', '.join(counts)}</summary>\n\n" + "\n".join(rows) + "\n\n</details>\n")

    def _pending(self, plan: Plan, meta: PlanMeta | None = None) -> str:
        rows = [f"| {_code(space)} | {_code(phone(p.phone, self.mask))} | "
                f"{escape_markdown(p.status)}{_age(meta, p.key)} | {_code(p.source.short)} |"
                for space, p in ((p.space_id, p) for p in plan.pending)]
        return (f"<details><summary><b>Pending</b>: {len(rows)} number"
                f"{'s' if len(rows) != 1 else ''} WhatsApp is still verifying (not drift)"
                "</summary>\n\n| space | number | status | declared at |\n|---|---|---|---|\n"
                + "\n".join(rows) + "\n\n</details>\n")

    def _acknowledged(self, plan: Plan, meta: PlanMeta | None = None) -> str:
        rows = []
        for ack in plan.acknowledged:
            finding = ack.finding
            what = f"{_code(finding.field)}: {change(finding, escape_markdown, '→')}" \
                if isinstance(finding, Drift) else \
                f"unmanaged: {escape_markdown(finding.verified_name)} " \
                f"({escape_markdown(finding.status)})"
            rows.append(f"| {_code(ack.space_id)} | {_code(phone(ack.phone, self.mask))} | "
                        f"{what}{_age(meta, ack.key)} | {acknowledgement(ack, escape_markdown)} | "
                        f"{_code(ack.source.short)} |")
        return (f"<details><summary><b>Acknowledged</b>: {len(rows)} known finding"
                f"{'s' if len(rows) != 1 else ''}, counted in no exit code</summary>\n\n"
                "| space | number | finding | acknowledgement | written at |\n"
                "|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n</details>\n")

    def plan(self, plan: Plan, meta: PlanMeta | None = None) -> str:
        """The summary first, then a collapsible section per space with findings to act on,
        then one for pending numbers and one for acknowledged findings."""
        body = "### camsctl plan\n\n"
        if meta is not None and meta.scope is not None:
            body += f"{escape_markdown(meta.scope.line)}\n\n"
        body += f"**{summary_line(plan)}**\n\n"
        if plan.findings() or plan.acknowledged:
            body += ("Drift and unmanaged numbers are reported only: camsctl never changes or "
                     "removes anything.\n\n")
        shown_spaces = [space for space in plan.spaces if _entries(space)]
        sections = [self._section(space, meta) for space in shown_spaces]
        entries = [_entries(space) for space in shown_spaces]
        if plan.pending:
            sections.append(self._pending(plan, meta))
            entries.append(len(plan.pending))
        if plan.acknowledged:
            sections.append(self._acknowledged(plan, meta))
            entries.append(len(plan.acknowledged))
        # Entries of the sections from each index on, for the footer when the rest is cut.
        remaining = [0] * (len(sections) + 1)
        for index in range(len(sections) - 1, -1, -1):
            remaining[index] = remaining[index + 1] + entries[index]
        for index, section in enumerate(sections):
            left = len(sections) - index
            footer = (f"\n… {left} more section{'s' if left != 1 else ''} "
                      f"({remaining[index]} entries) left out to fit a comment; the JSON plan "
                      "has them all.\n")
            if len(body) + len(section) + len(footer) > self.limit:
                return body + footer
            body += section
        return body

    def outcomes(self, outcomes: Sequence[Outcome]) -> str:
        return f"### camsctl apply\n\n**{apply_summary(outcomes)}**\n\n" + "\n".join(
            f"- {escape_markdown(outcome_line(o, self.mask))}" for o in outcomes) + "\n"

    def diagnostics(self, diagnostics: Sequence[Diagnostic]) -> str:
        return "".join(f"- {_code(str(d.location))} {d.severity.value}: "
                       f"{escape_markdown(d.message)}\n" for d in diagnostics)
