"""A new number's life in the emulator: PENDING when added, CONNECTED some time later.

This module owns the rule. A number added through the API (AddChatappPhoneNumber) starts
``Status: PENDING``, ``NameStatus: PENDING_REVIEW``, ``QualityRating: UNKNOWN`` and is
remembered in ``EmulatorState.pending`` with the time of its add. Once ``connect_after``
seconds have passed, it takes the fields of :data:`CONNECTED`, as WhatsApp reports a number
that passed its review, and is forgotten from ``pending``. With no ``connect_after`` (the
default) it stays PENDING, so tests stay deterministic.

Numbers written in the state file are never moved: the file says how they are now. The
change happens when the emulator next looks (each request), so it needs no timer, and a kept
state (``persistence.py``) catches up at its next start from the stored time of each add.
"""

from __future__ import annotations

from reconciler.api.models import JSONObject
from reconciler.emulator.state import EmulatorState

CONNECTED: JSONObject = {
    "Status": "CONNECTED",
    "NameStatus": "APPROVED",
    "CodeVerificationStatus": "VERIFIED",
    "QualityRating": "GREEN",
    # WhatsApp's first tier for a new business number: 250 business-initiated conversations.
    "MessagingLimitTier": "TIER_250",
}
"""What a number that passed WhatsApp's review shows (QueryChatappPhoneNumbers fields)."""


def advance(state: EmulatorState, now: float) -> int:
    """Connect every pending number added ``connect_after`` seconds or more before ``now``.

    Returns how many numbers changed. A pending number whose status was changed meanwhile
    (by a test's ``set_state``, say) is forgotten without being touched.
    """
    delay = state.connect_after
    if delay is None or not state.pending:
        return 0
    due = {phone for phone, added in state.pending.items() if now >= added + delay}
    if not due:
        return 0
    changed = 0
    for space in state.spaces.values():
        for number in space.numbers:
            phone = number.get("PhoneNumber")
            if phone in due and number.get("Status") == "PENDING":
                number.update(CONNECTED)
                changed += 1
    for phone in due:
        del state.pending[phone]
    return changed
