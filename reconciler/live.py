"""The live state: what the account has, as read by refresh, as frozen values.

These are the plan's view of the service, separate from the API client's wire models so that a
change in the API's JSON never reaches the plan rules. Refresh builds them; ``build_plan`` reads
them. Numbers are keyed by E.164, like the desired state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from types import MappingProxyType

from reconciler.business_profile import ProfileFields
from reconciler.phone import PhoneNumber


@dataclass(frozen=True)
class LiveNumber:
    """A number as QueryChatappPhoneNumbers (or ChatappSyncPhoneNumber) lists it."""

    phone: PhoneNumber
    verified_name: str
    status: str
    name_status: str | None = None
    quality_rating: str | None = None
    messaging_limit_tier: str | None = None


@dataclass(frozen=True)
class LiveProfile(ProfileFields):
    """A number's business profile as QueryPhoneBusinessProfile returns it."""


@dataclass(frozen=True)
class LiveWaba:
    """The WhatsApp Business Account bound to a space (QueryChatappBindWaba)."""

    id: str | None
    name: str | None
    review_status: str | None

    def fields(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in dataclass_fields(self)}


@dataclass(frozen=True)
class LiveSpace:
    """Everything refresh read for one space.

    ``waba_read`` says whether QueryChatappBindWaba was called; only then does ``waba`` mean
    something (``None`` = no WABA bound). ``profiles`` holds the profiles that were read, by
    E.164; a number missing from it was not read, which is not the same as an empty profile.
    """

    id: str
    numbers: Mapping[str, LiveNumber]
    waba_read: bool = False
    waba: LiveWaba | None = None
    profiles: Mapping[str, LiveProfile] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Live:
    """The live state of the spaces that were read, by space id."""

    spaces: Mapping[str, LiveSpace]
