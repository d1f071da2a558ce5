"""The emulator's account state and its file format (YAML or JSON; field names are the API's).

This module owns reading, validating and writing the state file described in SPEC.md:

    access_keys: [{id, secret}]          optional; default one pair emulator / emulator-secret
    spaces:
      "<CustSpaceId>":
        waba: {Id, Name, AccountReviewStatus, ...}    QueryChatappBindWaba Data; absent = none
        numbers: [{PhoneNumber, VerifiedName, Status, NameStatus, QualityRating, ...}]
        profiles: {"<PhoneNumber>": {About, Email, Websites, ...}}
    lifecycle:                            optional (see ``lifecycle.py``)
      connect_after: <seconds>            a new number connects this long after its add
      pending: {"<PhoneNumber>": "<ISO 8601 time of its add>"}   kept by the emulator

Reading is bounded as for manifests, with the same code: a regular file only (never a FIFO or
a device) of bounded size (``safefile.read_regular``), UTF-8, then the manifests' YAML reader,
which bounds nesting and alias expansion and takes keys as written (``yamlsource``). Every
value is then checked against the type the official SDK's models give it, so the emulator
only ever answers what the SDK can parse. The first problem ends the reading, as one error
naming the file, the line and the path inside it
(``state.yaml:7:9: spaces."123".numbers[0].PhoneNumber: ...``).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import yaml

from reconciler.api.models import JSONObject, JSONValue
from reconciler.safefile import UnsafeFile, read_regular
from reconciler.yamlsource import LocatedDocument, ValuePath, parse_yaml

DEFAULT_ACCESS_KEY_ID = "emulator"
DEFAULT_ACCESS_KEY_SECRET = "emulator-secret"
REDACTED = "***"
"""What an answer of the emulator shows in place of a secret."""
MAX_STATE_BYTES = 32 * 1024 * 1024
"""Largest state file read: 100,000 numbers take about 10 MiB."""


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
# Every field is a string in those models, but these (and null, for an absent value).
MAPPING_FIELDS = frozenset({"CallingConfigure", "AuthInternationalRateEligibility"})
TEXT_LIST_FIELDS = frozenset({"Websites"})


class StateFileError(ValueError):
    """The state file cannot be read or does not follow the format."""


class StateNotKept(Exception):
    """A changed state could not be stored where it is kept (an ``on_change`` of the app
    raises it); the message says why, for a user."""


class _Invalid(Exception):
    """A fault of the value at ``path``; ``key``: of the mapping key written at that path."""

    def __init__(self, path: ValuePath, message: str, *, key: ValuePath | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.key = key


def _describe(path: ValuePath) -> str:
    """``spaces."123".numbers[0].PhoneNumber``: ids (digits) quoted, indexes in brackets."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = f'"{part}"' if part.isdigit() else part
            text += f".{name}" if text else name
    return text


def _mapping(value: object, path: ValuePath) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _Invalid(path, "expected a mapping")
    for key in value:
        if not isinstance(key, str):  # a document built in code; YAML keys are text here
            raise _Invalid(path, f"key {key!r} must be a string")
    return value


def _list(value: object, path: ValuePath) -> list[object]:
    if not isinstance(value, list):
        raise _Invalid(path, "expected a list")
    return value


def _json(value: object, path: ValuePath) -> JSONValue:
    """``value`` if JSON can carry it: no dates, binary or not-a-number that YAML can write."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, list):
        return [_json(item, (*path, index)) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _json(item, (*path, key)) for key, item in _mapping(value, path).items()}
    raise _Invalid(path, f"{value!r} is no JSON value (quote it if it is text)")


def _fields(value: object, known: frozenset[str], path: ValuePath) -> JSONObject:
    """An SDK model's data: known field names only, each of the type the model gives it."""
    result: JSONObject = {}
    for key, item in _mapping(value, path).items():
        if key not in known:
            allowed = sorted(known)
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _Invalid(path, f"unknown field {key!r}{hint}; the API's field "
                           f"names are: {', '.join(allowed)}", key=(*path, key))
        where = (*path, key)
        if item is None:
            pass
        elif key in MAPPING_FIELDS:
            _mapping(item, where)
        elif key in TEXT_LIST_FIELDS:
            if not isinstance(item, list) or not all(isinstance(v, str) for v in item):
                raise _Invalid(where, "expected a list of texts")
        elif not isinstance(item, str):
            raise _Invalid(where, f"expected text, not {item!r}{_quote_hint(item)}")
        result[key] = _json(item, where)
    return result


def _quote_hint(value: object) -> str:
    return " (quote it in YAML: unquoted, it is read as a number, a date or a boolean)" \
        if isinstance(value, int | float | date) else ""


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


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
    connect_after: float | None = None
    """Seconds after its add a new number becomes CONNECTED; None: it stays PENDING."""
    pending: dict[str, float] = field(default_factory=dict)
    """Numbers added through the API and not connected yet: PhoneNumber -> time of the add
    (seconds since the epoch), what the lifecycle needs to connect them, even after a
    restart from a kept copy."""

    def copy(self) -> EmulatorState:
        """A copy that later adds and status changes of this state do not reach.

        Numbers are copied one by one (the lifecycle changes them in place); the values
        inside them, WABAs and profiles are only ever replaced whole, so they are shared.
        """
        return EmulatorState(
            access_keys=dict(self.access_keys),
            spaces={space_id: SpaceState(waba=space.waba,
                                         numbers=[dict(n) for n in space.numbers],
                                         profiles=dict(space.profiles))
                    for space_id, space in self.spaces.items()},
            access_keys_given=self.access_keys_given, oidc_roles=self.oidc_roles,
            connect_after=self.connect_after, pending=dict(self.pending))

    def find_number(self, digits: str) -> str | None:
        """The space holding ``digits``, if any (a number lives in one WABA only)."""
        for space_id, space in self.spaces.items():
            if any(n.get("PhoneNumber") == digits for n in space.numbers):
                return space_id
        return None


def parse_state(document: object, source: str = "state", *,
                located: LocatedDocument | None = None) -> EmulatorState:
    """Validate a loaded document and build the state; raise StateFileError on the first fault.

    ``located`` (the document as read from ``source``) adds the line of the fault.
    """
    try:
        return _state(document)
    except _Invalid as fault:
        place = source
        if located is not None:
            where = located.location(fault.path) if fault.key is None \
                else located.key_location(fault.key)
            place = str(where)
        inside = _describe(fault.path)
        raise StateFileError(f"{place}: {inside}: {fault.message}" if inside
                             else f"{place}: {fault.message}") from None


def _state(document: object) -> EmulatorState:
    root = _mapping({} if document is None else document, ())
    unknown = sorted(set(root) - {"access_keys", "spaces", "oidc", "lifecycle"})
    if unknown:
        raise _Invalid((), f"unknown top-level key(s) {', '.join(unknown)} "
                       "(expected access_keys, spaces, oidc, lifecycle)", key=(unknown[0],))
    keys: dict[str, str] = {}
    raw_keys = root.get("access_keys")
    if raw_keys is not None:
        if not isinstance(raw_keys, list) or not raw_keys:
            raise _Invalid(("access_keys",), "must be a non-empty list of {id, secret}")
        for index, entry in enumerate(raw_keys):
            item = _mapping(entry, ("access_keys", index))
            key_id, secret = item.get("id"), item.get("secret")
            if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) \
                    or not secret:
                raise _Invalid(("access_keys", index), "needs string id and secret")
            keys[key_id] = secret
    else:
        keys[DEFAULT_ACCESS_KEY_ID] = DEFAULT_ACCESS_KEY_SECRET
    raw_spaces = root.get("spaces")
    spaces = {space_id: _space(raw_space, ("spaces", space_id)) for space_id, raw_space in
              _mapping({} if raw_spaces is None else raw_spaces, ("spaces",)).items()}
    seen: dict[str, str] = {}
    for space_id, space in spaces.items():
        for index, number in enumerate(space.numbers):
            digits = str(number["PhoneNumber"])
            if digits in seen:
                raise _Invalid(("spaces", space_id, "numbers", index, "PhoneNumber"),
                               f"number {digits} is in spaces {seen[digits]} and {space_id}; "
                               "a number lives in one space only")
            seen[digits] = space_id
    connect_after, pending = _lifecycle(root.get("lifecycle"), seen)
    return EmulatorState(access_keys=keys, spaces=spaces,
                         access_keys_given=raw_keys is not None,
                         oidc_roles=_oidc_roles(root.get("oidc")),
                         connect_after=connect_after, pending=pending)


def _space(value: object, path: ValuePath) -> SpaceState:
    """One space of the file: its id is the last part of ``path``."""
    if not _digits(str(path[-1])):
        raise _Invalid(path, "a CustSpaceId is a string of digits", key=path)
    space = _mapping({} if value is None else value, path)
    unknown = sorted(set(space) - {"waba", "numbers", "profiles"})
    if unknown:
        raise _Invalid(path, f"unknown key(s) {', '.join(unknown)} "
                       "(expected waba, numbers, profiles)", key=(*path, unknown[0]))
    raw_waba = space.get("waba")
    waba = None if raw_waba is None else _fields(raw_waba, WABA_FIELDS, (*path, "waba"))
    numbers: list[JSONObject] = []
    raw_numbers = space.get("numbers")
    for index, raw_number in enumerate(_list([] if raw_numbers is None else raw_numbers,
                                             (*path, "numbers"))):
        where = (*path, "numbers", index)
        number = _fields(raw_number, NUMBER_FIELDS, where)
        digits = number.get("PhoneNumber")
        if digits is None:
            raise _Invalid(where, "needs a PhoneNumber: Cc + number, digits")
        if not isinstance(digits, str) or not _digits(digits.removeprefix("+")):
            raise _Invalid((*where, "PhoneNumber"), "expected Cc + number, digits")
        number["PhoneNumber"] = digits.removeprefix("+")
        numbers.append(number)
    profiles: dict[str, JSONObject] = {}
    raw_profiles = space.get("profiles")
    for phone, raw_profile in _mapping({} if raw_profiles is None else raw_profiles,
                                       (*path, "profiles")).items():
        where = (*path, "profiles", phone)
        if not _digits(phone.removeprefix("+")):
            raise _Invalid(where, "a profile's key is a phone number: Cc + number, digits",
                           key=where)
        profiles[phone.removeprefix("+")] = _fields(raw_profile, PROFILE_FIELDS, where)
    return SpaceState(waba=waba, numbers=numbers, profiles=profiles)


def _oidc_roles(raw: object) -> tuple[OidcRole, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _Invalid(("oidc",), "must be a list of {role_arn, provider_arn, token}")
    roles = []
    for index, entry in enumerate(raw):
        item = _mapping(entry, ("oidc", index))
        for name in item:
            if name not in ("role_arn", "provider_arn", "token"):
                raise _Invalid(("oidc", index), f"unknown field {name!r}; expected "
                               "role_arn, provider_arn and token", key=("oidc", index, name))
        values = [item.get(name) for name in ("role_arn", "provider_arn", "token")]
        if not all(isinstance(v, str) and v for v in values):
            raise _Invalid(("oidc", index), "needs string role_arn, provider_arn and token")
        roles.append(OidcRole(*(str(v) for v in values)))
    return tuple(roles)


def _lifecycle(raw: object, numbers: dict[str, str]) -> tuple[float | None, dict[str, float]]:
    """``lifecycle``: ``connect_after`` and ``pending`` (of ``numbers``, the state's own)."""
    if raw is None:
        return None, {}
    lifecycle = _mapping(raw, ("lifecycle",))
    for name in lifecycle:
        if name not in ("connect_after", "pending"):
            raise _Invalid(("lifecycle",), f"unknown key {name!r}; expected connect_after "
                           "and pending", key=("lifecycle", name))
    delay = lifecycle.get("connect_after")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float)
                              or not math.isfinite(delay) or delay < 0):
        raise _Invalid(("lifecycle", "connect_after"), "expected a number of seconds, 0 or "
                       f"more (or null: never), not {delay!r}")
    pending: dict[str, float] = {}
    raw_pending = lifecycle.get("pending")
    for phone, added in _mapping({} if raw_pending is None else raw_pending,
                                 ("lifecycle", "pending")).items():
        where = ("lifecycle", "pending", phone)
        digits = phone.removeprefix("+")
        if digits not in numbers:
            raise _Invalid(where, f"no space has the number {phone}", key=where)
        pending[digits] = _moment(added, where)
    return (None if delay is None else float(delay)), pending


def _moment(value: object, path: ValuePath) -> float:
    """An ISO 8601 time with its offset (``2026-11-20T10:00:00Z``), as epoch seconds."""
    if not isinstance(value, str):
        raise _Invalid(path, f"expected an ISO 8601 time as text, not {value!r}"
                       f"{_quote_hint(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(path, f"{value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise _Invalid(path, f"{value!r} needs its offset from UTC (e.g. Z)")
    return moment.timestamp()


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def state_document(path: Path, raw: bytes) -> LocatedDocument:
    """The YAML (or JSON) document in the bytes ``raw`` read from ``path``."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise StateFileError(f"{path}:{line}: the file is not UTF-8 text") from None
    document, problems = parse_yaml(str(path), text)
    if document is None:
        first = problems[0]
        raise StateFileError(f"{first.location}: {first.message}")
    return document


def read_state_file(path: Path) -> tuple[EmulatorState, bytes]:
    """A YAML or JSON state file's state, and the bytes it was read from."""
    try:
        raw = read_regular(path, "state file", MAX_STATE_BYTES)
    except UnsafeFile as exc:
        raise StateFileError(str(exc)) from None
    document = state_document(path, raw)
    return parse_state(document.value, str(path), located=document), raw


def load_state(path: Path) -> EmulatorState:
    """Read a YAML or JSON state file (JSON is YAML, so one reader reads both)."""
    return read_state_file(path)[0]


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
    lifecycle: JSONObject = {}
    if state.connect_after is not None:
        delay = state.connect_after
        lifecycle["connect_after"] = int(delay) if delay.is_integer() else delay
    if state.pending:
        lifecycle["pending"] = {phone: _iso(at) for phone, at in state.pending.items()}
    if lifecycle:
        document["lifecycle"] = lifecycle
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
