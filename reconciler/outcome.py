"""How each add of an apply ended: plain values that apply produces and views render."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reconciler.plan import AddNumber


class Result(Enum):
    ADDED = "added"
    ALREADY_PRESENT = "already-present"
    AWAITING_VISIBILITY = "added, awaiting visibility"
    """Added by an earlier run moments ago (the journal says so) but not listed yet."""
    UNKNOWN = "unknown"
    """Sent, the answer was lost, and the service does not list it yet: re-run apply later."""
    FAILED = "failed"
    NOT_SENT = "not sent"
    """Never sent: the journal could not be written, or the run was interrupted."""

    @property
    def settled(self) -> bool:
        """Whether the number is (or is about to be) in its space: no reason to exit 1."""
        return self in (Result.ADDED, Result.ALREADY_PRESENT, Result.AWAITING_VISIBILITY)


@dataclass(frozen=True)
class Outcome:
    """How one add ended. ``reason`` says why it failed (or how it was confirmed)."""

    add: AddNumber
    result: Result
    request_id: str | None = None
    reason: str | None = None
