"""Number normalisation: golden cases per country, and one key whatever the notation."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat

from reconciler.phone import PhoneNumberError, from_live_digits, mask_e164, parse_phone

GOLDEN = [
    # written, E.164, Cc, PhoneNumber (national significant number)
    ("+86 138 0000 1234", "+8613800001234", "86", "13800001234"),
    ("+86-138-0000-1234", "+8613800001234", "86", "13800001234"),
    ("+86 10 6552 9988", "+861065529988", "86", "1065529988"),
    ("+1 (650) 253-0000", "+16502530000", "1", "6502530000"),
    ("+1.212.555.0100", "+12125550100", "1", "2125550100"),
    ("+44 20 7946 0958", "+442079460958", "44", "2079460958"),
    ("+44 (0)20 7946 0958", "+442079460958", "44", "2079460958"),
    ("+39 06 6988 1234", "+390669881234", "39", "0669881234"),
    ("+39 02 1234 5678", "+390212345678", "39", "0212345678"),
    ("+39 312 345 6789", "+393123456789", "39", "3123456789"),
    ("+7 495 123-45-67", "+74951234567", "7", "4951234567"),
    ("+7 912 345 67 89", "+79123456789", "7", "9123456789"),
    ("+65 6123 4567", "+6561234567", "65", "61234567"),
    ("+65 9123 4567", "+6591234567", "65", "91234567"),
    ("tel:+86-138-0000-1234", "+8613800001234", "86", "13800001234"),
]


@pytest.mark.parametrize(("written", "e164", "cc", "national"), GOLDEN)
def test_golden_normalisation(written: str, e164: str, cc: str, national: str) -> None:
    number = parse_phone(written)
    assert (number.e164, number.country_code, number.national_number) == (e164, cc, national)
    assert number.digits == cc + national
    assert number.valid


def test_italian_leading_zero_is_kept_in_the_api_form() -> None:
    number = parse_phone("+39 06 6988 1234")
    assert number.country_code == "39"
    assert number.national_number == "0669881234"
    assert from_live_digits("390669881234") == number


def test_possible_but_not_valid_is_flagged_not_refused() -> None:
    number = parse_phone("+86 100 0000 0000")
    assert number.e164 == "+8610000000000"
    assert not number.valid


@pytest.mark.parametrize(("written", "fragment"), [
    ("13800001234", "no country calling code"),
    ("", "empty"),
    ("+86 12", "too short"),
    ("+999 1234 5678", "country calling code"),
    ("+44 20 7946 0958 ext. 7", "extension"),
    ("not a number", "not a phone number"),
])
def test_refused(written: str, fragment: str) -> None:
    with pytest.raises(PhoneNumberError, match=fragment):
        parse_phone(written)


def test_live_digits_that_libphonenumber_cannot_split_still_get_a_key() -> None:
    number = from_live_digits("99912345")
    assert number.e164 == "+99912345"
    assert not number.valid


@pytest.mark.parametrize(("e164", "masked"), [
    ("+8613800001234", "+86138****1234"),
    ("+390669881234", "+39066***1234"),
    ("+6561234567", "+65612*4567"),
    ("+16502530000", "+1650***0000"),
])
def test_masking_keeps_country_operator_and_line(e164: str, masked: str) -> None:
    assert mask_e164(e164) == masked
    assert len(mask_e164(e164)) == len(e164)


REGIONS = ["CN", "US", "GB", "IT", "RU", "SG", "DE", "IN", "BR", "JP", "FR", "AU", "ID", "MX"]


@st.composite
def valid_numbers(draw: st.DrawFn) -> tuple[str, phonenumbers.PhoneNumber]:
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from([phonenumbers.PhoneNumberType.MOBILE,
                                 phonenumbers.PhoneNumberType.FIXED_LINE]))
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    nsn = phonenumbers.national_significant_number(example)
    # Vary the subscriber digits and keep only numbers libphonenumber calls valid.
    tail = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    candidate = phonenumbers.parse("+" + str(example.country_code) + nsn[:-4] + tail, None)
    candidate.italian_leading_zero = example.italian_leading_zero
    if not phonenumbers.is_valid_number(candidate):
        candidate = example
    return region, candidate


@settings(max_examples=300, deadline=None)
@given(valid_numbers())
def test_every_notation_normalises_to_one_key(drawn: tuple[str, phonenumbers.PhoneNumber]) -> None:
    region, number = drawn
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    rfc3966 = phonenumbers.format_number(number, PhoneNumberFormat.RFC3966)
    keys = {
        parse_phone(e164),
        parse_phone(international),
        parse_phone(rfc3966),
        parse_phone(national, region),
        from_live_digits(e164[1:]),
    }
    assert len(keys) == 1
    (key,) = keys
    assert key.e164 == e164
    assert key.digits == key.country_code + key.national_number
    # The live listing (Cc + national number) parses to every field of the declared number,
    # which is why a refresh may reuse a declared number's parse instead of parsing again.
    declared, live = parse_phone(international), from_live_digits(key.digits)
    assert (live.e164, live.country_code, live.national_number, live.valid) == \
        (declared.e164, declared.country_code, declared.national_number, declared.valid)


def test_live_digits_of_a_known_number_reuse_its_parse() -> None:
    declared = parse_phone("+39 06 6988 1234")
    known = {declared.e164: declared}
    assert from_live_digits("390669881234", known) is declared
    other = from_live_digits("8613800001234", known)  # not known: parsed
    assert (other.e164, other.country_code, other.national_number) == \
        ("+8613800001234", "86", "13800001234")
