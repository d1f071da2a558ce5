"""The typed values the client returns, and their parsing from the API's JSON.

This is the JSON edge: untyped values exist only inside the ``from_api`` constructors, which
check every field's type and raise :class:`ResponseError` naming the operation and the field.
Field names are snake_case forms of the API's own (``VerifiedName`` -> ``verified_name``);
a field the service left out is ``None``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from reconciler.api.errors import ResponseError

# What json.loads can produce. Kept recursive so nothing below needs Any.
JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject: TypeAlias = "dict[str, JSONValue]"


class NotJson(ValueError):
    """Bytes that are no JSON value; the message says why without quoting them."""


def parse_json(data: bytes | str) -> JSONValue:
    """``json.loads``, with every way hostile input can fail ending as :class:`NotJson`:
    broken syntax, text that is not UTF-8, nesting deeper than the parser's recursion allows,
    and an integer longer than Python converts (4,300 digits)."""
    try:
        value: JSONValue = json.loads(data)
    except json.JSONDecodeError as exc:
        raise NotJson(f"not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError:
        raise NotJson("not UTF-8 text") from None
    except RecursionError:
        raise NotJson("JSON nested too deeply to read") from None
    except ValueError:
        raise NotJson("JSON with a number too long to read") from None
    return value


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> str:
    """A string of an answer as text that can be written: JSON's ``\\ud800`` escapes can
    decode to a lone surrogate, which no UTF-8 output (a terminal, a plan file, the
    journal) accepts; each becomes U+FFFD, the replacement character."""
    return value if value.isascii() else _LONE_SURROGATE.sub("\ufffd", value)


@dataclass(frozen=True)
class FieldReader:
    """Typed access to one JSON object of an answer; errors name the operation and the path."""

    operation: str
    where: str
    obj: Mapping[str, JSONValue]
    request_id: str | None = None  # of the whole answer, so every field error can cite it

    def _fail(self, key: str, expected: str) -> ResponseError:
        rid = f" (RequestId {self.request_id})" if self.request_id else ""
        return ResponseError(self.operation, f"{self.where}.{key}: expected {expected}{rid}")

    def optional_str(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            # Some fields (IsOfficial, numeric ids) come back as numbers from some regions.
            return str(value)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return _text(value)

    def required_str(self, key: str) -> str:
        value = self.optional_str(key)
        if value is None:
            raise self._fail(key, "a string (missing)")
        return value

    def optional_text(self, key: str) -> str | None:
        """A field quoted to people rather than read: a string as it is, any other JSON value
        as compact JSON (the OpenAPI gateway sends ``AccessDeniedDetail`` as an object)."""
        value = self.obj.get(key)
        if value is None or isinstance(value, str):
            return None if value is None else _text(value)
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    def string_tuple(self, key: str) -> tuple[str, ...]:
        value = self.obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of strings")
        return tuple(_text(v) for v in value if isinstance(v, str))

    def optional_object(self, key: str) -> FieldReader | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._fail(key, "an object")
        return FieldReader(self.operation, f"{self.where}.{key}", value, self.request_id)

    def objects(self, key: str, *, required: bool = False) -> tuple[FieldReader, ...]:
        """The objects of a list; a missing list is empty unless ``required``."""
        value = self.obj.get(key)
        if value is None:
            if required:
                raise self._fail(key, "a list (missing from a success answer)")
            return ()
        if not isinstance(value, list):
            raise self._fail(key, "a list")
        readers = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self._fail(f"{key}[{index}]", "an object")
            readers.append(FieldReader(self.operation, f"{self.where}.{key}[{index}]", item,
                                       self.request_id))
        return tuple(readers)


@dataclass(frozen=True)
class ListedNumber:
    """One phone number as QueryChatappPhoneNumbers / ChatappSyncPhoneNumber list it.

    The wire item, every field the service sends. Not the plan's view of a live number
    (:class:`reconciler.live.LiveNumber`, E.164 and only what the plan compares): ``refresh``
    turns one into the other.
    """

    phone_number: str  # digits, Cc + national number, e.g. "8613800001234" (no "+")
    verified_name: str | None  # the display name WhatsApp shows
    status: str | None  # CONNECTED, PENDING, FLAGGED, ... (see api-docs)
    name_status: str | None  # review status of verified_name
    quality_rating: str | None  # GREEN / YELLOW / RED / UNKNOWN
    code_verification_status: str | None  # VERIFIED, REJECTED, ...
    messaging_limit_tier: str | None  # TIER_50 ... TIER_UNLIMITED
    new_name_status: str | None  # review status of a requested new name
    status_callback_url: str | None = None
    up_callback_url: str | None = None
    status_queue: str | None = None
    up_queue: str | None = None
    is_official: str | None = None

    @classmethod
    def from_api(cls, item: FieldReader) -> ListedNumber:
        digits = item.required_str("PhoneNumber").lstrip("+")
        return cls(
            phone_number=digits,
            verified_name=item.optional_str("VerifiedName"),
            status=item.optional_str("Status"),
            name_status=item.optional_str("NameStatus"),
            quality_rating=item.optional_str("QualityRating"),
            code_verification_status=item.optional_str("CodeVerificationStatus"),
            messaging_limit_tier=item.optional_str("MessagingLimitTier"),
            new_name_status=item.optional_str("NewNameStatus"),
            status_callback_url=item.optional_str("StatusCallbackUrl"),
            up_callback_url=item.optional_str("UpCallbackUrl"),
            status_queue=item.optional_str("StatusQueue"),
            up_queue=item.optional_str("UpQueue"),
            is_official=item.optional_str("IsOfficial"),
        )


@dataclass(frozen=True)
class NumbersResult:
    """The numbers of one space, sorted by phone number, and the RequestId that returned them."""

    request_id: str
    numbers: tuple[ListedNumber, ...]

    @classmethod
    def from_api(cls, body: FieldReader) -> NumbersResult:
        # A success answer without its list is broken, not an empty space: read as empty,
        # it would make every declared number an add.
        numbers = tuple(ListedNumber.from_api(item)
                        for item in body.objects("PhoneNumbers", required=True))
        return cls(
            request_id=body.required_str("RequestId"),
            numbers=tuple(sorted(numbers, key=lambda n: n.phone_number)),
        )


@dataclass(frozen=True)
class BusinessProfile:
    """QueryPhoneBusinessProfile ``Data``: what WhatsApp shows about the business."""

    about: str | None
    email: str | None
    websites: tuple[str, ...]
    vertical: str | None
    address: str | None
    description: str | None
    profile_picture_url: str | None

    @classmethod
    def from_api(cls, data: FieldReader | None) -> BusinessProfile:
        if data is None:
            return cls(None, None, (), None, None, None, None)
        return cls(
            about=data.optional_str("About"),
            email=data.optional_str("Email"),
            websites=data.string_tuple("Websites"),
            vertical=data.optional_str("Vertical"),
            address=data.optional_str("Address"),
            description=data.optional_str("Description"),
            profile_picture_url=data.optional_str("ProfilePictureUrl"),
        )


@dataclass(frozen=True)
class ProfileResult:
    request_id: str
    profile: BusinessProfile


@dataclass(frozen=True)
class BoundWaba:
    """QueryChatappBindWaba ``Data``: the WhatsApp Business Account bound to a space.

    ``AuthInternationalRateEligibility`` (a free-form object) is not carried: nothing in the
    plan uses it, and a frozen value should not hold an open-ended dict.
    """

    id: str
    name: str | None
    account_review_status: str | None  # PENDING / APPROVED / REJECTED / DISABLED
    business_name: str | None
    business_id: str | None
    currency: str | None
    message_template_namespace: str | None = None
    primary_business_location: str | None = None
    is_on_biz_app: str | None = None
    marketing_message_lite_status: str | None = None

    @classmethod
    def from_api(cls, data: FieldReader | None) -> BoundWaba | None:
        """None when no WABA is bound (no Data, or Data without an Id)."""
        if data is None or data.optional_str("Id") in (None, ""):
            return None
        return cls(
            id=data.required_str("Id"),
            name=data.optional_str("Name"),
            account_review_status=data.optional_str("AccountReviewStatus"),
            business_name=data.optional_str("BusinessName"),
            business_id=data.optional_str("BusinessId"),
            currency=data.optional_str("Currency"),
            message_template_namespace=data.optional_str("MessageTemplateNamespace"),
            primary_business_location=data.optional_str("PrimaryBusinessLocation"),
            is_on_biz_app=data.optional_str("IsOnBizApp"),
            marketing_message_lite_status=data.optional_str("MarketingMessageLiteStatus"),
        )


@dataclass(frozen=True)
class WabaResult:
    request_id: str
    waba: BoundWaba | None
