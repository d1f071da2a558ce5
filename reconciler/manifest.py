"""The desired state: what the manifests declare, as frozen values, and the rules that make it.

``build_desired`` is a pure function from parsed documents (see :mod:`reconciler.yamlsource`) to
:class:`Desired` plus every located :class:`~reconciler.diagnostics.Diagnostic`. The structural
rules (keys, types, enums) live in ``schemas/manifest.schema.json`` and are only translated into
friendly messages here; the rules a schema cannot say (number parsing, duplicates across files,
one space per file) live in this module.
"""

from __future__ import annotations

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
from reconciler.signals import Acknowledgement
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
# Keys whose values are identifiers written in digits: YAML turns them into numbers unless quoted.
_DIGIT_KEYS = {"id", "phone"}


def _kind(value: object) -> str:
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


def documented_statuses() -> tuple[str, ...]:
    """The statuses QueryChatappPhoneNumbers is documented to report, in the schema's order."""
    return _status_rule()[1]


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
        return [error(here, f"{where}: {err.instance!r} is not one of "
                            f"{', '.join(choices)}{hint}")]
    if kind == "pattern":
        if len(path) >= 2 and path[-2] == "status":
            documented = documented_statuses()
            return [error(here, f"{where}: {err.instance!r} is not a status: statuses are "
                                "capital letters and underscores, like CONNECTED"
                                f"{_did_you_mean(str(err.instance), documented)}")]
        if err.validator_value == "^[0-9]+$":
            return [error(here, f"{where} must be digits only, got {err.instance!r}")]
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
# (reconciler.characters.text_problem). Each entry is a key path below a space or a number whose
# value is a string, or a list of strings. Ids and statuses are not here: the schema allows
# them only digits, or capitals and underscores.

_SPACE_TEXT: tuple[tuple[str, ...], ...] = (("label",), ("isv_code",), ("waba", "name"))
_NUMBER_TEXT: tuple[tuple[str, ...], ...] = (
    ("phone",), ("verified_name",),
    *(("profile", name) for name in ("about", "email", "websites", "vertical", "address",
                                     "description", "profile_picture_url")))


def _text_at(raw: Mapping[str, object], keys: tuple[str, ...]) -> object:
    value: object = raw
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


# ---------------------------------------------------------------------------------------------
# Building the desired state


@dataclass
class _Builder:
    diagnostics: Collected = field(default_factory=Collected)
    spaces: dict[str, DesiredSpace] = field(default_factory=dict)
    space_sources: dict[str, Location] = field(default_factory=dict)
    # E.164 → (space id, where declared): a number can live in one WABA only.
    numbers: dict[str, tuple[str, Location]] = field(default_factory=dict)
    # Written number → what parse_phone gives it, parsed ahead for many numbers at once.
    phones: Mapping[str, PhoneNumber | PhoneNumberError] = field(default_factory=dict)
    # Where an undocumented status was warned about: numbers that share one through an anchor
    # get one warning, at the anchor.
    status_warned: set[Location] = field(default_factory=set)

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
        file_statuses = DEFAULT_STATUSES
        defaults = root.get("defaults")
        if isinstance(defaults, Mapping):
            self._undocumented_statuses(doc, ("defaults", "status"), defaults.get("status"))
            file_statuses = _statuses(defaults.get("status")) or file_statuses
        spaces = root.get("spaces")
        if not isinstance(spaces, list):
            return
        for index, raw in enumerate(spaces):
            if isinstance(raw, Mapping):
                self._add_space(doc, ("spaces", index), raw, file_statuses,
                                clean=not schema_errors)

    def _add_space(self, doc: LocatedDocument, path: ValuePath, raw: Mapping[str, object],
                   file_statuses: frozenset[str], clean: bool) -> None:
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
                                      file_statuses)
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
                space_id: str, file_statuses: frozenset[str]) -> DesiredNumber | None:
        self._undocumented_statuses(doc, (*path, "status"), raw.get("status"))
        refused = self._free_text(doc, path, raw, _NUMBER_TEXT)
        written = raw.get("phone")
        if not isinstance(written, str) or ("phone",) in refused:
            return None  # a number that cannot be read cannot be parsed, nor compared
        where = doc.location((*path, "phone"))
        known = self.phones.get(written)
        if isinstance(known, PhoneNumberError):
            self.diagnostics.add(error(where, str(known)))
            return None
        if known is None:
            try:
                known = parse_phone(written)
            except PhoneNumberError as exc:
                self.diagnostics.add(error(where, str(exc)))
                return None
        phone = known
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
        statuses = raw.get("status")
        profile = raw.get("profile")
        return DesiredNumber(
            phone=phone,
            verified_name=verified_name,
            statuses=_statuses(statuses) or file_statuses,
            source=doc.location(path),
            profile=_profile(profile) if isinstance(profile, Mapping) else None,
        )

    def _free_text(self, doc: LocatedDocument, path: ValuePath, raw: Mapping[str, object],
                   fields: tuple[tuple[str, ...], ...]) -> set[tuple[str, ...]]:
        """An error for each free-text field of ``raw`` that holds a refused character, or,
        for a verified name, only invisible ones; returns the fields in error."""
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
                elif keys == ("verified_name",) and text.strip() and is_blank(text):
                    # (Blank with whitespace only is the schema's error already.)
                    message = (f"{describe_path(at)} must not be empty or blank: it holds "
                               f"only invisible characters ({invisible_summary(text)})")
                else:
                    continue
                self.diagnostics.add(error(doc.location(at), message))
                refused.add(keys)
        return refused

    def _undocumented_statuses(self, doc: LocatedDocument, path: ValuePath,
                               value: object) -> None:
        """A warning for each well-formed status the vendor does not document (its pages
        disagree: some show OFFLINE or PAUSED); a malformed one is the schema's error."""
        if not isinstance(value, list):
            return
        well_formed, documented = _status_rule()
        for index, status in enumerate(value):
            if not isinstance(status, str) or status in documented \
                    or not well_formed.search(status):
                continue
            where = doc.location((*path, index))
            if where in self.status_warned:
                continue
            self.status_warned.add(where)
            self.diagnostics.add(warning(
                where, f"'{status}' is not a documented status ({', '.join(documented)}): it "
                       "is accepted, and compared with the live status as written"
                       f"{_did_you_mean(status, documented)}"))


def _statuses(value: object) -> frozenset[str] | None:
    """A non-empty list of status names as a set; None for anything else (the schema says why)."""
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
                  phones: Mapping[str, PhoneNumber | PhoneNumberError] | None = None
                  ) -> tuple[Desired | None, list[Diagnostic]]:
    """The desired state of ``documents`` (in order), or None when any of them has an error.

    Returns every diagnostic of every document either way, errors and warnings alike, up to
    :data:`~reconciler.diagnostics.MAX_PER_FILE` per file (the others are counted in one).
    ``phones`` may hold numbers already parsed (written text -> what ``parse_phone`` gives it,
    see :mod:`reconciler.phoneprefetch`); the rest are parsed here. It changes no result.
    """
    builder = _Builder(phones=phones or {})
    for doc in documents:
        builder.add_document(doc)
    if builder.diagnostics.has_errors:
        return None, builder.diagnostics.result()
    spaces = MappingProxyType(dict(sorted(builder.spaces.items())))
    return Desired(spaces=spaces, files=tuple(doc.file for doc in documents)), \
        builder.diagnostics.result()
