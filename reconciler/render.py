"""Human renderings of a plan: Terraform-like text for terminals, Markdown for pull requests.

Renderers only read a :class:`~reconciler.plan.Plan` and return a string: no I/O, no clock.
Both honour ``mask`` (``--mask-numbers``): phone numbers are personal data, so every number a
human reads goes through :func:`_phone`. The JSON rendering is the wire format and lives in
:mod:`reconciler.planfile`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import click

from reconciler.phone import mask_e164
from reconciler.plan import AddNumber, Drift, FieldValue, Plan, PlannedSpace, PlanWarning, Unmanaged

MARKDOWN_LIMIT = 65_000
"""GitHub refuses comments over 65,536 characters; stay under with room for a footer."""

NO_CHANGES = "No changes. Live state matches the manifests."


@dataclass(frozen=True)
class _SpaceView:
    space: PlannedSpace
    adds: list[AddNumber]
    drift: list[Drift]
    unmanaged: list[Unmanaged]
    warnings: list[PlanWarning]

    @property
    def title(self) -> str:
        return f"space {self.space.id}" + (f" ({self.space.label})" if self.space.label else "")

    @property
    def empty(self) -> bool:
        return not (self.adds or self.drift or self.unmanaged or self.warnings)


def _by_space(plan: Plan) -> Iterator[_SpaceView]:
    for space in plan.spaces:
        yield _SpaceView(
            space,
            [a for a in plan.adds if a.space_id == space.id],
            [d for d in plan.drift if d.space_id == space.id],
            [u for u in plan.unmanaged if u.space_id == space.id],
            [w for w in plan.warnings if w.space_id == space.id],
        )


def _phone(e164: str | None, mask: bool) -> str:
    if e164 is None:
        return "WABA"
    return mask_e164(e164) if mask else e164


def _shown(value: FieldValue, field: str) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, tuple):
        listed = ", ".join(value)
        return f"one of [{listed}]" if field == "status" else f"[{listed}]"
    return value if field == "status" or field == "waba.review_status" else f'"{value}"'


def summary_line(plan: Plan) -> str:
    """The last line of a text plan, the first of a Markdown one."""
    if not plan.findings():
        return NO_CHANGES
    return (f"Plan: {len(plan.adds)} to add, {len(plan.drift)} drifted, "
            f"{len(plan.unmanaged)} unmanaged.")


def _lines(view: _SpaceView, mask: bool, style: Callable[[str, str], str]) -> list[str]:
    out = []
    for add in view.adds:
        out.append(style("+", "green") + f" {_phone(add.phone.e164, mask)}  "
                   f'add "{add.verified_name}"  ({add.source.short})')
    for drift in view.drift:
        out.append(style("~", "yellow") + f" {_phone(drift.phone, mask)}  {drift.field}: "
                   f"{_shown(drift.expected, drift.field)} -> "
                   f"{_shown(drift.actual, drift.field)}  ({drift.source.short})")
    for item in view.unmanaged:
        out.append(style("?", "cyan") + f" {_phone(item.phone, mask)}  not declared: "
                   f'"{item.verified_name}" ({item.status})')
    for warning in view.warnings:
        where = f"  ({warning.source.short})" if warning.source else ""
        subject = f"{_phone(warning.phone, mask)}  " if warning.phone else ""
        out.append(style("!", "red") + f" {subject}{warning.message}{where}")
    return out


def render_text(plan: Plan, *, color: bool = False, mask: bool = False) -> str:
    """The plan for a terminal: a block per space with changes, then the summary line."""
    def style(text: str, colour: str) -> str:
        return click.style(text, fg=colour, bold=True) if color else text

    blocks = []
    for view in _by_space(plan):
        if view.empty:
            continue
        heading = click.style(view.title, bold=True) if color else view.title
        blocks.append("\n".join([heading, *("  " + line for line in _lines(view, mask, style))]))
    legend = ("+ add   ~ drift (reported, never changed)   ? unmanaged (never touched)   "
              "! warning")
    parts = [legend, *blocks] if blocks else []
    parts.append(style(summary_line(plan), "green" if not plan.findings() else "yellow")
                 if color else summary_line(plan))
    return "\n\n".join(parts) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _md_section(view: _SpaceView, mask: bool) -> str:
    counts = []
    if view.adds:
        counts.append(f"{len(view.adds)} to add")
    if view.drift:
        counts.append(f"{len(view.drift)} drifted")
    if view.unmanaged:
        counts.append(f"{len(view.unmanaged)} unmanaged")
    if view.warnings:
        counts.append(f"{len(view.warnings)} warning{'s' if len(view.warnings) != 1 else ''}")
    rows = ["| | number | change | declared at |", "|---|---|---|---|"]
    for add in view.adds:
        rows.append(f"| `+` add | `{_phone(add.phone.e164, mask)}` | "
                    f"{_md_cell(add.verified_name)} | `{_md_cell(add.source.short)}` |")
    for drift in view.drift:
        change = (f"`{drift.field}`: {_md_cell(_shown(drift.expected, drift.field))} → "
                  f"{_md_cell(_shown(drift.actual, drift.field))}")
        rows.append(f"| `~` drift | `{_phone(drift.phone, mask)}` | {change} | "
                    f"`{_md_cell(drift.source.short)}` |")
    for item in view.unmanaged:
        rows.append(f"| `?` unmanaged | `{_phone(item.phone, mask)}` | "
                    f"{_md_cell(item.verified_name)} ({item.status}) | |")
    for warning in view.warnings:
        subject = f"`{_phone(warning.phone, mask)}`" if warning.phone else ""
        where = f"`{_md_cell(warning.source.short)}`" if warning.source else ""
        rows.append(f"| `!` warning | {subject} | {_md_cell(warning.message)} | {where} |")
    title = _md_cell(view.title)
    return (f"<details><summary><b>{title}</b>: {', '.join(counts)}</summary>\n\n"
            + "\n".join(rows) + "\n\n</details>\n")


def render_markdown(plan: Plan, *, mask: bool = False, limit: int = MARKDOWN_LIMIT) -> str:
    """The plan for a pull-request comment: the summary first, a collapsible section per space.

    Never longer than ``limit`` characters: sections that do not fit are left out, and a last
    line says how many spaces and entries were.
    """
    head = f"### camsctl plan\n\n**{summary_line(plan)}**\n\n"
    if plan.findings():
        head += ("Drift and unmanaged numbers are reported only: camsctl never changes or "
                 "removes anything.\n\n")
    sections = [(view, _md_section(view, mask)) for view in _by_space(plan) if not view.empty]
    body = head
    for index, (_view, section) in enumerate(sections):
        rest = sections[index:]
        entries = sum(len(v.adds) + len(v.drift) + len(v.unmanaged) + len(v.warnings)
                      for v, _ in rest)
        footer = (f"\n… {len(rest)} more space{'s' if len(rest) != 1 else ''} "
                  f"({entries} entries) left out to fit a comment; the JSON plan has them all.\n")
        if len(body) + len(section) + len(footer) > limit:
            return body + footer
        body += section
    return body
