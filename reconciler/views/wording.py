"""The words every view shares: how numbers, values, summaries and outcomes read to a person.

Pure. Phone numbers are personal data: every number a person reads goes through
:func:`phone`, which honours ``mask`` (``--mask-numbers``), and so does every number inside
the service's own words (:func:`~reconciler.phone.mask_in_text`). Escaping is the views' own:
these words are built from raw values, and each view escapes them for its format.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence

from reconciler.outcome import Outcome, Result
from reconciler.phone import mask_e164, mask_in_text
from reconciler.plan import Acknowledged, Drift, FieldValue, FindingKey, Plan
from reconciler.planfile import PlanMeta

NO_CHANGES = "No changes. Live state matches the manifests."

LEGEND = ("+ add   ~ drift (reported, never changed)   > pending (WhatsApp is verifying it)\n"
          "= acknowledged   ? unmanaged (never touched)   ! warning   * note")

PENDING_WHY = "WhatsApp is still verifying it"


def phone(e164: str | None, mask: bool, *, waba: str = "WABA") -> str:
    """A number as a person reads it; ``waba`` names the subject when there is no number."""
    if e164 is None:
        return waba
    return mask_e164(e164) if mask else e164


_ENUMS = ("status", "waba.review_status", "quality_rating", "messaging_limit_tier")
"""Fields whose values are names (shown bare), not text (shown quoted)."""


def shown(value: FieldValue, field: str, escape: Callable[[str], str], *,
          expected: bool = False) -> str:
    """An expected or actual value: names bare, other text quoted, lists bracketed; an
    expected tier is a minimum (``at least TIER_1K``), expected names a choice.

    ``escape`` is the view's escaping function, applied to each value and not to the
    brackets and quotes around them, which are this function's own words.
    """
    if value is None:
        return "(none)"
    if isinstance(value, tuple):
        listed = ", ".join(escape(item) for item in value)
        return f"one of [{listed}]" if field in _ENUMS else f"[{listed}]"
    text = escape(value)
    if field == "messaging_limit_tier" and expected:
        return f"at least {text}"
    return text if field in _ENUMS else f'"{text}"'


def change(drift: Drift, escape: Callable[[str], str], arrow: str) -> str:
    """``one of [CONNECTED] -> FLAGGED``: what the manifest expects, then what is live."""
    return f"{shown(drift.expected, drift.field, escape, expected=True)} {arrow} " \
        f"{shown(drift.actual, drift.field, escape)}"


def _count(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def summary_line(plan: Plan) -> str:
    """The last line of a text plan, the first of a Markdown one. Pending and acknowledged
    counts appear only when there are some, so a plan without them reads as before."""
    acknowledged = f"{len(plan.acknowledged)} acknowledged" if plan.acknowledged else ""
    if not plan.findings():
        return f"No changes. {_count(len(plan.acknowledged), 'acknowledged finding')}, " \
            "nothing else differs." if acknowledged else NO_CHANGES
    extra = "".join(f", {part}" for part in (
        f"{len(plan.pending)} pending" if plan.pending else "", acknowledged) if part)
    return (f"Plan: {len(plan.adds)} to add, {len(plan.drift)} drifted, "
            f"{len(plan.unmanaged)} unmanaged{extra}.")


def since(meta: PlanMeta | None, key: FindingKey) -> str:
    """``since 2026-11-20, 6 days`` when the ledger says since when the finding is open (days
    counted to the run's date, ``created_at``); empty otherwise."""
    if meta is None or key not in meta.opened:
        return ""
    opened = meta.opened[key]
    days = (dt.date.fromisoformat(meta.created_at[:10]) - opened).days
    return f"since {opened.isoformat()}, {_count(days, 'day')}"


def acknowledgement(item: Acknowledged, escape: Callable[[str], str]) -> str:
    """``acknowledged until 2026-12-31 by OWNER: REASON`` (owner and reason escaped)."""
    return f"acknowledged until {item.until} by {escape(item.owner)}: {escape(item.reason)}"


def outcome_line(outcome: Outcome, mask: bool) -> str:
    """``+86... (space 123): added (RequestId ...)``, or the reason it did not.

    The reason quotes the service, whose messages may name the number: with ``mask``, every
    phone-like run of digits in it is masked too.
    """
    text = f"{phone(outcome.add.phone.e164, mask)} (space {outcome.add.space_id}): " \
        f"{outcome.result.value}"
    reason = mask_in_text(outcome.reason) if mask and outcome.reason else outcome.reason
    if outcome.result in (Result.FAILED, Result.UNKNOWN, Result.NOT_SENT):
        text += f": {reason}"
    elif outcome.request_id:
        text += f" (RequestId {outcome.request_id})"
    elif reason:
        text += f" ({reason})"
    return text


def apply_summary(outcomes: Sequence[Outcome]) -> str:
    """``Apply complete: 2 added, 0 failed.``, with the other outcomes counted in between."""
    counts = Counter(o.result for o in outcomes)
    middle = "".join(f"{counts[result]} {label}, " for result, label in (
        (Result.ALREADY_PRESENT, "already present"),
        (Result.AWAITING_VISIBILITY, "awaiting visibility"),
        (Result.UNKNOWN, "unknown (re-run apply later)"),
        (Result.NOT_SENT, "not sent")) if counts[result])
    return f"Apply complete: {counts[Result.ADDED]} added, {middle}{counts[Result.FAILED]} failed."
