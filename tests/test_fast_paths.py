"""The loader's fast paths give exactly what their slow paths give, on generated input.

A fast path re-implements something correctness-critical for speed, so each one kept is held
to its slow path here, on realistic manifests and on odd ones (anchors, aliases, merge keys,
tags, quoted and unquoted numbers, unicode, wrong types):

- YAML: ``parse_yaml`` (values built straight from the parser's events) against the composing
  reader it replaced (``yamloracle.py``: PyYAML's node graph, then values): the same values
  (types included), value and key locations, scalar sources, and the same errors in the same
  order.
- Schema: the yes-or-no check compiled from the manifest schema against jsonschema's
  ``Draft202012Validator``: a "yes" only where jsonschema finds no error, and the same
  diagnostics, in the same order, as jsonschema alone.
- Phones: numbers parsed by the loader's forked worker against ``parse_phone`` in process:
  every result the worker gives is ``parse_phone``'s own for that text, and ``load`` with the
  worker gives the same desired state and diagnostics as parsing one number at a time.

And ``load`` leaves the process as it found it: the garbage collector it pauses is restored
and the worker it forks is reaped, whether loading returns or raises.

Every test is derandomized (CI sees the same inputs every run) and bounded to a few seconds.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import phonenumbers
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from yamloracle import parse_composed

import reconciler.loader
import reconciler.phoneprefetch
import reconciler.yamlsource
from reconciler.diagnostics import Diagnostic
from reconciler.loader import load
from reconciler.manifest import (
    _manifest_check,
    _manifest_validator,
    _schema_diagnostics,
    _translate,
    build_desired,
)
from reconciler.phone import PhoneNumber, PhoneNumberError, parse_phone
from reconciler.phoneprefetch import PREFETCH_SHARE, PhonePrefetch, _can_fork
from reconciler.yamlsource import LocatedDocument, parse_yaml

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)

NAME = "generated.yaml"

SAME = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
"""Derandomized and without an example database: the same inputs on every run and machine."""

# --- generated manifests -----------------------------------------------------------------------

PHONES = ["+86 138 0000 1234", "+39 06 6988 1234", "+1 650 253 0000", "+44 20 7946 0018",
          "+86-139-0000-0001", "tel:+86-139-0000-0002", "+86 (139) 0000 0003", "+81 3-1234-5678",
          "+8613800001234", "8613800001234", "0123", "+86 12", "١٢٣", "+86 138 0000 1234 x5"]
IDS = ["293483938849493", "0123", "120000000000001", "1_000", "0x1F", "12e3", "abc", ""]
NAMES = ["Acme Retail", "Café é", "e\u0301", "\U0001f600 shop", "  padded  ", "yes", "null",
         "1.5", "2024-01-02", "O'Brien", 'say "hi"', "#hash", "a: b", "- dash", "\u202eevil",
         "\u00a0", "\\back", "multi\nline", "tab\there", ""]
STATUSES = ["CONNECTED", "PENDING", "FLAGGED", "RESTRICTED", "BOGUS", "connected"]
# Scalars as they may be written, including what YAML turns into something else than text.
SCALARS = ["1", "0", "-1", "0123", "0o17", "0x1F", "1_000", "1e3", "1.5", ".inf", "-.inf",
           ".nan", "~", "null", "Null", "", "yes", "no", "on", "off", "true", "False",
           "2024-01-02", "2001-12-14t21:59:43.10-05:00", "12:30:45", "190:20:30", "=", "<<",
           "+8613800001234", "8613800001234", "CONNECTED", "x-y", "é", "\U0001f600", "a b",
           "\u2028", "\ufeff", "\x85", "'", '"', "#", "!", "&", "*", "%", "@", "`", "- x",
           "a: b", "[1, 2]", "{a: 1}"]


def _double(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # JSON strings are YAML double-quoted ones


def _single(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@st.composite
def written(draw: st.DrawFn, text: str) -> str:
    """``text`` as a user may write it: plain (whatever YAML then makes of it) or quoted."""
    style = draw(st.sampled_from(["plain", "double", "single", "double"]))
    if style == "double" or "\n" in text:
        return _double(text)
    return _single(text) if style == "single" else text


@st.composite
def block_list(draw: st.DrawFn, indent: str, items: list[str]) -> str:
    """``items`` (already written) as a flow list on the line, or a block list below it."""
    if draw(st.booleans()):
        return " [" + ", ".join(items) + "]"
    return "".join(f"\n{indent}- {item}" for item in items) if items else " []"


@st.composite
def quoted(draw: st.DrawFn, text: str) -> str:
    return draw(st.sampled_from([_double(text), _single(text)]))


@st.composite
def manifest_text(draw: st.DrawFn) -> str:
    """A manifest written by hand in block style, mostly plain (what the fast path reads),
    sometimes with an anchor and merge key as the examples use them. Half of them are written
    carefully (valid, or nearly); the others take odd values anywhere (unquoted numbers,
    statuses out of the enum, blank names, stray keys)."""
    careful = draw(st.booleans())

    def pick(good: list[str], anything: list[str]) -> str:
        return draw(st.sampled_from(good if careful else anything))

    def status_list(indent: str) -> str:
        chosen = draw(st.lists(st.sampled_from(STATUSES[:4] if careful else STATUSES),
                               min_size=1 if careful else 0, max_size=3, unique=careful))
        return draw(block_list(indent, [draw(written(s)) for s in chosen]))

    lines = ["# generated"] if draw(st.booleans()) else []
    if careful or draw(st.integers(0, 9)):
        lines.append("version: " + pick(["1"], ["1", "2", '"1"', "1.0"]))
    shared = draw(st.integers(0, 3)) == 0
    if shared:
        lines += ["x-line: &line", "  verified_name: " + draw(written("Shared Name"))]
    if draw(st.booleans()):
        lines += ["defaults:", "  status:" + status_list("    ")]
    spaces = draw(st.integers(0, 3))
    lines.append("spaces:" + ("" if spaces else " []"))
    for _ in range(spaces):
        space_id = pick(IDS[:1], IDS)
        lines.append("  - id: " + draw(quoted(space_id) if careful else written(space_id)))
        if draw(st.booleans()):
            lines.append("    label: " + draw(written(pick(NAMES[:3], NAMES))))
        if draw(st.integers(0, 3)) == 0:
            lines += ["    waba:", '      id: "20393988393993"',
                      "      review_status: " + pick(["APPROVED"], ["APPROVED", "OK", "1"])]
        numbers = draw(st.integers(0, 5))
        lines.append("    numbers:" + (" []" if numbers == 0 else ""))
        for _ in range(numbers):
            phone = pick(PHONES[:8], PHONES)
            lines.append("      - phone: " + draw(quoted(phone) if careful else written(phone)))
            if shared and draw(st.booleans()):
                lines.append("        <<: *line")
            elif careful or draw(st.booleans()):
                lines.append("        verified_name: " + draw(written(pick(NAMES[:3], NAMES))))
            else:
                lines.append("        verified_name: " + _double(draw(st.text(max_size=12))))
            if draw(st.integers(0, 3)) == 0:
                lines.append("        status:" + status_list("          "))
            if draw(st.integers(0, 4)) == 0:
                lines += ["        profile:", "          about: " + draw(written("We sell")),
                          "          websites:" + draw(block_list(
                              "            ", ['"https://a.example"', "https://b.example"]))]
            if not careful and draw(st.integers(0, 9)) == 0:
                lines.append("        " + draw(st.sampled_from(["phone: dup", "x: 1", "? a",
                                                                 "nmbers: []", "1: one"])))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    return newline.join(lines) + newline


def _tree(leaves: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    keys = st.one_of(st.sampled_from(["version", "spaces", "id", "phone", "x-a", "<<", "1",
                                      "on", "é", ""]), st.text(max_size=6))
    return st.recursive(leaves, lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
        max_leaves=12)


LEAVES: st.SearchStrategy[object] = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
    st.sampled_from(SCALARS), st.text(max_size=10))


@st.composite
def dumped_tree(draw: st.DrawFn) -> str:
    """A random tree as PyYAML writes it, in random styles; a subtree used twice is written
    with an anchor and an alias."""
    tree = draw(_tree(LEAVES))
    if isinstance(tree, dict) and tree and draw(st.booleans()):
        shared = draw(_tree(LEAVES))
        for key in list(tree)[:2]:
            tree[key] = shared  # the same object twice: an anchor and an alias
    return yaml.safe_dump(
        tree, default_flow_style=draw(st.sampled_from([False, True, None])),
        default_style=draw(st.sampled_from([None, None, '"', "'"])),
        allow_unicode=draw(st.booleans()), sort_keys=draw(st.booleans()),
        explicit_start=draw(st.booleans()), explicit_end=draw(st.booleans()),
        indent=draw(st.sampled_from([2, 4])), width=draw(st.sampled_from([20, 80])))


FRAGMENTS = ["&a ", "*a", "&b [1, 2]", "<<: *a", "<<: [*a, *b]", "<<: {k: 1}", "!!str ",
             "!!int ", "!!float ", "!!map ", "!!seq ", "!custom ", "!!binary aGk=", "!!set ",
             "!!python/object:os.system ", "? ", ": ", "- ", "'", '"', "#", "|\n  x", ">-",
             "{", "}", "[", "]", ",", "\t", "0123", "+86 138", "é", "\U0001f600", "\u2028",
             "%YAML 1.1\n---", "---", "...", "\\", "\x00", "!custom {a: 1}", "!custom [1]",
             "!!map {a: 1}", "!!seq [1]", "!!set {a}", "!!omap [a: 1]", "!!str [1]"]


@st.composite
def odd_text(draw: st.DrawFn) -> str:
    """A manifest or a dumped tree, then a few fragments spliced in or lines duplicated."""
    text = draw(st.one_of(manifest_text(), dumped_tree()))
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        if draw(st.integers(0, 3)) == 0:
            lines.insert(at, lines[at])  # a duplicate key, a duplicate number
        else:
            cut = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:cut] + draw(st.sampled_from(FRAGMENTS)) + lines[at][cut:]
    return "\n".join(lines)


TAGS = ["!custom", "!!map", "!!seq", "!!set", "!!omap", "!!pairs", "!!str", "!!int", "!",
        "!<tag:yaml.org,2002:map>", "&a", "&a !!map"]
COLLECTIONS = ["{a: 1}", "[1, 2]", "\n  a: 1", "\n  - 1", "{}", "[]", "1", "a", '"1"']


@st.composite
def tagged_text(draw: st.DrawFn) -> str:
    """Plain mappings and lists, some of them tagged or anchored, for the event reader to
    leave to the general reader whenever a tag or an anchor could change what is read."""
    lines = []
    for index in range(draw(st.integers(1, 4))):
        tag = draw(st.sampled_from(["", "", *TAGS]))
        lines.append(f"k{index}: {tag} {draw(st.sampled_from(COLLECTIONS))}")
    if draw(st.booleans()):
        lines.append("alias: *a")
    root = draw(st.sampled_from(["", "", *TAGS[:3]]))
    return (f"{root}\n" if root else "") + "\n".join(lines) + "\n"


@st.composite
def plain_scalars(draw: st.DrawFn) -> str:
    """Plain scalars, each of which YAML may read as something else than text (``on``,
    ``0o17``, ``2024-01-02``, ``~``...), in a block mapping (under keys that may be such
    scalars too), a block list, or lists under keys."""
    values = draw(st.lists(st.one_of(
        st.sampled_from(SCALARS), st.from_regex(r"[-+.]?[0-9a-zA-Z_:.]{1,10}", fullmatch=True)),
        min_size=1, max_size=12))
    keys = draw(st.lists(st.sampled_from([*SCALARS[:30], "version", "phone", "id"]),
                         min_size=len(values), max_size=len(values), unique=True))
    shape = draw(st.sampled_from(["mapping", "list", "lists"]))
    if shape == "mapping":
        lines = [f"{key}: {value}" for key, value in zip(keys, values, strict=True)]
    elif shape == "list":
        lines = [f"- {value}" for value in values]
    else:
        lines = [f"{key}:\n  - {value}" for key, value in zip(keys, values, strict=True)]
    return "\n".join(lines) + "\n"


# --- YAML: the event reader against the composing reader ---------------------------------------


def _typed(value: object) -> object:
    """``value`` with every type made explicit (1, 1.0 and True differ; NaN equals NaN) and
    every mapping's order kept, for an exact comparison."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item) for item in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def _same_document(fast: LocatedDocument, slow: LocatedDocument) -> None:
    assert fast.file == slow.file
    assert _typed(fast.value) == _typed(slow.value)
    assert dict(fast.value_locations) == dict(slow.value_locations)
    assert dict(fast.key_locations) == dict(slow.key_locations)
    assert dict(fast.scalars) == dict(slow.scalars)
    # Lookups, not only iteration: every path the oracle has, and one it does not.
    for path, location in slow.value_locations.items():
        assert fast.value_locations[path] == location
        assert fast.scalars.get(path) == slow.scalars.get(path)
        assert fast.key_locations.get(path) == slow.key_locations.get(path)
    assert fast.value_locations.get(("no such key", 0)) is None


def _reads_alike(text: str) -> None:
    """Asserts that ``parse_yaml`` says what the composing reader it replaced says."""
    slow, slow_problems = parse_composed(NAME, text)
    document, problems = parse_yaml(NAME, text)
    event("read" if slow is not None else "refused")
    assert problems == slow_problems
    assert (document is None) == (slow is None)
    if document is not None and slow is not None:
        _same_document(document, slow)


@contextmanager
def _pure_python_parser() -> Iterator[None]:
    """Both readers on PyYAML's pure-Python parser, as on a system without libyaml."""
    with mock.patch.object(reconciler.yamlsource, "_Loader", yaml.SafeLoader):
        yield


@SAME
@given(manifest_text())
def test_yaml_readers_agree_on_manifests(text: str) -> None:
    _reads_alike(text)


@settings(SAME, max_examples=40)
@given(manifest_text())
def test_yaml_readers_agree_on_manifests_without_libyaml(text: str) -> None:
    with _pure_python_parser():
        _reads_alike(text)


@settings(SAME, max_examples=200)
@given(dumped_tree())
def test_yaml_readers_agree_on_any_tree(text: str) -> None:
    _reads_alike(text)


@settings(SAME, max_examples=250)
@given(odd_text())
def test_yaml_readers_agree_on_odd_text(text: str) -> None:
    _reads_alike(text)


@settings(SAME, max_examples=250)
@given(plain_scalars())
def test_yaml_readers_agree_on_plain_scalars(text: str) -> None:
    _reads_alike(text)


@settings(SAME, max_examples=150)
@given(tagged_text())
def test_yaml_readers_agree_on_tags_and_anchors(text: str) -> None:
    _reads_alike(text)


@settings(SAME, max_examples=100)
@given(st.text(alphabet="ab:-[]{}&*!<>|'\"#?,\n 01.+é", max_size=60))
def test_yaml_readers_agree_on_punctuation(text: str) -> None:
    _reads_alike(text)


# --- Schema: the yes-or-no check against jsonschema ----------------------------------------------

REPLACEMENTS: list[object] = [None, 0, 1, 1.0, 2, -1, 1.5, True, False, "", " ", "\u00a0", "1",
                              "0123", "+86", "é", "CONNECTED", "connected", "APPROVED", [], {},
                              ["CONNECTED"], ["CONNECTED", "CONNECTED"], [1, 1], [1.0, 1],
                              ["BOGUS"], [None], {"x": 1}, {"about": 1}, ["https://a.example"]]
EXTRA_KEYS = ["lable", "x-y", "x-", "X-y", "extra", "1", "", "é", "phone", "id", "status",
              "numbers", "verified_name", "version", "spaces", "defaults", "profile", "waba",
              "acknowledgements", "quality_rating", "messaging_limit_tier", "until", "space"]


@st.composite
def field(draw: st.DrawFn, careful: bool, good: list[object], bad: list[object]) -> object:
    """One of ``good``; unless ``careful``, one time in eight one of ``bad`` (or of any wrong
    type) instead."""
    if careful or draw(st.integers(0, 7)):
        return copy.deepcopy(draw(st.sampled_from(good)))
    return copy.deepcopy(draw(st.sampled_from(bad + REPLACEMENTS)))


@st.composite
def statuses(draw: st.DrawFn, careful: bool) -> object:
    return draw(field(careful, [draw(st.lists(st.sampled_from(STATUSES[:4]), min_size=1, max_size=3,
                                     unique=True))],
                      [["connected"], ["CONNECTED", "CONNECTED"], ["BOGUS"], [], ["UNKNOWN"]]))


@st.composite
def acknowledgement(draw: st.DrawFn, careful: bool) -> dict[str, object]:
    """An acknowledgement: ``until`` a YAML date (dumped unquoted) or a string."""
    ack: dict[str, object] = {
        "space": draw(field(careful, ["100", "999"], [100, "x", ""])),
        "field": draw(field(careful, ["status", "unmanaged", "profile.websites", "waba.id"],
                            ["profile.abut", "profile", "STATUS"])),
        "reason": draw(field(careful, ["Appeal open"], [" ", ""])),
        "owner": draw(field(careful, ["ops@acme.example"], ["", 1])),
        "until": draw(field(careful, [dt.date(2026, 12, 31), "2026-12-31"],
                            ["2026-1-1", 20261231, dt.datetime(2026, 1, 1, 10), None]))}
    if draw(st.booleans()):
        ack["phone"] = draw(field(careful, PHONES, ["", 8613800001234]))
    if draw(st.booleans()):
        ack["actual"] = draw(field(careful, ["FLAGGED", ""], [1, ["FLAGGED"]]))
    return ack


@st.composite
def manifest_value(draw: st.DrawFn) -> dict[str, object]:
    """A manifest as plain values: half of them valid, the others with a field now and then
    that is not (wrong types, blank names, ids that are not digits, statuses out of the enum
    or repeated, 1.0 or True where 1 is wanted) and structural mutations (unknown keys,
    missing keys)."""
    careful = draw(st.booleans())
    spaces: list[object] = []
    for s in range(draw(st.integers(0, 3))):
        numbers: list[object] = []
        for _ in range(draw(st.integers(0, 4))):
            number: dict[str, object] = {
                "phone": draw(field(careful, PHONES, ["", 8613800001234])),
                "verified_name": draw(field(careful, NAMES[:12], [*NAMES[12:], " ", "\t"]))}
            if draw(st.booleans()):
                number["status"] = draw(statuses(careful))
            if draw(st.integers(0, 3)) == 0:
                number["quality_rating"] = draw(field(careful, [["GREEN"], ["GREEN", "ORANGE"]],
                                                      [["green"], [], ["RED", "RED"], "RED"]))
            if draw(st.integers(0, 3)) == 0:
                number["messaging_limit_tier"] = draw(field(
                    careful, ["TIER_1K", "TIER_UNLIMITED"], ["TIER_10", "tier_1k", ["TIER_1K"]]))
            if draw(st.integers(0, 3)) == 0:
                number["profile"] = {
                    "about": draw(field(careful, ["hi", ""], [1])),
                    "websites": draw(field(careful, [["https://x.example"], []],
                                           [[1], "x", [None]])),
                    "vertical": "RETAIL"}
            numbers.append(number)
        space: dict[str, object] = {
            "id": draw(field(careful, [str(100 + s), "0123"], [*IDS[2:], " 1"])),
            "numbers": numbers}
        if draw(st.booleans()):
            space["label"] = draw(field(careful, [f"space {s}", " "], [""]))
        if draw(st.integers(0, 2)) == 0:
            space["waba"] = {
                "id": draw(field(careful, ["20393988393993"], ["2039 3988", "x"])),
                "name": draw(field(careful, ["W"], [""])),
                "review_status": draw(field(careful, ["APPROVED", "PENDING"], ["approved", "OK"]))}
        if draw(st.integers(0, 3)) == 0:
            space["isv_code"] = draw(field(careful, ["aksik93kdkkxmwol9"], [""]))
        spaces.append(space)
    doc: dict[str, object] = {"version": draw(field(careful, [1], [1.0, True, 2, "1"])),
                              "spaces": spaces}
    if draw(st.booleans()):
        doc["defaults"] = {"status": draw(statuses(careful))}
    if draw(st.integers(0, 2)) == 0:
        doc["acknowledgements"] = [draw(acknowledgement(careful))
                                   for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        doc["x-line"] = {"anything": [1, {"goes": None}]}
    for _ in range(0 if careful else draw(st.integers(0, 2))):
        _mutate(draw, doc)
    if careful and draw(st.booleans()):
        _near_miss(draw, doc)
    return doc


def _places(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _places(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _places(child, (*path, index))
    return found


def _mutate(draw: st.DrawFn, doc: dict[str, object]) -> None:
    places = [p for p in _places(doc) if p]
    if not places:
        return
    target = draw(st.sampled_from(places))
    parent: object = doc
    for step in target[:-1]:
        parent = parent[step]  # type: ignore[index]
    action = draw(st.integers(0, 3))
    if action == 0 and isinstance(parent, dict):
        del parent[target[-1]]
    elif action == 1 and isinstance(parent, dict):
        parent[draw(st.sampled_from(EXTRA_KEYS))] = copy.deepcopy(
            draw(st.sampled_from(REPLACEMENTS)))
    else:
        parent[target[-1]] = copy.deepcopy(  # type: ignore[index]
            draw(st.sampled_from(REPLACEMENTS)))


# Per key, values one step from valid: where a lenient check would say yes by mistake.
NEAR_MISSES: dict[str, list[object]] = {
    "version": [1.0, True, 2, "1", 0, None],
    "id": ["abc", "", " 1", "1 ", "0x1F", 123, "\u0661\u0662", "1\n"],
    "phone": ["", 8613800001234, None, ["+86"]],
    "verified_name": ["", " ", "\u00a0", "\t\n", 5, None, ["A"]],
    "status": [["connected"], ["CONNECTED", "CONNECTED"], [], ["BOGUS"], "CONNECTED", [1],
               [None], {"CONNECTED": 1}],
    "label": ["", 1, None], "isv_code": ["", 0], "name": ["", 2],
    "review_status": ["approved", "OK", 1, None],
    "about": [1, None, ["x"]], "email": [1], "websites": ["x", [1], [None], {"a": 1}],
    "vertical": [1, True], "numbers": [None, {}, "x", [1], [None]],
    "spaces": [None, {}, [1], "x"], "defaults": [[], "x", {"status": None}],
    "profile": [[], "x"], "waba": [[], "x"],
    "quality_rating": [["green"], [], ["RED", "RED"], "RED", [1]],
    "messaging_limit_tier": ["TIER_10", "tier_1k", ["TIER_1K"], 1000, None],
    "acknowledgements": [{}, "x", [1], [None]],
    "space": [100, "", "x"], "field": ["profile", "profile.abut", 1],
    "reason": ["", " ", 1], "owner": ["", None], "actual": [1, ["x"]],
    "until": ["2026-1-1", 20261231, None, ["2026-12-31"]],
}


def _near_miss(draw: st.DrawFn, doc: dict[str, object]) -> None:
    """One value of ``doc`` replaced with a value one step from valid, or one key added or
    removed."""
    by_kind: dict[str, list[tuple[object, ...]]] = {}
    for place in _places(doc):
        if place and (isinstance(place[-1], int) or place[-1] in NEAR_MISSES):
            kind = f"{place[-2]}[]" if isinstance(place[-1], int) else str(place[-1])
            by_kind.setdefault(kind, []).append(place)
    if not by_kind:
        return
    # Each kind of key equally likely, however many of it the document has.
    target = draw(st.sampled_from(by_kind[draw(st.sampled_from(sorted(by_kind)))]))
    parent: object = doc
    for step in target[:-1]:
        parent = parent[step]  # type: ignore[index]
    last = target[-1]
    if isinstance(last, int):  # an item of a list: statuses, websites, numbers, spaces
        wrong = draw(st.sampled_from(["connected", "BOGUS", 1, None, "", [], {}]))
    elif draw(st.integers(0, 4)) == 0 and isinstance(parent, dict):
        if draw(st.booleans()):
            del parent[last]  # a missing required key, or an optional one gone
            return
        last, wrong = draw(st.sampled_from(["lable", "x-y", "X-y", "extra", "Status"])), 1
    else:
        wrong = draw(st.sampled_from(NEAR_MISSES[str(last)]))
    parent[last] = copy.deepcopy(wrong)  # type: ignore[index]


def _schema_alike(doc: LocatedDocument) -> None:
    """Asserts the check says yes only where jsonschema finds nothing, and that the schema
    diagnostics are jsonschema's own, in its order."""
    check = _manifest_check()
    assert check is not None, "the manifest schema must compile to the fast check"
    errors = list(_manifest_validator().iter_errors(doc.value))
    expected: list[Diagnostic] = [d for err in errors for d in _translate(doc, err)]
    verdict = check(doc.value)
    event("check: yes" if verdict else "check: no, jsonschema: " +
          ("no error" if not errors else "errors"))
    if verdict:
        assert errors == [], [e.message for e in errors]
    assert list(_schema_diagnostics(doc)) == expected


@settings(SAME, max_examples=400)
@given(manifest_value())
def test_schema_check_agrees_with_jsonschema(value: dict[str, object]) -> None:
    text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
    document, problems = parse_yaml(NAME, text)  # real locations in the messages
    assert document is not None, problems
    _schema_alike(document)


@settings(SAME, max_examples=200)
@given(st.one_of(manifest_text(), odd_text()))
def test_schema_check_agrees_with_jsonschema_on_written_manifests(text: str) -> None:
    document, _ = parse_yaml(NAME, text)
    if document is not None:
        _schema_alike(document)


@settings(SAME, max_examples=200)
@given(_tree(LEAVES))
def test_schema_check_agrees_with_jsonschema_on_any_value(value: object) -> None:
    _schema_alike(LocatedDocument(NAME, value))


# --- Phones: the forked worker against parse_phone in process -----------------------------------

JUNK_PHONES = ["", " ", "+", "++86 138 0000 1234", "+86 12", "abc", "+999 123 4567",
               "+86 138 0000 1234 ext. 5", "tel:+86-138-0000-1234;ext=9", "١٢٣٤٥٦٧٨٩٠",
               "+86 \uff11\uff13\uff18 \uff10\uff10\uff10\uff10 \uff11\uff12\uff13\uff14",
               "+1" + "2" * 40, "8613800001234", "0086 138 0000 1234", "+86 100 0000 0000",
               "+39 06 6988 1234\u202e", "\u00a0+44 20 7946 0018\u00a0"]


@st.composite
def written_phone(draw: st.DrawFn, junk: bool = True) -> str:
    """A number as people write it (any region, any notation) or, if ``junk``, sometimes
    something that is not one."""
    if junk and draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(st.sampled_from(JUNK_PHONES), st.text(max_size=16)))
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    kind = draw(st.sampled_from([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE]))
    example = phonenumbers.example_number_for_type(region, kind) \
        or phonenumbers.example_number(region)
    if example is None:
        return "+" + draw(st.text(alphabet="0123456789 -", max_size=14))
    digits = phonenumbers.national_significant_number(example)
    tail = draw(st.text(alphabet="0123456789", min_size=0, max_size=min(4, len(digits))))
    number = phonenumbers.parse(f"+{example.country_code}{digits[:len(digits) - len(tail)]}"
                                f"{tail}", None)
    notation = draw(st.sampled_from([PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL,
                                     PhoneNumberFormat.RFC3966]))
    return phonenumbers.format_number(number, notation)


def _outcome(result: PhoneNumber | PhoneNumberError) -> tuple[object, ...]:
    if isinstance(result, PhoneNumberError):
        return ("error", str(result))
    return ("number", result.e164, result.country_code, result.national_number, result.valid)


def _in_process(text: str) -> tuple[object, ...]:
    try:
        return _outcome(parse_phone(text))
    except PhoneNumberError as exc:
        return _outcome(exc)


def _phone_manifest(texts: list[str], draw: st.DrawFn) -> str:
    lines = ["version: 1", "spaces:", '  - id: "1"', "    numbers:"]
    for index, text in enumerate(texts):
        lines += [f"      - phone: {draw(written(text))}", f"        verified_name: N{index}"]
    return "\n".join(lines) + "\n"


@st.composite
def phone_manifest(draw: st.DrawFn) -> tuple[list[str], str]:
    """Numbers (some repeated, some not numbers at all) and a manifest that declares them."""
    texts = draw(st.lists(written_phone(junk=draw(st.booleans())), min_size=1, max_size=25))
    if draw(st.integers(0, 3)) == 0:
        texts += draw(st.lists(st.sampled_from(texts), max_size=3))  # declared twice
    return texts, _phone_manifest(texts, draw)


@contextmanager
def _worker_for_any_size() -> Iterator[None]:
    """The prefetch worker for files of any size, so that small generated files use it."""
    if not _can_fork():
        pytest.skip("no safe fork here (not Linux, other threads, or a single core)")
    with mock.patch.object(reconciler.phoneprefetch, "PREFETCH_MIN_BYTES", 0):
        yield


@settings(SAME, max_examples=40, suppress_health_check=[HealthCheck.too_slow,
                                                        HealthCheck.function_scoped_fixture])
@given(drawn=phone_manifest())
def test_prefetched_numbers_are_parse_phones_own(tmp_path: Path,
                                                 drawn: tuple[list[str], str]) -> None:
    texts, text = drawn
    manifest = tmp_path / "numbers.yaml"
    manifest.write_text(text, encoding="utf-8")
    with _worker_for_any_size():
        ahead = PhonePrefetch.start([manifest])
        assert ahead is not None
        try:
            found = ahead.parse(texts)
        finally:
            ahead.close()
    # Every entry is parse_phone's own for that exact text (a wrong guess of the worker only
    # adds an entry nobody looks up), and the share left to this process is always there.
    for written_text, result in found.items():
        assert _outcome(result) == _in_process(written_text), written_text
    unique = list(dict.fromkeys(texts))
    assert set(unique[int(len(unique) * PREFETCH_SHARE):]) <= set(found)
    event(f"worker's share found: {sum(t in found for t in unique) == len(unique)}")


@settings(SAME, max_examples=40, suppress_health_check=[HealthCheck.too_slow,
                                                        HealthCheck.function_scoped_fixture])
@given(drawn=phone_manifest())
def test_loading_with_the_worker_is_loading_without_it(tmp_path: Path,
                                                       drawn: tuple[list[str], str]) -> None:
    _, text = drawn
    manifest = tmp_path / "numbers.yaml"
    manifest.write_text(text, encoding="utf-8")
    with _worker_for_any_size():
        loaded = load([str(manifest)], today=TODAY)
    document, problems = parse_yaml(str(manifest), text)
    if document is None:  # the YAML itself is refused: no number is read either way
        assert list(loaded.diagnostics) == problems
        return
    # parse_phone, one number at a time
    desired, diagnostics = build_desired([document], today=TODAY)
    assert sorted(map(str, loaded.diagnostics)) == sorted(map(str, diagnostics))
    assert repr(loaded.desired) == repr(desired)  # repr: PhoneNumber's == ignores `valid`
    event("loaded" if desired is not None else "refused")


# --- load() leaves the process as it found it ---------------------------------------------------


def _children() -> set[str]:
    """This process's child processes, zombies included (a child not reaped stays listed)."""
    found: set[str] = set()
    for task in Path("/proc/self/task").iterdir():
        found.update((task / "children").read_text().split())
    return found


def _big_manifest(tmp_path: Path) -> Path:
    manifest = tmp_path / "big.yaml"
    lines = ["version: 1", "spaces:", '  - id: "1"', "    numbers:"]
    for index in range(200):
        lines += [f'      - phone: "+86 138 0000 {index:04d}"', f"        verified_name: N{index}"]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


class _Stop(BaseException):
    """Raised in the middle of loading, like a KeyboardInterrupt."""


def _step(real: Any, fails: bool, collecting: list[bool]) -> Any:
    """``real``, noting whether the collector runs when it is called, or failing instead."""
    def step(*args: Any, **kwargs: Any) -> Any:
        collecting.append(gc.isenabled())
        if fails:
            raise _Stop
        return real(*args, **kwargs)
    return step


@pytest.mark.parametrize("collector", ["enabled", "disabled"])
@pytest.mark.parametrize("failing", [None, "parse_yaml", "build_desired"])
def test_load_restores_the_collector_and_reaps_its_worker(
        collector: str, failing: str | None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = _big_manifest(tmp_path)
    collecting: list[bool] = []  # whether the collector ran, at each step of loading
    for name in ("parse_yaml", "build_desired"):
        monkeypatch.setattr(reconciler.loader, name,
                            _step(getattr(reconciler.loader, name), name == failing, collecting))
    workers: list[PhonePrefetch | None] = []
    real_start = PhonePrefetch.start

    def start(files: list[Path]) -> PhonePrefetch | None:
        workers.append(real_start(files))
        return workers[-1]
    monkeypatch.setattr(PhonePrefetch, "start", start)
    before = _children()
    was_enabled = gc.isenabled()
    try:
        if collector == "disabled":
            gc.disable()
        with _worker_for_any_size():
            if failing is None:
                assert load([str(manifest)], today=TODAY).desired is not None
            else:
                with pytest.raises(_Stop):
                    load([str(manifest)], today=TODAY)
        assert gc.isenabled() == (collector == "enabled")
    finally:
        if was_enabled:
            gc.enable()
    assert collecting and not any(collecting), "the collector is paused while loading"
    assert len(workers) == 1 and workers[0] is not None, "a worker was forked"
    assert _children() == before, "the worker was stopped and reaped"
