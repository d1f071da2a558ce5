"""The desired state: what the manifests declare, as frozen values, and the rules that make it.

``build_desired`` is a pure function from parsed documents (see :mod:`reconciler.yamlsource`)
and the date of the run to :class:`Desired` plus every located
:class:`~reconciler.diagnostics.Diagnostic`. The structural rules (keys, types, enums) live in
``schemas/manifest.schema.json`` and are only translated into friendly messages here; the rules
a schema cannot say (number parsing, duplicates across files, one space per file, what an
acknowledgement refers to, dates) live in this module.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from functools import cache
from types import MappingProxyType

from jsonschema import Draft202012Validator, ValidationError

from reconciler.business_profile import ProfileFields
from reconciler.characters import invisible_summary, is_blank, text_problem
from reconciler.diagnostics import Collected, Diagnostic, Location, error, warning
from reconciler.phone import (
    PhoneNumber,
    PhoneNumberError,
    parse_phone,
)
from reconciler.schemacheck import Check, Unsupported, compile_check, inline_refs
from reconciler.schemas import load_schema, validator
from reconciler.signals import (
    ACK_FIELDS,
    MAX_ACK_DAYS,
    QUALITY_RATINGS,
    TIER_ORDER,
    Acknowledgement,
)
from reconciler.yamlsource import LocatedDocument, ValuePath, describe_path

MANIFEST_SCHEMA = "manifest.schema.json"
SUPPORTED_VERSION = 1
DEFAULT_STATUSES: frozenset[str] = frozenset({"CONNECTED"})

# ---------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class DesiredProfile(ProfileFields):
    """Expected business-profile fields of a number; ``None`` means "not declared, not compared"."""

    def declared(self) -> dict[str, str | tuple[str, ...]]:
        """The declared fields only, by manifest name."""
        return {name: value for name, value in self.fields().items() if value is not None}


@dataclass(frozen=True)
class DesiredWaba:
    """Expected fields of the WABA bound to a space; ``None`` means "not compared"."""

    id: str | None = None
    name: str | None = None
    review_status: str | None = None

    def declared(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in dataclass_fields(self)
                if getattr(self, f.name) is not None}


@dataclass(frozen=True, slots=True)  # slots: a manifest may declare 400,000 of them
class DesiredNumber:
    """A number a space must have.

    ``verified_name`` is trimmed and NFC-normalised, ready to compare with a live name normalised
    the same way (:func:`normalise_name`). ``statuses`` are the live statuses that count as in
    sync. ``source`` is where the number was declared, for plans and errors.
    """

    phone: PhoneNumber
    verified_name: str
    statuses: frozenset[str]
    source: Location
    profile: DesiredProfile | None = None
    quality_ratings: frozenset[str] | None = None
    """Allowed QualityRating values; None: not checked."""
    min_tier: str | None = None
    """The lowest acceptable MessagingLimitTier (``signals.TIER_ORDER``); None: not checked."""


@dataclass(frozen=True)
class DesiredSpace:
    """A customer space (CustSpaceId) and the numbers it must have, keyed by E.164."""

    id: str
    numbers: Mapping[str, DesiredNumber]
    source: Location
    label: str | None = None
    isv_code: str | None = None
    waba: DesiredWaba | None = None


@dataclass(frozen=True)
class Desired:
    """Everything the manifests declare, keyed by space id. Built only from error-free input."""

    spaces: Mapping[str, DesiredSpace]
    files: tuple[str, ...] = field(default=())
    acknowledgements: tuple[Acknowledgement, ...] = ()

    @property
    def number_count(self) -> int:
        return sum(len(space.numbers) for space in self.spaces.values())


def normalise_name(name: str) -> str:
    """The comparable form of a verified name: NFC-normalised and trimmed."""
    return unicodedata.normalize("NFC", name).strip()


# ---------------------------------------------------------------------------------------------
# Schema errors, in the user's words

_YAML_KIND = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
              list: "a list", dict: "a mapping", type(None): "empty (null)"}
_JSON_KIND = {"string": "a string", "array": "a list", "object": "a mapping",
              "integer": "a whole number", "number": "a number", "boolean": "true or false"}
# Keys whose values are identifiers written in digits (or, for ``actual``, may be): YAML turns
# them into numbers unless quoted.
_DIGIT_KEYS = {"id", "phone", "space", "actual"}
# The schema's patterns for ids written in digits, and for an acknowledgement's ``until``
# when it is written as a string.
_DIGITS_PATTERN = "^[0-9]+$"
_DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIERS_IN_ORDER = " < ".join(TIER_ORDER)


def _kind(value: object) -> str:
    if isinstance(value, dt.datetime):
        return "a date and time"
    if isinstance(value, dt.date):
        return "a date"
    return _YAML_KIND.get(type(value), type(value).__name__)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    by_folded = {choice.casefold(): choice for choice in sorted(choices)}
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean '{by_folded[close[0]]}'?" if close else ""


@cache
def _manifest_validator() -> Draft202012Validator:
    """The manifest schema's validator, with its ``$ref``s to ``$defs`` inlined.

    The same rules and the same errors (keyword, value, path, subschema), but each number of a
    100k-number manifest no longer pays for resolving two references: a quarter of the
    validation time. Falls back to the schema as written if it ever uses another reference.
    """
    schema = validator(MANIFEST_SCHEMA).schema
    defs = schema.get("$defs", {}) if isinstance(schema, Mapping) else {}
    try:
        inlined = inline_refs(schema, defs if isinstance(defs, Mapping) else {})
    except KeyError:
        return validator(MANIFEST_SCHEMA)
    assert isinstance(inlined, dict)
    return Draft202012Validator(inlined)


@cache
def _status_rule() -> tuple[re.Pattern[str], tuple[str, ...]]:
    """What a status must look like, and the documented statuses, as the schema publishes them
    (``$defs.statusList.items``: its ``pattern``, and its ``examples``)."""
    items = _schema_at(load_schema(MANIFEST_SCHEMA), "$defs", "statusList", "items")
    pattern, examples = items.get("pattern"), items.get("examples")
    assert isinstance(pattern, str) and isinstance(examples, list)
    return re.compile(pattern), tuple(str(status) for status in examples)


@cache
def _rating_rule() -> re.Pattern[str]:
    """What a quality rating must look like (``$defs.qualityRatings.items.pattern``); the
    documented ones are :data:`~reconciler.signals.QUALITY_RATINGS`, which the plan rules use."""
    pattern = _schema_at(load_schema(MANIFEST_SCHEMA), "$defs", "qualityRatings",
                         "items").get("pattern")
    assert isinstance(pattern, str)
    return re.compile(pattern)


def documented_statuses() -> tuple[str, ...]:
    """The statuses QueryChatappPhoneNumbers is documented to report, in the schema's order."""
    return _status_rule()[1]


def acknowledgeable_fields() -> tuple[str, ...]:
    """Every ``field`` an acknowledgement may name: the number's and the space's fields the
    plan compares, by the names its findings carry, and ``unmanaged``."""
    return (*ACK_FIELDS, *(f"profile.{name}" for name in DesiredProfile().fields()),
            *(f"waba.{f.name}" for f in dataclass_fields(DesiredWaba)))


def _schema_at(schema: Mapping[str, object], *keys: str) -> Mapping[str, object]:
    node: object = schema
    for key in keys:
        assert isinstance(node, Mapping), key
        node = node[key]
    assert isinstance(node, Mapping)
    return node


@cache
def _manifest_check() -> Check | None:
    """The yes-or-no check of the manifest validator's schema; None if it cannot be made."""
    try:
        return compile_check(_manifest_validator().schema)
    except (Unsupported, re.error):
        return None


def _schema_diagnostics(doc: LocatedDocument) -> Iterator[Diagnostic]:
    """The schema's errors in ``doc``, in the user's words, as jsonschema finds them."""
    check = _manifest_check()
    if check is not None and check(doc.value):
        return
    for err in _manifest_validator().iter_errors(doc.value):
        yield from _translate(doc, err)


def _translate(doc: LocatedDocument, err: ValidationError) -> Iterable[Diagnostic]:
    """One jsonschema error in the user's words: one diagnostic, or one per unknown key."""
    path: ValuePath = tuple(err.absolute_path)
    where = describe_path(path)
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    kind = err.validator
    if kind == "additionalProperties" and isinstance(err.instance, Mapping):
        return _unknown_keys(doc, path, schema, err.instance)
    here = doc.location(path)
    if kind == "required":
        missing = str(err.message).split("'")[1] if "'" in err.message else err.message
        if not path and missing == "version":
            return [error(here, "missing 'version: 1' at the top level; is this a camsctl "
                                "manifest?")]
        context = where if path else "the top level"
        return [error(here, f"missing required key '{missing}' in {context}")]
    if kind == "type":
        expected = err.validator_value
        names = [expected] if isinstance(expected, str) else \
            [str(e) for e in expected] if isinstance(expected, list) else [str(expected)]
        wanted = " or ".join(_JSON_KIND.get(name, name) for name in names)
        key = path[-1] if path else None
        source = doc.scalars.get(path)
        if key in _DIGIT_KEYS and isinstance(err.instance, int | float) and source is not None:
            hint = f'write {key}: "{source.text}" with quotes'
            if source.text.startswith("0") and source.text.isdigit() and len(source.text) > 1:
                hint += (f" (YAML reads an unquoted {source.text} as the octal number "
                         f"{err.instance})")
            elif source.text.startswith("+"):
                hint += " (YAML reads an unquoted +... as a number and drops the '+')"
            return [error(here, f"{where} must be a string; {hint}")]
        return [error(here, f"{where} must be {wanted}, not {_kind(err.instance)}")]
    if kind == "const" and path == ("version",):
        return [error(here, f"unsupported manifest version {err.instance!r}: this camsctl "
                            f"reads version {SUPPORTED_VERSION}")]
    if kind == "enum":
        enum_values = err.validator_value
        choices = [str(c) for c in enum_values] if isinstance(enum_values, list) \
            else [str(enum_values)]
        hint = _did_you_mean(str(err.instance), choices) if isinstance(err.instance, str) else ""
        source = doc.scalars.get(path)
        written = repr(err.instance) if isinstance(err.instance, str) or source is None \
            else repr(source.text)
        key = path[-1] if path else None
        if key == "messaging_limit_tier":
            # A minimum needs an order: a tier camsctl cannot place in it could never be
            # compared, so unlike an undocumented status it is an error.
            return [error(here, f"{where}: {written} is not a tier camsctl can order; a "
                                f"minimum is one of {_TIERS_IN_ORDER}{hint}")]
        if key == "field" and path[:1] == ("acknowledgements",):
            return [error(here, f"{where}: {written} is not a field an acknowledgement can "
                                f"name: {', '.join(ACK_FIELDS)}, profile.<name> or "
                                f"waba.<name>{hint}")]
        return [error(here, f"{where}: {err.instance!r} is not one of "
                            f"{', '.join(choices)}{hint}")]
    if kind == "pattern":
        if len(path) >= 2 and path[-2] == "status":
            documented = documented_statuses()
            return [error(here, f"{where}: {err.instance!r} is not a status: statuses are "
                                "capital letters and underscores, like CONNECTED"
                                f"{_did_you_mean(str(err.instance), documented)}")]
        if len(path) >= 2 and path[-2] == "quality_rating":
            return [error(here, f"{where}: {err.instance!r} is not a quality rating: "
                                "ratings are capital letters and underscores, like GREEN"
                                f"{_did_you_mean(str(err.instance), QUALITY_RATINGS)}")]
        if err.validator_value == _DIGITS_PATTERN:
            return [error(here, f"{where} must be digits only, got {err.instance!r}")]
        if err.validator_value == _DATE_PATTERN:
            return [error(here, f"{where} must be a date written YYYY-MM-DD, like 2026-12-31, "
                                f"not {err.instance!r}")]
        return [error(here, f"{where} must not be empty or blank")]
    if kind == "minLength":
        return [error(here, f"{where} must not be empty")]
    if kind == "minItems":
        return [error(here, f"{where} must list at least one value")]
    if kind == "uniqueItems":
        return [error(here, f"{where} lists the same value twice")]
    return [error(here, f"{where}: {err.message}")]


def _unknown_keys(doc: LocatedDocument, path: ValuePath, schema: Mapping[str, object],
                  mapping: Mapping[str, object]) -> Iterator[Diagnostic]:
    """An error per key of ``mapping`` that the schema does not allow, one at a time: a
    hostile mapping may have a million."""
    properties = schema.get("properties", {})
    allowed = set(properties) if isinstance(properties, Mapping) else set()
    patterns = schema.get("patternProperties", {})
    compiled = [re.compile(p) for p in patterns] if isinstance(patterns, Mapping) else []
    context = f" in {describe_path(path)}" if path else ""
    for key in mapping:
        if key in allowed or any(p.search(key) for p in compiled):
            continue
        yield error(doc.key_location((*path, key)),
                    f"unknown key '{key}'{context}{_did_you_mean(key, allowed)}")


# ---------------------------------------------------------------------------------------------
# Free text: every string shown to people or sent to the API, held to one character rule
# (reconciler.characters.text_problem). Each entry is a key path below a space, a number or an
# acknowledgement whose value is a string, or a list of strings. Ids, statuses and other
# enums are not here: the schema allows them only digits, or capitals and underscores.

_SPACE_TEXT: tuple[tuple[str, ...], ...] = (("label",), ("isv_code",), ("waba", "name"))
_NUMBER_TEXT: tuple[tuple[str, ...], ...] = (
    ("phone",), ("verified_name",),
    *(("profile", name) for name in ("about", "email", "websites", "vertical", "address",
                                     "description", "profile_picture_url")))
_ACK_TEXT: tuple[tuple[str, ...], ...] = (("phone",), ("actual",), ("reason",), ("owner",))
# Free text that must show something: blank with whitespace only is the schema's error, blank
# with invisible characters this module's.
_SHOWN_TEXT = frozenset({("verified_name",), ("reason",), ("owner",)})


def _text_at(raw: Mapping[str, object], keys: tuple[str, ...]) -> object:
    value: object = raw
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


# ---------------------------------------------------------------------------------------------
# Building the desired state


@dataclass(frozen=True)
class _OpenEnum:
    """Values the vendor documents, of which another well-formed one is a warning, not an error
    (its pages disagree on the lists)."""

    what: str
    documented: tuple[str, ...]
    well_formed: re.Pattern[str]
    accepted: str


@cache
def _statuses_enum() -> _OpenEnum:
    well_formed, documented = _status_rule()
    return _OpenEnum("status", documented, well_formed,
                     "it is accepted, and compared with the live status as written")


@cache
def _ratings_enum() -> _OpenEnum:
    return _OpenEnum("quality rating", QUALITY_RATINGS, _rating_rule(), "it is accepted as written")


@dataclass(frozen=True)
class _Expectations:
    """What a file's ``defaults`` say of its numbers; each number may override each one."""

    statuses: frozenset[str] = DEFAULT_STATUSES
    quality_ratings: frozenset[str] | None = None
    min_tier: str | None = None


@dataclass(frozen=True)
class _WrittenAck:
    """An acknowledgement as written, read once every space and number of the run is known."""

    doc: LocatedDocument
    path: ValuePath
    raw: Mapping[str, object]


# What makes two acknowledgements the same: space, E.164 number or None, field, actual value.
_AckKey = tuple[str, str | None, str, str | None]


@dataclass
class _Builder:
    today: dt.date
    diagnostics: Collected = field(default_factory=Collected)
    spaces: dict[str, DesiredSpace] = field(default_factory=dict)
    space_sources: dict[str, Location] = field(default_factory=dict)
    # E.164 → (space id, where declared): a number can live in one WABA only.
    numbers: dict[str, tuple[str, Location]] = field(default_factory=dict)
    # Written number → what parse_phone gives it, parsed ahead for many numbers at once.
    phones: Mapping[str, PhoneNumber | PhoneNumberError] = field(default_factory=dict)
    # Where an undocumented status or rating was warned about: numbers that share one through
    # an anchor get one warning, at the anchor.
    warned: set[Location] = field(default_factory=set)
    written_acks: list[_WrittenAck] = field(default_factory=list)
    acknowledgements: list[Acknowledgement] = field(default_factory=list)

    def add_document(self, doc: LocatedDocument) -> None:
        root = doc.value
        if not isinstance(root, Mapping):
            self.diagnostics.add(error(doc.location(()), "a manifest is a mapping with "
                                       "'version' and 'spaces'; this file holds "
                                       f"{_kind(root)}"))
            return
        schema_errors = 0
        for problem in _schema_diagnostics(doc):
            self.diagnostics.add(problem)
            schema_errors += 1
        expected = _Expectations()
        defaults = root.get("defaults")
        if isinstance(defaults, Mapping):
            expected = self._expectations(doc, ("defaults",), defaults, expected)
        acknowledgements = root.get("acknowledgements")
        if isinstance(acknowledgements, list):
            self.written_acks.extend(
                _WrittenAck(doc, ("acknowledgements", index), raw)
                for index, raw in enumerate(acknowledgements) if isinstance(raw, Mapping))
        spaces = root.get("spaces")
        if not isinstance(spaces, list):
            return
        for index, raw in enumerate(spaces):
            if isinstance(raw, Mapping):
                self._add_space(doc, ("spaces", index), raw, expected, clean=not schema_errors)

    def _expectations(self, doc: LocatedDocument, path: ValuePath, raw: Mapping[str, object],
                      inherited: _Expectations) -> _Expectations:
        """The expectations ``raw`` (defaults or a number) sets, over ``inherited``; a warning
        for each undocumented status or rating in it."""
        statuses, ratings = raw.get("status"), raw.get("quality_rating")
        tier = raw.get("messaging_limit_tier")
        if statuses is None and ratings is None and tier is None:
            return inherited  # most numbers: nothing more to make, for 100k of them
        self._undocumented(doc, (*path, "status"), statuses, _statuses_enum())
        self._undocumented(doc, (*path, "quality_rating"), ratings, _ratings_enum())
        return _Expectations(
            statuses=_statuses(statuses) or inherited.statuses,
            quality_ratings=_statuses(ratings) or inherited.quality_ratings,
            min_tier=tier if isinstance(tier, str) and tier in TIER_ORDER
            else inherited.min_tier)

    def _add_space(self, doc: LocatedDocument, path: ValuePath, raw: Mapping[str, object],
                   expected: _Expectations, clean: bool) -> None:
        self._free_text(doc, path, raw, _SPACE_TEXT)
        space_id = raw.get("id")
        if not isinstance(space_id, str):
            return
        source = doc.location((*path, "id"))
        first = self.space_sources.get(space_id)
        if first is not None:
            self.diagnostics.add(error(source, f"space {space_id} is already declared at "
                                       f"{first.short}; declare each space in one file, "
                                       "once"))
            return
        self.space_sources[space_id] = source
        numbers: dict[str, DesiredNumber] = {}
        raw_numbers = raw.get("numbers")
        for index, raw_number in enumerate(raw_numbers if isinstance(raw_numbers, list) else []):
            if isinstance(raw_number, Mapping):
                number = self._number(doc, (*path, "numbers", index), raw_number, space_id,
                                      expected)
                if number is not None:
                    numbers[number.phone.e164] = number
        if not clean:
            return  # the file has errors: report them all, but build nothing from it
        waba = raw.get("waba")
        self.spaces[space_id] = DesiredSpace(
            id=space_id,
            numbers=MappingProxyType(dict(sorted(numbers.items()))),
            source=source,
            label=_opt_str(raw.get("label")),
            isv_code=_opt_str(raw.get("isv_code")),
            waba=DesiredWaba(id=_opt_str(waba.get("id")), name=_opt_str(waba.get("name")),
                             review_status=_opt_str(waba.get("review_status")))
            if isinstance(waba, Mapping) else None,
        )

    def _number(self, doc: LocatedDocument, path: ValuePath, raw: Mapping[str, object],
                space_id: str, file_expected: _Expectations) -> DesiredNumber | None:
        expected = self._expectations(doc, path, raw, file_expected)
        refused = self._free_text(doc, path, raw, _NUMBER_TEXT)
        written = raw.get("phone")
        if not isinstance(written, str) or ("phone",) in refused:
            return None  # a number that cannot be read cannot be parsed, nor compared
        where = doc.location((*path, "phone"))
        phone = self._parse_phone(written, where)
        if phone is None:
            return None
        if not phone.valid:
            self.diagnostics.add(warning(
                where, f"{phone.e164} is a possible number but libphonenumber does not know it "
                       "as assigned in its country's numbering plan; check it"))
        first = self.numbers.get(phone.e164)
        if first is not None:
            other_space, other_where = first
            scope = "in this space" if other_space == space_id else f"in space {other_space}"
            self.diagnostics.add(error(where, f"{phone.e164} is already declared {scope} at "
                                       f"{other_where.short}; a number can belong to one "
                                       "space only, once"))
            return None
        self.numbers[phone.e164] = (space_id, where)
        name = raw.get("verified_name")
        verified_name = normalise_name(name) if isinstance(name, str) else ""
        if not verified_name or ("verified_name",) in refused:
            return None
        profile = raw.get("profile")
        return DesiredNumber(
            phone=phone,
            verified_name=verified_name,
            statuses=expected.statuses,
            source=doc.location(path),
            profile=_profile(profile) if isinstance(profile, Mapping) else None,
            quality_ratings=expected.quality_ratings,
            min_tier=expected.min_tier,
        )

    def _parse_phone(self, written: str, where: Location) -> PhoneNumber | None:
        """The number ``written`` says (parsed ahead or now), or None after an error."""
        known = self.phones.get(written)
        if known is None:
            try:
                known = parse_phone(written)
            except PhoneNumberError as exc:
                known = exc
        if isinstance(known, PhoneNumberError):
            self.diagnostics.add(error(where, str(known)))
            return None
        return known

    def _free_text(self, doc: LocatedDocument, path: ValuePath, raw: Mapping[str, object],
                   fields: tuple[tuple[str, ...], ...]) -> set[tuple[str, ...]]:
        """An error for each free-text field of ``raw`` that holds a refused character, or,
        for text that must show something, only invisible ones; returns the fields in error."""
        refused: set[tuple[str, ...]] = set()
        for keys in fields:
            value = _text_at(raw, keys)
            texts = enumerate(value) if isinstance(value, list) else [(None, value)]
            for index, text in texts:
                if not isinstance(text, str):
                    continue  # not text: the schema says so
                at = (*path, *keys) if index is None else (*path, *keys, index)
                problem = text_problem(text)
                if problem is not None:
                    message = f"{describe_path(at)}: {problem}"
                elif keys in _SHOWN_TEXT and text.strip() and is_blank(text):
                    # (Blank with whitespace only is the schema's error already.)
                    message = (f"{describe_path(at)} must not be empty or blank: it holds "
                               f"only invisible characters ({invisible_summary(text)})")
                else:
                    continue
                self.diagnostics.add(error(doc.location(at), message))
                refused.add(keys)
        return refused

    def _undocumented(self, doc: LocatedDocument, path: ValuePath, value: object,
                      enum: _OpenEnum) -> None:
        """A warning for each well-formed value of ``enum`` the vendor does not document (its
        pages disagree: some show OFFLINE or PAUSED); a malformed one is the schema's error."""
        if not isinstance(value, list):
            return
        for index, item in enumerate(value):
            if not isinstance(item, str) or item in enum.documented \
                    or not enum.well_formed.search(item):
                continue
            where = doc.location((*path, index))
            if where in self.warned:
                continue
            self.warned.add(where)
            self.diagnostics.add(warning(
                where, f"'{item}' is not a documented {enum.what} "
                       f"({', '.join(enum.documented)}): {enum.accepted}"
                       f"{_did_you_mean(item, enum.documented)}"))

    # --- acknowledgements, once every space and number of the run is known

    def add_acknowledgements(self) -> None:
        """Check each acknowledgement written in the run against the declared spaces and
        numbers and the date of the run; keep the sound ones."""
        seen: dict[_AckKey, Location] = {}
        for written in self.written_acks:
            problems: list[Diagnostic] = []
            identity = self._ack_identity(written, problems)
            until = self._until(written, problems)
            source = written.doc.location(written.path)
            first = seen.get(identity) if identity is not None else None
            if identity is not None and first is not None:
                space_id, phone, field_name, actual = identity
                what = f"{field_name} of {phone or 'every number'} in space {space_id}" \
                    + (f", actual {actual!r}" if actual is not None else "")
                where = "listed again by an alias" if first == source \
                    else f"already written at {first.short}"
                problems.append(error(source, f"the same acknowledgement ({what}) is "
                                      f"{where}; keep one"))
            elif identity is not None:
                seen[identity] = source
            self.diagnostics.extend(problems)
            raw = written.raw
            reason, owner = raw.get("reason"), raw.get("owner")
            if identity is None or until is None or problems or not isinstance(reason, str) \
                    or not isinstance(owner, str):
                continue  # the schema or the checks above have said why
            space_id, phone, field_name, actual = identity
            self.acknowledgements.append(Acknowledgement(
                space_id=space_id, phone=phone, field=field_name, actual=actual,
                reason=reason, owner=owner, until=until, source=source))

    def _ack_identity(self, written: _WrittenAck, problems: list[Diagnostic]) \
            -> _AckKey | None:
        """What the acknowledgement is about (space, E.164 number or None, field, actual), or
        None when a part of it is not sound; a problem for each such part the schema does
        not report."""
        doc, path, raw = written.doc, written.path, written.raw
        refused = self._free_text(doc, path, raw, _ACK_TEXT)
        written_space, field_name, actual = raw.get("space"), raw.get("field"), raw.get("actual")
        space_id = written_space if isinstance(written_space, str) \
            and written_space in self.space_sources else None
        # Not digits is the schema's error; digits as its pattern reads them (which lets a
        # final line break through) this module's.
        if space_id is None and isinstance(written_space, str) \
                and re.search(_DIGITS_PATTERN, written_space):
            shown = written_space if written_space.isdigit() else repr(written_space)
            problems.append(error(doc.location((*path, "space")),
                                  f"space {shown} is not declared in the manifests of this "
                                  "run; an acknowledgement is about a declared space"
                                  f"{_did_you_mean(written_space, self.space_sources)}"))
        known = field_name if isinstance(field_name, str) \
            and field_name in acknowledgeable_fields() else None
        if known == "unmanaged" and "actual" in raw:
            problems.append(error(doc.location((*path, "actual")),
                                  "actual cannot be given with field unmanaged: an unmanaged "
                                  "number has no value to match; remove it"))
        phone_ok, phone = self._ack_phone(written, space_id, known, refused, problems)
        if space_id is None or known is None or not phone_ok \
                or (actual is not None and not isinstance(actual, str)) or refused:
            return None
        return space_id, phone, known, actual

    def _ack_phone(self, written: _WrittenAck, space_id: str | None, field_name: str | None,
                   refused: set[tuple[str, ...]], problems: list[Diagnostic]) \
            -> tuple[bool, str | None]:
        """Whether the acknowledgement's ``phone`` is sound, and its number as E.164 (None
        when it names none: every number of the space). Unsound when it cannot be read or
        does not fit the space and the field."""
        doc, path = written.doc, (*written.path, "phone")
        written_phone = written.raw.get("phone")
        if written_phone is None:
            return True, None
        if not isinstance(written_phone, str) or not written_phone or ("phone",) in refused:
            return False, None  # the schema or the character rule has said why
        where = doc.location(path)
        if field_name is not None and field_name.startswith("waba."):
            problems.append(error(where, f"{field_name} is a field of the space's WhatsApp "
                                  "Business Account, not of a number: remove phone"))
            return False, None
        before = len(problems)
        phone = self._parse_phone(written_phone, where)
        if phone is None:
            return False, None
        if space_id is None or field_name is None:
            return True, phone.e164
        declared = self.numbers.get(phone.e164)
        if field_name == "unmanaged":
            if declared is not None and declared[0] == space_id:
                problems.append(error(where, f"{phone.e164} is declared in space {space_id} "
                                      f"at {declared[1].short}, so it is never unmanaged: "
                                      "acknowledge one of its fields, or remove phone"))
        elif declared is None or declared[0] != space_id:
            elsewhere = f" (it is declared in space {declared[0]} at {declared[1].short})" \
                if declared is not None else ""
            problems.append(error(where, f"{phone.e164} is not declared in space {space_id}"
                                  f"{elsewhere}; an acknowledgement of {field_name} is about a "
                                  "declared number (a live number the manifests do not "
                                  "declare is acknowledged with field: unmanaged)"))
        return len(problems) == before, phone.e164

    def _until(self, written: _WrittenAck, problems: list[Diagnostic]) -> dt.date | None:
        """The acknowledgement's last day: a YAML date, or a string the schema has checked
        is written YYYY-MM-DD; None after a problem. A day in the past is no problem: the
        plan says the acknowledgement expired, and counts the finding again."""
        doc, path = written.doc, (*written.path, "until")
        value = written.raw.get("until")
        where = doc.location(path)
        until: dt.date | None = None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            until = value
        elif isinstance(value, str):
            if re.search(_DATE_PATTERN, value) is None:
                return None  # the schema's error
            if re.fullmatch(_DATE_PATTERN, value) is None:
                # The schema's pattern lets a final line break through ('$', as Python reads
                # it): this module must say so itself.
                problems.append(error(where, f"{describe_path(path)} must be a date written "
                                      f"YYYY-MM-DD, like 2026-12-31, not {value!r}"))
                return None
            try:
                until = dt.date.fromisoformat(value)
            except ValueError:
                problems.append(error(where, f"{describe_path(path)}: {value!r} is not a day "
                                      "of the calendar"))
                return None
        elif "until" in written.raw:
            # JSON Schema has no dates, so the schema cannot say this one.
            problems.append(error(where, f"{describe_path(path)} must be a date written "
                                  f"YYYY-MM-DD, like 2026-12-31, not {_kind(value)}"))
            return None
        else:
            return None  # missing: the schema's error
        ahead = (until - self.today).days
        if ahead > MAX_ACK_DAYS:
            latest = self.today + dt.timedelta(days=MAX_ACK_DAYS)
            problems.append(error(where, f"{describe_path(path)} {until.isoformat()} is "
                                  f"{ahead} days after the date of this run "
                                  f"({self.today.isoformat()}); an acknowledgement lasts at "
                                  f"most {MAX_ACK_DAYS} days: {latest.isoformat()} at the "
                                  "latest"))
            return None
        return until


def _statuses(value: object) -> frozenset[str] | None:
    """A non-empty list of names (statuses, ratings) as a set; None for anything else (the
    schema says why)."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return frozenset(str(v) for v in value)
    return None


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _profile(raw: Mapping[str, object]) -> DesiredProfile:
    websites = raw.get("websites")
    return DesiredProfile(
        about=_opt_str(raw.get("about")),
        email=_opt_str(raw.get("email")),
        websites=tuple(str(w) for w in websites) if isinstance(websites, list) else None,
        vertical=_opt_str(raw.get("vertical")),
        address=_opt_str(raw.get("address")),
        description=_opt_str(raw.get("description")),
        profile_picture_url=_opt_str(raw.get("profile_picture_url")),
    )


def written_phones(documents: Sequence[LocatedDocument]) -> Iterable[str]:
    """Every ``phone`` string the documents write where a number may be read from."""
    for doc in documents:
        root = doc.value
        spaces = root.get("spaces") if isinstance(root, Mapping) else None
        for raw in spaces if isinstance(spaces, list) else []:
            numbers = raw.get("numbers") if isinstance(raw, Mapping) else None
            for raw_number in numbers if isinstance(numbers, list) else []:
                written = raw_number.get("phone") if isinstance(raw_number, Mapping) else None
                if isinstance(written, str):
                    yield written


def build_desired(documents: Sequence[LocatedDocument],
                  phones: Mapping[str, PhoneNumber | PhoneNumberError] | None = None, *,
                  today: dt.date) -> tuple[Desired | None, list[Diagnostic]]:
    """The desired state of ``documents`` (in order), or None when any of them has an error.

    Returns every diagnostic of every document either way, errors and warnings alike, up to
    :data:`~reconciler.diagnostics.MAX_PER_FILE` per file (the others are counted in one).
    ``phones`` may hold numbers already parsed (written text -> what ``parse_phone`` gives it,
    see :mod:`reconciler.phoneprefetch`); the rest are parsed here. It changes no result.
    ``today`` is the date of the run: an acknowledgement may last at most
    :data:`~reconciler.signals.MAX_ACK_DAYS` days after it.
    """
    builder = _Builder(today=today, phones=phones or {})
    for doc in documents:
        builder.add_document(doc)
    builder.add_acknowledgements()
    if builder.diagnostics.has_errors:
        return None, builder.diagnostics.result()
    spaces = MappingProxyType(dict(sorted(builder.spaces.items())))
    return Desired(spaces=spaces, files=tuple(doc.file for doc in documents),
                   acknowledgements=tuple(builder.acknowledgements)), \
        builder.diagnostics.result()
