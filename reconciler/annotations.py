"""GitHub Actions workflow annotations (``--format github``): findings pinned to manifest lines.

Pure: diagnostics or a plan in, ``::error file=F,line=L::message`` lines out. The runner turns
them into annotations on the pull request's diff. Values are escaped as the runner expects
(``%``, CR and LF in messages; also ``:`` and ``,`` in properties). Numbers honour ``mask``.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.diagnostics import Diagnostic, Location, Severity
from reconciler.phone import mask_e164
from reconciler.plan import Plan

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


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


def diagnostic_annotations(diagnostics: Iterable[Diagnostic]) -> list[str]:
    return [annotation(_LEVEL[d.severity], d.message, d.location, "camsctl validate")
            for d in diagnostics]


def plan_annotations(plan: Plan, *, mask: bool = False) -> list[str]:
    """Adds as notices, drift, unmanaged numbers and warnings as warnings, at their sources."""
    def phone(e164: str | None) -> str:
        if e164 is None:
            return "the WABA"
        return mask_e164(e164) if mask else e164

    lines = []
    for add in plan.adds:
        lines.append(annotation("notice", f'{phone(add.phone.e164)} will be added to space '
                                f'{add.space_id} as "{add.verified_name}"', add.source,
                                "camsctl: add"))
    for drift in plan.drift:
        expected = ", ".join(drift.expected) if isinstance(drift.expected, tuple) \
            else drift.expected
        actual = ", ".join(drift.actual) if isinstance(drift.actual, tuple) else drift.actual
        lines.append(annotation("warning", f"{phone(drift.phone)} in space {drift.space_id}: "
                                f"{drift.field} is {actual or '(none)'!s}, declared "
                                f"{expected or '(none)'!s} (reported, never changed)",
                                drift.source, "camsctl: drift"))
    for item in plan.unmanaged:
        lines.append(annotation("warning", f"{phone(item.phone)} in space {item.space_id} is "
                                f'live ("{item.verified_name}", {item.status}) but declared '
                                "nowhere (never touched)", None, "camsctl: unmanaged"))
    for warning in plan.warnings:
        lines.append(annotation("warning", f"space {warning.space_id}: {warning.message}",
                                warning.source, "camsctl: warning"))
    return lines
