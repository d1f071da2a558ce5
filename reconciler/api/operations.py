"""The names of the API operations camsctl calls, and the API versions they belong to.

This module owns the one list of those names: the client sends them, the emulator answers
them, its fault injection picks its victims by them. They are the service's own names
(``x-acs-action``), so a rename here is a change of the wire protocol, not of style.
``Operation`` is a ``StrEnum``: a member is the plain string on the wire, in a header, a
counter key or an error message.
"""

from __future__ import annotations

from enum import StrEnum

API_VERSION = "2020-06-06"
"""``x-acs-version`` of every CAMS operation below."""


class Operation(StrEnum):
    """The five CAMS operations, named as the service names them."""

    ADD_PHONE_NUMBER = "AddChatappPhoneNumber"
    LIST_PHONE_NUMBERS = "QueryChatappPhoneNumbers"
    SYNC_PHONE_NUMBERS = "ChatappSyncPhoneNumber"
    QUERY_BUSINESS_PROFILE = "QueryPhoneBusinessProfile"
    QUERY_BIND_WABA = "QueryChatappBindWaba"


NUMBER_READS = frozenset({Operation.LIST_PHONE_NUMBERS, Operation.SYNC_PHONE_NUMBERS})
"""The two reads that answer a space's numbers (``PhoneNumbers``); they share one answer shape."""

# STS is a separate service with its own version; OIDC credentials call it and the emulator
# answers it, so its one operation is named here too.
STS_VERSION = "2015-04-01"
ASSUME_ROLE_WITH_OIDC = "AssumeRoleWithOIDC"
