"""Manifests from a hostile world (issue 13): what a manifest may say, and what loading costs.

- Statuses: a well-formed status the vendor's list does not document is a warning, not an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import reconciler.yamlsource
from reconciler.diagnostics import Diagnostic, Severity
from reconciler.loader import load
from reconciler.yamlsource import parse_yaml


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
    result = load([_write(tmp_path, ONE_NUMBER.format(default="PAUSED", own="OFFLINE"))])
    assert result.errors == ()
    assert result.desired is not None
    number = result.desired.spaces["1"].numbers["+8613800001234"]
    assert number.statuses == {"CONNECTED", "OFFLINE"}
    warnings = _found(result.diagnostics, Severity.WARNING)
    assert [(line, column) for line, column, _ in warnings] == [(3, 23), (9, 29)]
    assert "'PAUSED' is not a documented status" in warnings[0][2]
    assert "'OFFLINE' is not a documented status" in warnings[1][2]


def test_a_near_miss_of_a_documented_status_says_which_it_may_be(tmp_path: Path) -> None:
    result = load([_write(tmp_path, ONE_NUMBER.format(default="FLAGGED", own="CONECTED"))])
    assert result.errors == ()
    [(line, _, message)] = _found(result.diagnostics, Severity.WARNING)
    assert line == 9
    assert "did you mean 'CONNECTED'?" in message


def test_one_undocumented_status_shared_by_many_numbers_warns_once(tmp_path: Path) -> None:
    numbers = "".join(f'      - {{phone: "+86 138 0000 {1000 + i}", <<: *line}}\n'
                      for i in range(5))
    text = ('version: 1\nx-line: &line {verified_name: A, status: [OFFLINE]}\n'
            'spaces:\n  - id: "1"\n    numbers:\n' + numbers)
    result = load([_write(tmp_path, text)])
    assert result.errors == ()
    assert [(ln, col) for ln, col, _ in _found(result.diagnostics, Severity.WARNING)] \
        == [(2, 43)]


@pytest.mark.parametrize("status", ["connected", "Offline", "CONNECTED-1", "_X", "1", '""',
                                    "A B"])
def test_a_malformed_status_is_still_an_error(tmp_path: Path, status: str) -> None:
    result = load([_write(tmp_path, ONE_NUMBER.format(default="FLAGGED", own=status))])
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
    [problem] = load([str(path)]).errors
    assert str(problem).startswith(f"{path}:7:17: error: YAML error: unacceptable character "
                                   "#x0000 (U+0000 NULL)")
