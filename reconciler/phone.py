"""Phone-number identity: the one place where a written number becomes the key camsctl compares.

A manifest number is parsed with libphonenumber (the ``phonenumbers`` package), never guessing a
country: it must carry its country calling code. The API wants it split into ``Cc`` (country
calling code) and ``PhoneNumber`` (the national significant number, *including* an Italian-style
leading zero), and lists live numbers as one string of digits, ``Cc + PhoneNumber``. Both forms
map to the same E.164 key here, so the rest of the code compares keys, never notations.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "its country calling code is not one that exists",
    NumberParseException.NOT_A_NUMBER: "it does not look like a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "it is too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "it is too short",
    NumberParseException.TOO_LONG: "it is too long",
}

_POSSIBILITY_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "its country calling code does not exist",
    phonenumbers.ValidationResult.TOO_SHORT: "it is too short for its country",
    phonenumbers.ValidationResult.TOO_LONG: "it is too long for its country",
    phonenumbers.ValidationResult.INVALID_LENGTH: "its length is not possible for its country",
}


class PhoneNumberError(ValueError):
    """A written number that cannot be a phone number; the message says why, for a user."""


@dataclass(frozen=True, order=True, slots=True)  # slots: one per declared number
class PhoneNumber:
    """A normalised phone number. Ordered and compared by its E.164 form.

    ``valid`` is libphonenumber's opinion that the number is assigned in its numbering plan; a
    possible-but-not-valid number is still usable (plans warn about it). Do not use ``valid`` as an
    identity: two PhoneNumbers with the same ``e164`` are the same number.
    """

    e164: str
    """``+`` then the digits, e.g. ``+390669881234``. The identity key."""
    country_code: str
    """The API's ``Cc``: country calling code digits, e.g. ``39``."""
    national_number: str
    """The API's ``PhoneNumber``: national significant number with any leading zero kept."""
    valid: bool = field(default=True, compare=False)

    @property
    def digits(self) -> str:
        """The form the API lists live numbers in: ``Cc + PhoneNumber``."""
        return self.e164[1:]

    def masked(self) -> str:
        """The number with its middle digits hidden, for humans when --mask-numbers is on.

        Keeps ``+``, the country code and the first three national digits (enough to tell
        operators apart) and the last four (enough to tell lines apart): ``+86138****1234``.
        """
        return mask_e164(self.e164)


def mask_e164(e164: str) -> str:
    """Hide the middle digits of an E.164 string; see :meth:`PhoneNumber.masked`."""
    digits = e164.lstrip("+")
    try:
        cc_len = len(str(phonenumbers.parse("+" + digits, None).country_code))
    except NumberParseException:
        cc_len = min(3, len(digits))
    keep_head = cc_len + 3
    hidden = len(digits) - keep_head - 4
    if hidden <= 0:
        # Too short to keep both ends: keep only the country code.
        return "+" + digits[:cc_len] + "*" * (len(digits) - cc_len)
    return "+" + digits[:keep_head] + "*" * hidden + digits[-4:]


_PHONE_LIKE = re.compile(r"(?<![\w+-])\+?\d(?:[ -]?\d){6,}(?![\w-])")
"""A run of at least 7 digits, maybe after a ``+`` and split by single spaces or dashes,
standing alone: digits inside a word or a dashed id (a RequestId's hex groups, a date
followed by its time) are not a phone number."""


def mask_in_text(text: str) -> str:
    """``text`` with every phone-like run of digits masked as :func:`mask_e164` masks a number.

    For free text that may name a number, such as the service's error messages, when
    --mask-numbers is on. ``+86 138 0000 1234`` becomes ``+86138****1234``; a run without
    ``+`` (the API's ``8613800001234``, a national ``13800001234``) is masked the same way
    and keeps no ``+``. Over-masking a long id that stands alone is the safe side.
    """
    def masked(match: re.Match[str]) -> str:
        run = match.group()
        digits = re.sub(r"\D", "", run)
        hidden = mask_e164(digits)
        return hidden if run.startswith("+") else hidden[1:]

    return _PHONE_LIKE.sub(masked, text)


def parse_phone(text: str, region: str | None = None) -> PhoneNumber:
    """Parse a written number into a :class:`PhoneNumber`.

    ``region`` (an ISO 3166 code such as ``CN``) lets a caller read national notation; manifests
    never pass one, because the country must come from the number itself. Raises
    :class:`PhoneNumberError` for anything that cannot be a phone number.
    """
    stripped = text.strip()
    if not stripped:
        raise PhoneNumberError("the phone number is empty")
    try:
        parsed = phonenumbers.parse(stripped, region, keep_raw_input=False)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and region is None \
                and not stripped.startswith("+"):
            raise PhoneNumberError(
                f"'{stripped}' has no country calling code: write it in international "
                f"notation starting with '+', e.g. '+86 138 0000 1234'") from None
        reason = _PARSE_REASONS.get(exc.error_type, "it cannot be parsed")
        raise PhoneNumberError(f"'{stripped}' is not a phone number: {reason}") from None
    if parsed.extension:
        raise PhoneNumberError(f"'{stripped}' has an extension; WhatsApp numbers cannot have one")
    possibility = phonenumbers.is_possible_number_with_reason(parsed)
    if possibility not in (phonenumbers.ValidationResult.IS_POSSIBLE,
                           phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        reason = _POSSIBILITY_REASONS.get(possibility, "it is not a possible number")
        raise PhoneNumberError(f"'{stripped}' is not a possible phone number: {reason}")
    national = phonenumbers.national_significant_number(parsed)
    return PhoneNumber(
        e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
        country_code=sys.intern(str(parsed.country_code)),  # one copy per country, not number
        national_number=national,
        valid=phonenumbers.is_valid_number(parsed),
    )


def from_live_digits(digits: str, known: Mapping[str, PhoneNumber] | None = None) -> PhoneNumber:
    """The :class:`PhoneNumber` of a live number listed as ``Cc + PhoneNumber`` digits.

    The service may list numbers that libphonenumber cannot split (or that are not valid); those
    still get a stable key, ``+`` and the digits, with the country code left empty.

    ``known`` maps E.164 to numbers parsed already (a space's declared numbers): a listed number
    among them is taken from there rather than parsed again. It is the same result, because
    E.164 is ``+``, the country code and the national significant number, which is what the
    service lists; at 100k numbers it saves ~3 s of libphonenumber per plan.
    """
    if known is not None:
        parsed = known.get("+" + digits)
        if parsed is not None:
            return parsed
    try:
        return parse_phone("+" + digits)
    except PhoneNumberError:
        return PhoneNumber(e164="+" + digits, country_code="", national_number=digits,
                           valid=False)
