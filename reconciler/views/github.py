"""The GitHub view (``--format github``): workflow annotations pinned to manifest lines.

``::error file=F,line=L::message`` lines, which the runner turns into annotations on the pull
request's diff. An annotation is plain text: every value from outside camsctl in it is made
visible as in the text view (:func:`~reconciler.views.text.visible`), so a live line break or
escape sequence shows as ``\\n`` or ``\\x1b`` instead of splitting the annotation or reaching
the runner's log, which renders ANSI. :func:`annotation` then encodes the whole line as the
runner expects (``%``, CR and LF in messages; also ``:`` and ``,`` in properties), and makes
any other control visible, whatever its caller passed. Numbers honour ``mask``, also inside
the service's words.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.diagnostics import Diagnostic, Location, Severity
from reconciler.outcome import Outcome
from reconciler.plan import Drift, Plan
from reconciler.planfile import PlanMeta
from reconciler.views.text import visible
from reconciler.views.wording import (
    PENDING_WHY,
    acknowledgement,
    apply_summary,
    outcome_line,
    phone,
    summary_line,
)

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def _data(text: str) -> str:
    return visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, location: Location | None = None,
               title: str | None = None) -> str:
    """One workflow command line, e.g. ``::warning file=a.yaml,line=3,col=5::message``."""
    props = []
    if location is not None:
        props.append(f"file={_property(location.file)}")
        if location.line > 0:
            props.append(f"line={location.line}")
            if location.column > 0:
                props.append(f"col={location.column}")
    if title:
        props.append(f"title={_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{_data(message)}"


def _listed(value: str | tuple[str, ...] | None) -> str:
    if isinstance(value, tuple):
        return ", ".join(map(visible, value)) or "(none)"
    return visible(value) if value else "(none)"


def _drift(drift: Drift) -> str:
    at_least = "at least " if drift.field == "messaging_limit_tier" else ""
    return f"{drift.field} is {_listed(drift.actual)}, declared " \
        f"{at_least}{_listed(drift.expected)}"


class GithubView:
    def __init__(self, *, mask: bool = False) -> None:
        self.mask = mask

    def plan(self, plan: Plan, meta: PlanMeta | None = None) -> str:
        """Adds as notices; drift, unmanaged numbers and warnings as warnings; the summary."""
        def number(e164: str | None) -> str:
            return visible(phone(e164, self.mask, waba="the WABA"))

        lines = []
        if meta is not None and meta.scope is not None:
            lines.append(annotation("notice", meta.scope.line, None, "camsctl: scope"))
        for space in plan.spaces:
            for add in space.adds:
                lines.append(annotation(
                    "notice", f"{number(add.phone.e164)} will be added to space "
                    f'{add.space_id} as "{visible(add.verified_name)}"', add.source,
                    "camsctl: add"))
            for drift in space.drift:
                lines.append(annotation(
                    "warning", f"{number(drift.phone)} in space {drift.space_id}: "
                    f"{_drift(drift)} (reported, never changed)", drift.source,
                    "camsctl: drift"))
            for pending in space.pending:
                lines.append(annotation(
                    "notice", f"{number(pending.phone)} in space {pending.space_id} is "
                    f"{visible(pending.status)}: {PENDING_WHY} (pending, not drift)",
                    pending.source, "camsctl: pending"))
            for item in space.unmanaged:
                lines.append(annotation(
                    "warning", f"{number(item.phone)} in space {item.space_id} is live "
                    f'("{visible(item.verified_name)}", {visible(item.status)}) but declared '
                    "nowhere (never touched)", None, "camsctl: unmanaged"))
            for ack in space.acknowledged:
                finding = ack.finding
                what = _drift(finding) if isinstance(finding, Drift) else \
                    f'live ("{visible(finding.verified_name)}", {visible(finding.status)}) ' \
                    "but declared nowhere"
                lines.append(annotation(
                    "notice", f"{number(ack.phone)} in space {ack.space_id}: {what}; "
                    f"{acknowledgement(ack, visible)}", ack.source, "camsctl: acknowledged"))
            for level, kind, title in (("warning", space.warnings, "camsctl: warning"),
                                       ("notice", space.notes, "camsctl: note")):
                for message in kind:
                    lines.append(annotation(level, f"space {message.space_id}: "
                                            f"{visible(message.message)}", message.source,
                                            title))
        return "".join(line + "\n" for line in [*lines, summary_line(plan)])

    def outcomes(self, outcomes: Sequence[Outcome]) -> str:
        """Each add as a notice (settled) or an error (not), at its manifest line."""
        lines = [annotation("notice" if o.result.settled else "error",
                            visible(outcome_line(o, self.mask)), o.add.source, "camsctl: apply")
                 for o in outcomes]
        return "".join(line + "\n" for line in [*lines, apply_summary(outcomes)])

    def diagnostics(self, diagnostics: Sequence[Diagnostic]) -> str:
        return "".join(annotation(_LEVEL[d.severity], d.message, d.location,
                                  "camsctl validate") + "\n" for d in diagnostics)
