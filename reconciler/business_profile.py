"""The business-profile fields a number has, shared by the desired and the live state.

One list of fields, so that a declared profile and a live one can only be compared field by
field with the same names (``build_plan`` pairs them by name).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as dataclass_fields

ProfileValue = str | tuple[str, ...] | None


@dataclass(frozen=True)
class ProfileFields:
    """The fields of QueryPhoneBusinessProfile, by their manifest names."""

    about: str | None = None
    email: str | None = None
    websites: tuple[str, ...] | None = None
    vertical: str | None = None
    address: str | None = None
    description: str | None = None
    profile_picture_url: str | None = None

    def fields(self) -> dict[str, ProfileValue]:
        """Every field, by name."""
        return {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
