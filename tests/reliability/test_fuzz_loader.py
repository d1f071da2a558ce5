"""Hostile manifests: whatever the bytes, the loader ends in a valid load or located errors.

Three generators (hypothesis) feed ``reconciler.yamlsource.parse_yaml`` + ``reconciler.manifest.
build_desired`` and ``reconciler.loader.load``:

(a) arbitrary text and bytes;
(b) YAML-ish text built from fragments: the schema's keys, anchors and aliases, merge keys, tags,
    deep nesting, huge scalars, odd unicode, numbers such as ``0123`` or ``+86...``, duplicate
    keys;
(c) valid manifests, then mutated (structurally before dumping, textually after).

Each input must end as a valid result or as errors that all name the file (and, from the YAML
parser, a line >= 1): never an exception, never a hang (``fuzzkit.hang_guard`` turns a hang into
a failure). Then explicit bounds: the file-size limit, alias bombs of several shapes, nesting
10,000 deep, a 5 MB scalar.

Two bugs fuzzing found are pinned by regression tests at the end of this file: typed scalars
PyYAML cannot build (``2001-13-45``, ``!!int abc``) crashed the loader, and chains of merge
keys were expanded without charging the expansion budget (a hang). The generators (b) and (c)
leave those exact triggers to the regression tests and keep looking for new bugs.
"""

from __future__ import annotations

import datetime as dt
import string
from pathlib import Path

import pytest
import yaml
from fuzzkit import NAME, check_file, check_text, hang_guard
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import reconciler.loader
import reconciler.yamlsource
from reconciler.yamlsource import parse_yaml

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)

FUZZ = settings(max_examples=150, deadline=5000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much])
"""Generous deadline (the machine is shared); derandomized so CI sees the same inputs."""

# --- (a) arbitrary text and bytes --------------------------------------------------------------


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    check_text(text)


@FUZZ
@given(st.text(alphabet=string.printable + "&*!<>|-:[]{}?#'\"%@`", max_size=300))
def test_arbitrary_yaml_punctuation(text: str) -> None:
    check_text(text)


@settings(FUZZ, max_examples=60)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "m.yaml"
    path.write_bytes(data)
    check_file(path)


# --- (b) YAML-ish text from fragments ------------------------------------------------------------

KEYS = ["version", "spaces", "defaults", "status", "id", "label", "isv_code", "waba",
        "review_status", "name", "numbers", "phone", "verified_name", "profile", "about",
        "email", "websites", "vertical", "address", "description", "profile_picture_url",
        "x-common", "x-", "lable", "<<", "? ", "nmbers", "verison"]
VALUES = ["1", "2", "0", "0123", "0x1F", "0o17", "1_000", "+8613800001234", "8613800001234",
          '"+86 138 0000 1234"', "'+39 06 6988 1234'", '"293483938849493"', "293483938849493",
          "1e3", ".inf", "-.nan", "~", "null", "yes", "no", "on", "off", "true", "2024-01-02",
          "12:30:45", "[CONNECTED]", "[CONNECTED, FLAGGED]", "[]", "{}", "CONNECTED",
          "APPROVED", '"tel:+86-138-0000-1234"', '""', '" "', "'\u00a0'", "\"e\u0301\"",
          "\U0001f600", "\u202eevil", "\ufeff", "\x85", "\u2028", "\\", '"\\x00"', '"\\uD800"',
          "&a", "*a", "&b [1, 2]", "*b", "*undefined", "<<: *a", "!custom x",
          "!!python/object:os.system ls", "!!str 1", "|", ">-", "|+\n  x", "'unterminated",
          "\"unterminated", "[1, [2, [3", "{a: {b: {c", "- ", "? complex\n: key", "%YAML 1.1",
          "---", "...", "#comment", "x" * 2000, "9" * 400, "@reserved", "`backtick"]


@st.composite
def yamlish(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 25))):
        indent = " " * draw(st.sampled_from([0, 0, 2, 4, 6, 1, 3]))
        kind = draw(st.integers(0, 5))
        key = draw(st.sampled_from(KEYS))
        value = draw(st.sampled_from(VALUES))
        if kind == 0:
            lines.append(f"{indent}{key}: {value}")
        elif kind == 1:
            lines.append(f"{indent}- {key}: {value}")
        elif kind == 2:
            lines.append(f"{indent}{key}:")
        elif kind == 3:
            lines.append(f"{indent}- {value}")
        elif kind == 4:
            anchor = draw(st.sampled_from(["a", "b", "c"]))
            lines.append(f"{indent}{key}: &{anchor} {value}")
        else:
            lines.append(indent + draw(st.text(max_size=20)))
    if draw(st.booleans()):
        lines.insert(0, "version: 1")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n\n"]))


@settings(FUZZ, max_examples=300)
@given(yamlish())
def test_yamlish_fragments(text: str) -> None:
    check_text(text)


@settings(FUZZ, max_examples=40)
@given(st.integers(1, 200), st.sampled_from(["[", "{a: ", "- ", "{? "]))
def test_nesting_of_every_depth(depth: int, opener: str) -> None:
    closer = {"[": "]", "{a: ": "}", "- ": "", "{? ": "}"}[opener]
    check_text("version: 1\nspaces: " + opener * depth + "x" + closer * depth)


# --- (c) valid manifests, mutated --------------------------------------------------------------

PHONES = ["+86 138 0000 1234", "+39 06 6988 1234", "+1 650 253 0000", "+44 20 7946 0018",
          "+49 30 901820", "+86-139-0000-0001", "tel:+86-139-0000-0002", "+86 (139) 0000 0003",
          "+81 3-1234-5678", "+55 11 91234-5678"]
STATUSES = ["CONNECTED", "PENDING", "FLAGGED", "RESTRICTED", "DISCONNECTED"]


# Free text holds no control character, line break or bidi control (reconciler.characters).
LABEL_CHARACTERS = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                                 blacklist_characters="\u202a\u202b\u202c\u202d\u202e"
                                                      "\u2066\u2067\u2068\u2069\ufffe\uffff")


@st.composite
def manifest_doc(draw: st.DrawFn) -> dict[str, object]:
    phones = draw(st.lists(st.sampled_from(PHONES), min_size=0, max_size=6, unique=True))
    n_spaces = draw(st.integers(1, 3))
    spaces: list[dict[str, object]] = [
        {"id": str(100 + i), "numbers": []} for i in range(n_spaces)]
    for index, phone in enumerate(phones):
        number: dict[str, object] = {"phone": phone, "verified_name": f"Name {index} é"}
        if draw(st.booleans()):
            number["status"] = draw(st.lists(st.sampled_from(STATUSES), min_size=1,
                                             max_size=3, unique=True))
        if draw(st.booleans()):
            number["profile"] = {"about": "hi", "websites": ["https://x.example"]}
        space = spaces[draw(st.integers(0, n_spaces - 1))]
        numbers = space["numbers"]
        assert isinstance(numbers, list)
        numbers.append(number)
    for space in spaces:
        if draw(st.booleans()):
            space["label"] = draw(st.text(LABEL_CHARACTERS, min_size=1, max_size=20))
        if draw(st.booleans()):
            space["waba"] = {"id": "20393988393993", "review_status": "APPROVED"}
    doc: dict[str, object] = {"version": 1, "spaces": spaces}
    if draw(st.booleans()):
        doc["defaults"] = {"status": ["CONNECTED"]}
    return doc


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


REPLACEMENTS: list[object] = [None, 0, 83, -1, 1.5, True, "", " ", "0123", [], {}, [1, [2]],
                              {"x": 1}, "+86", "\u0000", "a" * 300, "CONNECTED", ["BOGUS"]]


@st.composite
def mutated_structure(draw: st.DrawFn) -> str:
    doc = draw(manifest_doc())
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        target = draw(st.sampled_from(paths))
        parent: object = doc
        for step in target[:-1]:
            parent = parent[step]  # type: ignore[index]
        last = target[-1]
        action = draw(st.integers(0, 2))
        if action == 0 and isinstance(parent, dict):
            del parent[last]
        elif action == 1 and isinstance(parent, dict):
            parent[draw(st.sampled_from(["lable", "x-y", "phone", "id", "extra", "1"]))] = 1
        else:
            parent[last] = draw(st.sampled_from(REPLACEMENTS))  # type: ignore[index]
    return yaml.safe_dump(doc, sort_keys=draw(st.booleans()), allow_unicode=True)


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    text = yaml.safe_dump(draw(manifest_doc()), sort_keys=False, allow_unicode=True)
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        action = draw(st.integers(0, 5))
        if not lines:
            lines.append(draw(st.sampled_from(VALUES)))
        elif action == 0:  # duplicate a line: duplicate keys, duplicate numbers
            lines.insert(at, lines[at])
        elif action == 1:
            del lines[at]
        elif action == 2:  # re-indent
            lines[at] = " " * draw(st.integers(0, 5)) + lines[at].lstrip()
        elif action == 3:  # splice a fragment into the line
            cut = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:cut] + draw(st.sampled_from(VALUES)) + lines[at][cut:]
        elif action == 4:  # strip quotes: "0123" -> 0123, "+86..." -> +86...
            lines[at] = lines[at].replace("'", "").replace('"', "")
        else:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=60)
@given(manifest_doc())
def test_valid_manifests_load(doc: dict[str, object]) -> None:
    assert check_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)) == "valid"


@settings(FUZZ, max_examples=150)
@given(mutated_structure())
def test_structurally_mutated_manifests(text: str) -> None:
    check_text(text)


@settings(FUZZ, max_examples=200)
@given(mutated_text())
def test_textually_mutated_manifests(text: str) -> None:
    check_text(text)


@settings(FUZZ, max_examples=40)
@given(mutated_text(), st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
def test_mutated_manifest_files(tmp_path_factory: pytest.TempPathFactory, text: str,
                                encoding: str) -> None:
    path = tmp_path_factory.mktemp("files") / "m.yaml"
    path.write_bytes(text.encode(encoding, errors="replace"))
    check_file(path)


# --- explicit bounds ----------------------------------------------------------------------------


def _errors(text: str, seconds: float = 10.0) -> list[str]:
    with hang_guard(seconds):
        document, problems = parse_yaml(NAME, text)
    assert (document is None) == bool(problems)
    for problem in problems:
        assert problem.location.file == NAME and problem.location.line >= 1, problem
    return [problem.message for problem in problems]


def test_a_file_over_the_size_limit_is_refused_before_reading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconciler.loader, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text("version: 1\nspaces: []\n# " + "x" * 2000 + "\n", encoding="utf-8")
    result = reconciler.loader.load([str(path)], today=TODAY)
    assert result.desired is None
    [problem] = result.errors
    assert problem.location.file.endswith("big.yaml")
    assert "limited to 1,000 bytes" in problem.message, problem.message


def test_a_file_at_the_size_limit_is_read(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text('version: 1\nspaces:\n  - id: "1"\n    numbers: []\n', encoding="utf-8")
    monkeypatch.setattr(reconciler.loader, "MAX_FILE_BYTES", path.stat().st_size)
    assert check_file(path) == "valid"


def _laughs(levels: int, width: int, shape: str) -> str:
    if shape == "lists":
        lines = ["a0: &a0 [lol]"]
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    else:  # mappings: distinct keys, so no duplicate-key error stops it early
        lines = ["a0: &a0 {k: lol}"]
        lines += [f"a{i}: &a{i} {{{', '.join(f'k{j}: *a{i - 1}' for j in range(width))}}}"
                  for i in range(1, levels)]
    return "version: 1\n" + "\n".join(f"x-{line}" for line in lines) + "\n"


@pytest.mark.parametrize("shape", ["lists", "mappings"])
def test_alias_bombs_fail_fast(shape: str) -> None:
    text = _laughs(10, 10, shape)  # 10**9 values from under 1 KB
    assert len(text) < 1000
    [message] = _errors(text)
    assert "expands to too many values" in message


def test_alias_bomb_in_a_value_with_the_manifest_around_it() -> None:
    text = ('version: 1\nx-0: &a0 ["+86 138 0000 1234"]\n'
            + "".join(f"x-{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
            + 'spaces:\n  - id: "1"\n    numbers: *a8\n')
    assert any("too many values" in m for m in _errors(text))


def test_a_recursive_alias_fails_fast() -> None:
    assert _errors("version: 1\nx-a: &a [*a]\n")
    assert _errors("version: 1\nx-a: &a {k: *a}\n")


def test_a_merge_key_with_a_small_fan_out_is_fine() -> None:
    text = ("version: 1\nx-a: &a {verified_name: A}\n"
            'spaces:\n  - id: "1"\n    numbers:\n      - <<: *a\n'
            '        phone: "+86 138 0000 1234"\n')
    assert check_text(text) == "valid"


NESTINGS = {
    # shape: (text nested n levels under the key x-deep, where the first node too deep is)
    "flow-lists": (lambda n: " " + "[" * n + "]" * n, (2, 73)),
    "flow-maps": (lambda n: " " + "{a: " * n + "1" + "}" * n, (2, 265)),
    "block-lists": (lambda n: "\n  " + "- " * n + "x", (3, 131)),
    "block-maps": (lambda n: "".join("\n" + " " * (i + 2) + "a:" for i in range(n)) + " x",
                   (67, 67)),
}


@pytest.mark.parametrize("loader", ["libyaml", "pure-python"])
@pytest.mark.parametrize(("shape", "depth"), [
    (shape, depth) for shape in NESTINGS for depth in (65, 200, 1_100, 10_000)
    if depth <= 1_100 or shape != "block-maps"])  # 10,000 indented levels: a 50 MB file
def test_deep_nesting_fails_fast_with_one_located_error(
        shape: str, depth: int, loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound is the loader's own, whatever the parser: libyaml as bundled by PyYAML 6.0.4
    stops at 1,000 levels in its scanner, the pure-Python parser never does, and composing
    10,000 levels overflows the stack. Each gives the same error at the same place."""
    if loader == "pure-python":
        monkeypatch.setattr(reconciler.yamlsource, "_Loader", yaml.SafeLoader)
    nested, (line, column) = NESTINGS[shape]
    document, problems = parse_yaml(NAME, "version: 1\nx-deep:" + nested(depth) + "\n")
    assert document is None
    assert [(p.location.line, p.location.column, p.message) for p in problems] \
        == [(line, column, "the YAML is nested more than 64 levels deep")]


def test_nesting_at_the_bound_is_accepted() -> None:
    nested, _ = NESTINGS["flow-lists"]
    document, problems = parse_yaml(NAME, "version: 1\nx-deep:" + nested(64) + "\n")
    assert problems == [] and document is not None


def test_a_syntax_error_after_many_openers_is_still_a_syntax_error() -> None:
    [message] = _errors("version: 1\nx-deep: " + "[" * 60 + "a: b: c\n")
    assert message.startswith("YAML syntax error")


def test_a_5_mb_scalar_is_read_quickly(tmp_path: Path) -> None:
    huge = "A" * (5 * 1024 * 1024)
    path = tmp_path / "huge.yaml"
    path.write_text('version: 1\nspaces:\n  - id: "1"\n    numbers:\n'
                    f'      - phone: "+86 138 0000 1234"\n        verified_name: {huge}\n',
                    encoding="utf-8")
    assert check_file(path) in ("valid", "invalid")
    assert check_text(f"version: 1\nx-big: '{huge}'\nspaces: []\n") in ("valid", "invalid")


def test_a_5_mb_phone_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "huge-phone.yaml"
    path.write_text('version: 1\nspaces:\n  - id: "1"\n    numbers:\n'
                    f'      - phone: "+86{"1" * (5 * 1024 * 1024)}"\n'
                    "        verified_name: A\n", encoding="utf-8")
    assert check_file(path) == "invalid"


# --- regressions: bugs fuzzing found, fixed in yamlsource ---------------------------------------

CONSTRUCTOR_CRASHES = [
    "version: 1\nx-when: 2001-13-45\n",     # implicit timestamp, impossible date: ValueError
    "version: 1\nx-when: 2001-02-30\n",     # ValueError: day is out of range for month
    "version: !!int abc\n",                 # ValueError from int()
    "version: !!float abc\n",               # ValueError from float()
    "version: !!timestamp abc\n",           # AttributeError: 'NoneType' ... 'groupdict'
    "version: !!bool abc\n",                # KeyError: 'abc'
]


@pytest.mark.parametrize("text", CONSTRUCTOR_CRASHES,
                         ids=["date-month-13", "date-feb-30", "int", "float", "timestamp", "bool"])
def test_bad_typed_scalars_are_located_errors(text: str) -> None:
    assert check_text(text) == "parse-error"


@settings(FUZZ, max_examples=100, phases=[Phase.explicit, Phase.generate])
@given(st.sampled_from(["!!int", "!!float", "!!bool", "!!timestamp", ""]),
       st.from_regex(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[a-z0-9.:+-]{1,12}", fullmatch=True))
def test_typed_scalars_fuzz(tag: str, scalar: str) -> None:
    check_text(f"version: 1\nx-v: {tag} {scalar}\n")


def _merge_chain(levels: int, width: int) -> str:
    lines = ["x-m0: &m0 {k: 1}"]
    lines += [f"x-m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * width)}]}}"
              for i in range(1, levels)]
    return "version: 1\n" + "\n".join(lines) + "\n"


def test_a_short_merge_chain_is_fine() -> None:
    assert _errors(_merge_chain(4, 10)) == []  # 10**3 merged entries: quick


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # see hang_guard
def test_a_merge_key_bomb_fails_fast() -> None:
    text = _merge_chain(8, 10)
    assert len(text) < 600
    messages = _errors(text, seconds=5.0)
    assert any("too many" in m for m in messages)
