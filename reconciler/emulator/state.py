"""The emulator's account state and its file format (YAML or JSON; field names are the API's).

This module owns reading, validating and writing the state file described in SPEC.md:

    access_keys: [{id, secret}]          optional; default one pair emulator / emulator-secret
    spaces:
      "<CustSpaceId>":
        waba: {Id, Name, AccountReviewStatus, ...}    QueryChatappBindWaba Data; absent = none
        numbers: [{PhoneNumber, VerifiedName, Status, NameStatus, QualityRating, ...}]
        profiles: {"<PhoneNumber>": {About, Email, Websites, ...}}

Errors name the file and the path inside it (``spaces."123".numbers[0].PhoneNumber``).
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reconciler.api.models import JSONObject, JSONValue

DEFAULT_ACCESS_KEY_ID = "emulator"
DEFAULT_ACCESS_KEY_SECRET = "emulator-secret"
REDACTED = "***"
"""What an answer of the emulator shows in place of a secret."""


# The fields the official SDK's response models know (alibabacloud-cams20200606). A field
# outside these would be silently dropped by SDK users, so the state file may not hold one.
NUMBER_FIELDS = frozenset({
    "PhoneNumber", "VerifiedName", "Status", "NameStatus", "QualityRating",
    "CodeVerificationStatus", "MessagingLimitTier", "NewNameStatus", "StatusCallbackUrl",
    "UpCallbackUrl", "StatusQueue", "UpQueue", "IsOfficial", "CallingConfigure",
})
WABA_FIELDS = frozenset({
    "Id", "Name", "AccountReviewStatus", "BusinessName", "BusinessId", "Currency",
    "MessageTemplateNamespace", "PrimaryBusinessLocation", "IsOnBizApp",
    "MarketingMessageLiteStatus", "AuthInternationalRateEligibility",
})
PROFILE_FIELDS = frozenset({
    "About", "Email", "Websites", "Vertical", "Address", "Description", "ProfilePictureUrl",
})


class StateFileError(ValueError):
    """The state file cannot be read or does not follow the format."""


def _check_fields(obj: JSONObject, known: Iterable[str], where: str) -> None:
    allowed = sorted(known)
    for key in obj:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise StateFileError(f"{where}: unknown field {key!r}{hint}; the API's field "
                                 f"names are: {', '.join(allowed)}")


@dataclass
class SpaceState:
    """One CustSpaceId: its bound WABA, its numbers, and their business profiles."""

    waba: JSONObject | None = None
    numbers: list[JSONObject] = field(default_factory=list)
    profiles: dict[str, JSONObject] = field(default_factory=dict)


@dataclass(frozen=True)
class OidcRole:
    """A RAM role that STS AssumeRoleWithOIDC may assume, and the OIDC token it trusts.

    The real STS checks a JWT signed by the identity provider; the emulator compares the token
    with this one, so a test can hand camsctl a token file and know what STS will say.
    """

    role_arn: str
    provider_arn: str
    token: str


@dataclass
class EmulatorState:
    """The whole emulated account. Mutable: adds change it while the emulator runs."""

    access_keys: dict[str, str]  # AccessKeyId -> secret, in file order (the first is default)
    spaces: dict[str, SpaceState]
    access_keys_given: bool = True  # whether the file listed keys (dump them back only then)
    oidc_roles: tuple[OidcRole, ...] = ()  # roles STS AssumeRoleWithOIDC may assume

    def find_number(self, digits: str) -> str | None:
        """The space holding ``digits``, if any (a number lives in one WABA only)."""
        for space_id, space in self.spaces.items():
            if any(n.get("PhoneNumber") == digits for n in space.numbers):
                return space_id
        return None


def _quote_hint(value: JSONValue) -> str:
    return " (quote it in YAML: digits are read as a number otherwise)" if isinstance(
        value, int) else ""


def _object(value: JSONValue, where: str) -> JSONObject:
    if not isinstance(value, dict):
        raise StateFileError(f"{where}: expected a mapping")
    return value


def parse_state(document: JSONValue, source: str = "state") -> EmulatorState:
    """Validate a loaded document and build the state; raise StateFileError on the first fault."""
    if document is None:
        document = {}
    root = _object(document, source)
    unknown = sorted(set(root) - {"access_keys", "spaces", "oidc"})
    if unknown:
        raise StateFileError(f"{source}: unknown top-level key(s) {', '.join(unknown)} "
                             "(expected access_keys, spaces, oidc)")
    keys: dict[str, str] = {}
    raw_keys = root.get("access_keys")
    if raw_keys is not None:
        if not isinstance(raw_keys, list) or not raw_keys:
            raise StateFileError(f"{source}: access_keys must be a non-empty list of "
                                 "{id, secret}")
        for index, entry in enumerate(raw_keys):
            item = _object(entry, f"{source}: access_keys[{index}]")
            key_id, secret = item.get("id"), item.get("secret")
            if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) \
                    or not secret:
                raise StateFileError(f"{source}: access_keys[{index}] needs string id and "
                                     "secret")
            keys[key_id] = secret
    else:
        keys[DEFAULT_ACCESS_KEY_ID] = DEFAULT_ACCESS_KEY_SECRET
    spaces: dict[str, SpaceState] = {}
    raw_spaces = root.get("spaces") or {}
    for space_key, raw_space in _object(raw_spaces, f"{source}: spaces").items():
        where = f'{source}: spaces."{space_key}"'
        if not space_key.isdigit():
            raise StateFileError(f"{where}: a CustSpaceId is a string of digits")
        space_doc = _object(raw_space or {}, where)
        unknown = sorted(set(space_doc) - {"waba", "numbers", "profiles"})
        if unknown:
            raise StateFileError(f"{where}: unknown key(s) {', '.join(unknown)} "
                                 "(expected waba, numbers, profiles)")
        waba_doc = space_doc.get("waba")
        waba = _object(waba_doc, f"{where}.waba") if waba_doc is not None else None
        if waba is not None:
            _check_fields(waba, WABA_FIELDS, f"{where}.waba")
        numbers: list[JSONObject] = []
        raw_numbers = space_doc.get("numbers") or []
        if not isinstance(raw_numbers, list):
            raise StateFileError(f"{where}.numbers: expected a list")
        for index, raw_number in enumerate(raw_numbers):
            number = dict(_object(raw_number, f"{where}.numbers[{index}]"))
            _check_fields(number, NUMBER_FIELDS, f"{where}.numbers[{index}]")
            digits = number.get("PhoneNumber")
            if not isinstance(digits, str) or not digits.lstrip("+").isdigit():
                raise StateFileError(f"{where}.numbers[{index}].PhoneNumber: expected a string"
                                     f" of digits, Cc + number{_quote_hint(digits)}")
            number["PhoneNumber"] = digits.lstrip("+")
            numbers.append(number)
        profiles: dict[str, JSONObject] = {}
        for phone, raw_profile in _object(space_doc.get("profiles") or {},
                                          f"{where}.profiles").items():
            profile = _object(raw_profile, f"{where}.profiles.{phone}")
            _check_fields(profile, PROFILE_FIELDS, f"{where}.profiles.{phone}")
            profiles[phone.lstrip("+")] = profile
        spaces[str(space_key)] = SpaceState(waba=waba, numbers=numbers, profiles=profiles)
    state = EmulatorState(access_keys=keys, spaces=spaces,
                          access_keys_given=raw_keys is not None,
                          oidc_roles=_oidc_roles(root.get("oidc"), source))
    seen: dict[str, str] = {}
    for space_id, space in state.spaces.items():
        for number in space.numbers:
            digits = str(number["PhoneNumber"])
            if digits in seen:
                raise StateFileError(f"{source}: number {digits} is in spaces {seen[digits]} and "
                                     f"{space_id}; a number lives in one space only")
            seen[digits] = space_id
    return state


def _oidc_roles(raw: JSONValue, source: str) -> tuple[OidcRole, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise StateFileError(f"{source}: oidc must be a list of {{role_arn, provider_arn, "
                             "token}}")
    roles = []
    for index, entry in enumerate(raw):
        item = _object(entry, f"{source}: oidc[{index}]")
        _check_fields(item, {"role_arn", "provider_arn", "token"}, f"{source}: oidc[{index}]")
        values = [item.get(name) for name in ("role_arn", "provider_arn", "token")]
        if not all(isinstance(v, str) and v for v in values):
            raise StateFileError(f"{source}: oidc[{index}] needs string role_arn, provider_arn "
                                 "and token")
        roles.append(OidcRole(*(str(v) for v in values)))
    return tuple(roles)


def load_state(path: Path) -> EmulatorState:
    """Read a YAML or JSON state file (JSON is YAML, so one parser reads both)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StateFileError(f"cannot read state file {path}: {exc.strerror}") from None
    try:
        # Space ids are mapping keys; a YAML int key becomes int. Catch that in parse_state.
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StateFileError(f"{path}: not valid YAML/JSON: {exc}") from None
    if isinstance(document, dict) and isinstance(document.get("spaces"), dict):
        for key in document["spaces"]:
            if not isinstance(key, str):
                raise StateFileError(f"{path}: spaces: key {key!r} must be a quoted string "
                                     "(a CustSpaceId is digits, not a number)")
    return parse_state(document, str(path))


def dump_state(state: EmulatorState, *, redact: bool = False) -> JSONObject:
    """The state in the state-file format; ``redact`` (what ``GET /_emulator/state`` answers)
    shows every secret (AccessKey secrets, OIDC tokens) as ``***`` and keeps the ids."""
    spaces: JSONObject = {}
    for space_id, space in state.spaces.items():
        entry: JSONObject = {}
        if space.waba is not None:
            entry["waba"] = space.waba
        entry["numbers"] = list(space.numbers)
        if space.profiles:
            entry["profiles"] = dict(space.profiles)
        spaces[space_id] = entry
    document: JSONObject = {}
    if state.access_keys_given:
        document["access_keys"] = [{"id": k, "secret": REDACTED if redact else s}
                                   for k, s in state.access_keys.items()]
    document["spaces"] = spaces
    if state.oidc_roles:
        document["oidc"] = [{"role_arn": r.role_arn, "provider_arn": r.provider_arn,
                             "token": REDACTED if redact else r.token}
                            for r in state.oidc_roles]
    return document


def write_state(path: Path, state: EmulatorState) -> None:
    """Replace ``path`` atomically with the current state, in YAML or JSON by its suffix."""
    document = dump_state(state)
    if path.suffix.lower() == ".json":
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
