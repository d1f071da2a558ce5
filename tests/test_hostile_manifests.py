"""Manifests from a hostile world (issue 13): what a manifest may say, and what loading costs.

- Statuses: a well-formed status the vendor's list does not document is a warning, not an error.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
import yaml
from yamloracle import parse_composed

import reconciler.yamlsource
from reconciler.diagnostics import MAX_PER_FILE, Diagnostic, Severity
from reconciler.loader import load
from reconciler.manifest import _NUMBER_TEXT, _SPACE_TEXT
from reconciler.schemas import load_schema
from reconciler.yamlsource import parse_yaml

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)


def _write(tmp_path: Path, text: str, name: str = "m.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _found(diagnostics: tuple[Diagnostic, ...], severity: Severity) -> list[tuple[int, int, str]]:
    return [(d.location.line, d.location.column, d.message) for d in diagnostics
            if d.severity is severity]


# --- Statuses ----------------------------------------------------------------------------------

ONE_NUMBER = ('version: 1\n'
              'defaults:\n'
              '  status: [CONNECTED, {default}]\n'
              'spaces:\n'
              '  - id: "1"\n'
              '    numbers:\n'
              '      - phone: "+86 138 0000 1234"\n'
              '        verified_name: Acme\n'
              '        status: [CONNECTED, {own}]\n')


def test_an_undocumented_well_formed_status_is_a_located_warning(tmp_path: Path) -> None:
    # The vendor documents OFFLINE and PAUSED on other pages; `camsctl import` writes them.
    result = load([_write(tmp_path, ONE_NUMBER.format(default="PAUSED", own="OFFLINE"))],
                  today=TODAY)
    assert result.errors == ()
    assert result.desired is not None
    number = result.desired.spaces["1"].numbers["+8613800001234"]
    assert number.statuses == {"CONNECTED", "OFFLINE"}
    warnings = _found(result.diagnostics, Severity.WARNING)
    assert [(line, column) for line, column, _ in warnings] == [(3, 23), (9, 29)]
    assert "'PAUSED' is not a documented status" in warnings[0][2]
    assert "'OFFLINE' is not a documented status" in warnings[1][2]


def test_a_near_miss_of_a_documented_status_says_which_it_may_be(tmp_path: Path) -> None:
    result = load([_write(tmp_path, ONE_NUMBER.format(default="FLAGGED", own="CONECTED"))],
                  today=TODAY)
    assert result.errors == ()
    [(line, _, message)] = _found(result.diagnostics, Severity.WARNING)
    assert line == 9
    assert "did you mean 'CONNECTED'?" in message


def test_one_undocumented_status_shared_by_many_numbers_warns_once(tmp_path: Path) -> None:
    numbers = "".join(f'      - {{phone: "+86 138 0000 {1000 + i}", <<: *line}}\n'
                      for i in range(5))
    text = ('version: 1\nx-line: &line {verified_name: A, status: [OFFLINE]}\n'
            'spaces:\n  - id: "1"\n    numbers:\n' + numbers)
    result = load([_write(tmp_path, text)], today=TODAY)
    assert result.errors == ()
    assert [(ln, col) for ln, col, _ in _found(result.diagnostics, Severity.WARNING)] \
        == [(2, 43)]


@pytest.mark.parametrize("status", ["connected", "Offline", "CONNECTED-1", "_X", "1", '""',
                                    "A B"])
def test_a_malformed_status_is_still_an_error(tmp_path: Path, status: str) -> None:
    result = load([_write(tmp_path, ONE_NUMBER.format(default="FLAGGED", own=status))], today=TODAY)
    assert result.desired is None
    [(line, column, message)] = _found(result.diagnostics, Severity.ERROR)
    assert (line, column) == (9, 29)
    assert message.startswith("spaces[0].numbers[0].status[1]")


# --- Characters YAML refuses -------------------------------------------------------------------

SEVEN_LINES = ('version: 1\n'
               'spaces:\n'
               '  - id: "1"\n'
               '    label: acme\n'
               '    numbers:\n'
               '      - phone: "+86 138 0000 1234"\n'
               '        x{char}: Acme\n')


@pytest.mark.parametrize("parser", ["libyaml", "pure-python"])
@pytest.mark.parametrize("char", ["\x00", "\x01", "\x7f", "\x80", "\x9f", "\ufffe"])
def test_a_character_yaml_refuses_is_reported_where_it_is(
        parser: str, char: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if parser == "pure-python":
        monkeypatch.setattr(reconciler.yamlsource, "_Loader", yaml.SafeLoader)
    text = SEVEN_LINES.format(char="é😀" + char)  # line 7, column 12, after 2 non-ASCII
    assert text.splitlines()[6].index(char) + 1 == 12
    document, [problem] = parse_yaml("m.yaml", text)
    assert document is None
    assert (problem.location.line, problem.location.column) == (7, 12)
    assert problem.message.startswith(f"YAML error: unacceptable character #x{ord(char):04x}")
    assert f"U+{ord(char):04X}" in problem.message
    assert "\n" not in problem.message and "position" not in problem.message


def test_a_nul_byte_in_a_file_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(SEVEN_LINES.format(char="\x00").encode().replace(b"x\x00",
                                                                     b"verified\x00"))
    [problem] = load([str(path)], today=TODAY).errors
    assert str(problem).startswith(f"{path}:7:17: error: YAML error: unacceptable character "
                                   "#x0000 (U+0000 NULL)")


# --- Free text ---------------------------------------------------------------------------------

FREE_TEXT = ('version: 1\n'
             'spaces:\n'
             '  - id: "1"\n'
             '    label: {label}\n'
             '    isv_code: {isv_code}\n'
             '    waba: {{id: "2", name: {waba_name}}}\n'
             '    numbers:\n'
             '      - phone: {phone}\n'
             '        verified_name: {name}\n'
             '        profile:\n'
             '          about: {about}\n'
             '          websites: ["https://a.example", {website}]\n')
PLAIN = {"label": "acme", "isv_code": "aksik93kdkkxmwol9", "waba_name": "Acme",
         "phone": '"+86 138 0000 1234"', "name": "Acme Retail", "about": "We sell",
         "website": '"https://b.example"'}
LINE = {"label": 4, "isv_code": 5, "waba_name": 6, "phone": 8, "name": 9, "about": 11,
        "website": 12}
WHERE = {"label": "spaces[0].label", "isv_code": "spaces[0].isv_code",
         "waba_name": "spaces[0].waba.name", "phone": "spaces[0].numbers[0].phone",
         "name": "spaces[0].numbers[0].verified_name",
         "about": "spaces[0].numbers[0].profile.about",
         "website": "spaces[0].numbers[0].profile.websites[1]"}


def _free_text(tmp_path: Path, **fields: str) -> tuple[Diagnostic, ...]:
    return load([_write(tmp_path, FREE_TEXT.format(**{**PLAIN, **fields}))],
                today=TODAY).diagnostics


def test_the_free_text_template_is_valid(tmp_path: Path) -> None:
    assert _free_text(tmp_path) == ()


REFUSED = [
    ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\u202a", "U+202A LEFT-TO-RIGHT EMBEDDING"),
    ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("\u2069", "U+2069 POP DIRECTIONAL ISOLATE"),
    ("\x00", "U+0000 NULL"),
    ("\t", "U+0009 CHARACTER TABULATION"),
    ("\n", "U+000A LINE FEED"),
    ("\x1b", "U+001B ESCAPE"),
    ("\x7f", "U+007F DELETE"),
    ("\x85", "U+0085 NEXT LINE"),
    ("\x9b", "U+009B"),
    ("\u2028", "U+2028 LINE SEPARATOR"),
]


@pytest.mark.parametrize("field", list(PLAIN))
@pytest.mark.parametrize(("char", "named"), REFUSED, ids=[n for _, n in REFUSED])
def test_a_control_or_bidi_character_in_free_text_is_a_located_error(
        tmp_path: Path, field: str, char: str, named: str) -> None:
    # Double-quoted YAML escapes: how such a character gets past YAML's own reader.
    written = {"phone": "+86 138 0000 1234", "website": "https://b.example"}.get(field, "Acme")
    escaped = f"\\u{ord(char):04x}"
    text = f'"{written[:3]}{escaped}{written[3:]}"'
    diagnostics = _free_text(tmp_path, **{field: text})
    [(line, _, message)] = _found(diagnostics, Severity.ERROR)
    assert line == LINE[field]
    assert message.startswith(f"{WHERE[field]}: {named}")
    assert "(character 4)" in message
    assert char not in message  # named, never echoed


def test_a_bidi_override_written_raw_is_refused_too(tmp_path: Path) -> None:
    # "Acme" shown, "emcA" stored: what a reviewer sees is not what is sent.
    diagnostics = _free_text(tmp_path, name="\u202eemcA")
    [(line, column, message)] = _found(diagnostics, Severity.ERROR)
    assert (line, column) == (9, 24)
    assert "U+202E RIGHT-TO-LEFT OVERRIDE (character 1) is a bidirectional control" in message


@pytest.mark.parametrize("name", ["\u200b", "\u200c\u200d", "\u2060", "\ufeff", "\u0301",
                                  "\u200b \u200b", "\u00ad", "\u3164", "\u2800",
                                  "\u200e\u200f", "\U000e0041", "\u034f", "\ufe0f"])
def test_a_verified_name_of_invisible_characters_only_is_blank(tmp_path: Path,
                                                               name: str) -> None:
    escaped = "".join(f"\\U{ord(c):08x}" for c in name)
    diagnostics = _free_text(tmp_path, name=f'"{escaped}"')
    [(line, column, message)] = _found(diagnostics, Severity.ERROR)
    assert (line, column) == (9, 24)
    assert message.startswith("spaces[0].numbers[0].verified_name must not be empty or blank")
    assert "invisible" in message


@pytest.mark.parametrize("name", [
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a family emoji: ZWJ sequence
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with a ZWNJ
    "\u0915\u094d\u200d\u0937",  # Devanagari with a ZWJ
    "\u05e9\u05dc\u05d5\u05dd \u200f(2)",  # Hebrew with a right-to-left mark
    "Cafe\u0301",  # a combining mark after a letter
    "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # a tag flag
    "A\u00a0B",  # a no-break space
])
def test_real_names_keep_their_joiners_and_marks(tmp_path: Path, name: str) -> None:
    result = load([_write(tmp_path, FREE_TEXT.format(**{**PLAIN, "name": f'"{name}"'}))],
                  today=TODAY)
    assert result.diagnostics == ()
    assert result.desired is not None
    [number] = result.desired.spaces["1"].numbers.values()
    assert number.verified_name == unicodedata.normalize("NFC", name)


def test_a_refused_character_arriving_through_an_anchor_is_reported_at_the_anchor(
        tmp_path: Path) -> None:
    text = ('version: 1\nx-line: &line {verified_name: "A\\u202eB"}\n'
            'spaces:\n  - id: "1"\n    numbers:\n'
            '      - {phone: "+86 138 0000 1234", <<: *line}\n')
    errors = load([_write(tmp_path, text)], today=TODAY).errors
    assert [(e.location.line, e.location.column) for e in errors] == [(2, 31)]


def _free_text_in_schema(schema: dict[str, object], node: object,
                         keys: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Key paths below ``node`` whose value the schema lets be any text (or a list of it)."""
    assert isinstance(node, dict)
    ref = node.get("$ref")
    if isinstance(ref, str):
        defs = schema["$defs"]
        assert isinstance(defs, dict)
        node = {**defs[ref.rsplit("/", 1)[1]], **node}
    if node.get("type") == "object":
        properties = node["properties"]
        assert isinstance(properties, dict)
        return {found for name, sub in properties.items() if name != "numbers"
                for found in _free_text_in_schema(schema, sub, (*keys, name))}
    leaf = node.get("items", node) if node.get("type") == "array" else node
    assert isinstance(leaf, dict)
    constrained = "enum" in leaf or leaf.get("pattern", "\\S") != "\\S"
    return {keys} if leaf.get("type") == "string" and not constrained else set()


def test_every_free_text_field_of_the_schema_is_held_to_the_character_rule() -> None:
    # A field added to the schema later must not escape the rule unnoticed.
    schema = load_schema("manifest.schema.json")
    defs = schema["$defs"]
    assert isinstance(defs, dict)
    assert _free_text_in_schema(schema, defs["space"]) == set(_SPACE_TEXT)
    assert _free_text_in_schema(schema, defs["number"]) == set(_NUMBER_TEXT)


# --- Memory: problems ---------------------------------------------------------------------------


def test_a_file_with_a_problem_on_every_line_keeps_a_bounded_number_of_them(
        tmp_path: Path) -> None:
    keys = "".join(f"    lable{index}: x\n" for index in range(MAX_PER_FILE + 500))
    path = _write(tmp_path, 'version: 1\nspaces:\n  - id: "1"\n    numbers: []\n' + keys)
    result = load([path], today=TODAY)
    assert result.desired is None
    assert len(result.diagnostics) == MAX_PER_FILE + 1
    summary = result.diagnostics[0]  # the file as a whole sorts first
    assert str(summary) == (f"{path}: error: 500 more problems in this file are not shown, "
                            f"only the first {MAX_PER_FILE:,} found: fix these and run again")
    assert str(result.diagnostics[1]).startswith(f"{path}:5:5: error: unknown key 'lable0'")


def test_an_error_after_the_kept_warnings_still_fails_the_run(tmp_path: Path) -> None:
    # Possible but unassigned numbers are warnings; the last number is an error.
    numbers = "".join(f'      - {{phone: "+86 100 0000 {index:04d}", verified_name: A}}\n'
                      for index in range(MAX_PER_FILE + 5))
    numbers += '      - {phone: "+86 12", verified_name: A}\n'
    path = _write(tmp_path, 'version: 1\nspaces:\n  - id: "1"\n    numbers:\n' + numbers)
    result = load([path], today=TODAY)
    assert result.desired is None
    kept = [d for d in result.diagnostics if d.location.line > 0]
    assert len(kept) == MAX_PER_FILE
    assert all(d.severity is Severity.WARNING for d in kept)
    [summary] = result.errors
    assert summary.location.line == 0 and "6 more problems" in summary.message


def test_yaml_errors_are_bounded_too(tmp_path: Path) -> None:
    lines = "".join("a: 1\n" for _ in range(MAX_PER_FILE + 3))
    document, problems = parse_yaml("m.yaml", "version: 1\n" + lines)
    assert document is None
    assert len(problems) == MAX_PER_FILE + 1
    assert "duplicate key 'a'" in problems[0].message
    assert problems[-1].message.startswith("2 more problems in this file are not shown")


# --- Memory: a big manifest still loads right ---------------------------------------------------


def _big_manifest(spaces: int, per_space: int, merge: bool) -> tuple[str, dict[str, int]]:
    """A manifest written as people write them, and the line of each number's phone."""
    lines = ["version: 1"]
    if merge:
        lines += ["x-line: &line", "  status: [CONNECTED, FLAGGED]"]
    lines.append("spaces:")
    phone_lines: dict[str, int] = {}
    for space in range(spaces):
        lines += [f'  - id: "{100 + space}"', f"    label: space-{space}",
                  f"    waba: {{id: \"{900 + space}\", review_status: APPROVED}}",
                  "    numbers:"]
        for index in range(per_space):
            serial = space * per_space + index
            lines.append(f'      - phone: "+86 138 {serial // 10000:04d} {serial % 10000:04d}"')
            phone_lines[f"+86138{serial // 10000:04d}{serial % 10000:04d}"] = len(lines)
            lines.append(f"        verified_name: Line {serial} é")
            if merge:
                lines.append("        <<: *line")
            if serial % 10 == 0:
                lines += ["        profile:", f"          about: shop {serial}",
                          f'          websites: ["https://s{serial}.example"]']
    return "\n".join(lines) + "\n", phone_lines


@pytest.mark.parametrize("merge", [False, True], ids=["plain", "merge-keys"])
def test_a_big_manifest_loads_into_the_same_desired_state_as_pyyaml_reads_it(
        tmp_path: Path, merge: bool) -> None:
    # 6,000 numbers, over 256 KiB: the phone worker runs too (reconciler/phoneprefetch.py).
    text, phone_lines = _big_manifest(30, 200, merge)
    path = _write(tmp_path, text)
    result = load([path], today=TODAY)
    assert result.diagnostics == ()
    desired = result.desired
    assert desired is not None and desired.number_count == 6000
    reference = yaml.safe_load(text)  # PyYAML's own reading, merge keys and all
    assert list(desired.spaces) == [space["id"] for space in reference["spaces"]]
    for written in reference["spaces"]:
        space = desired.spaces[written["id"]]
        assert (space.label, space.waba and space.waba.id) == (written["label"],
                                                               written["waba"]["id"])
        assert len(space.numbers) == len(written["numbers"])
        for number in written["numbers"]:
            e164 = number["phone"].replace(" ", "")
            declared = space.numbers[e164]
            assert declared.verified_name == number["verified_name"]
            assert declared.statuses == set(number.get("status", ["CONNECTED"]))
            assert (declared.source.line, declared.source.column) == (phone_lines[e164], 9)
            profile = number.get("profile")
            assert (declared.profile and declared.profile.about) == (profile and
                                                                     profile["about"])


@pytest.mark.parametrize("merge", [False, True], ids=["plain", "merge-keys"])
def test_a_big_document_has_the_locations_the_composing_reader_gave(merge: bool) -> None:
    text, _ = _big_manifest(5, 300, merge)  # a list of 300 mappings, mappings of 9+ keys
    text += "x-big: {" + ", ".join(f"k{index}: {index}" for index in range(40)) + "}\n"
    document, problems = parse_yaml("m.yaml", text)
    oracle, oracle_problems = parse_composed("m.yaml", text)
    assert problems == oracle_problems == []
    assert document is not None and oracle is not None
    assert document.value == oracle.value
    for table, expected in ((document.value_locations, oracle.value_locations),
                            (document.key_locations, oracle.key_locations),
                            (document.scalars, oracle.scalars)):
        assert len(table) == len(expected)
        assert all(table[path] == where for path, where in expected.items())
