"""Loading valid manifests into the desired state: the model, defaults, anchors, warnings."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
import yaml

import reconciler.yamlsource
from reconciler.loader import load
from reconciler.manifest import DesiredProfile, DesiredWaba
from reconciler.yamlsource import parse_yaml

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_examples_load_into_the_desired_state(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    result = load(["examples/manifests"], today=TODAY)
    assert result.errors == ()
    desired = result.desired
    assert desired is not None
    assert desired.files == ("examples/manifests/acme-retail.yaml",
                             "examples/manifests/globex.yaml")
    assert list(desired.spaces) == ["120000000000001", "293483938849493"]
    acme = desired.spaces["293483938849493"]
    assert acme.label == "acme-retail"
    assert acme.waba == DesiredWaba(id="20393988393993", review_status="APPROVED")
    assert list(acme.numbers) == ["+8613800001234", "+8613800002468", "+8613800004321",
                                  "+8613800005678"]
    first = acme.numbers["+8613800001234"]
    assert (first.phone.country_code, first.phone.national_number) == ("86", "13800001234")
    assert first.verified_name == "Acme Retail"  # from the merged x- anchor
    assert first.statuses == frozenset({"CONNECTED"})
    assert str(first.source) == "examples/manifests/acme-retail.yaml:19:9"
    assert acme.numbers["+8613800004321"].profile == DesiredProfile(
        about="We sell things", email="hello@acme.example")
    globex = desired.spaces["120000000000001"]
    assert globex.isv_code == "aksik93kdkkxmwol9"
    assert globex.numbers["+390669881234"].phone.national_number == "0669881234"
    assert globex.numbers["+442079460958"].statuses == frozenset({"CONNECTED", "FLAGGED"})
    assert globex.numbers["+442079460958"].profile == DesiredProfile(
        vertical="RETAIL", websites=("https://globex.example",))
    assert desired.number_count == 6


def test_directory_skips_files_that_are_not_manifests(repo: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    result = load(["examples"], today=TODAY)
    assert result.errors == ()
    assert "examples/live-state.yaml" in result.skipped
    assert result.desired is not None and len(result.desired.spaces) == 2
    notes = [str(d) for d in result.diagnostics if d.severity.value == "note"]
    assert any("examples/live-state.yaml: note: skipped" in n for n in notes)


def test_directory_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    body = 'version: 1\nspaces:\n  - id: "{id}"\n    numbers: []\n'
    _write(tmp_path, "b/z.yml", body.format(id="2"))
    _write(tmp_path, "a.yaml", body.format(id="1"))
    _write(tmp_path, ".hidden/c.yaml", "broken: [")
    _write(tmp_path, "notes.txt", "not yaml")
    result = load([str(tmp_path)], today=TODAY)
    assert result.errors == ()
    assert [Path(f).name for f in result.files] == ["a.yaml", "z.yml"]


def test_file_defaults_apply_only_to_their_own_file(tmp_path: Path) -> None:
    one = _write(tmp_path, "one.yaml", 'version: 1\ndefaults: {status: [CONNECTED, FLAGGED]}\n'
                 'spaces:\n  - id: "1"\n    numbers:\n'
                 '      - {phone: "+86 138 0000 1234", verified_name: A}\n'
                 '      - {phone: "+86 138 0000 1235", verified_name: B, status: [PENDING]}\n')
    two = _write(tmp_path, "two.yaml", 'version: 1\nspaces:\n  - id: "2"\n    numbers:\n'
                 '      - {phone: "+86 138 0000 1236", verified_name: C}\n')
    desired = load([one, two], today=TODAY).desired
    assert desired is not None
    assert desired.spaces["1"].numbers["+8613800001234"].statuses == {"CONNECTED", "FLAGGED"}
    assert desired.spaces["1"].numbers["+8613800001235"].statuses == {"PENDING"}
    assert desired.spaces["2"].numbers["+8613800001236"].statuses == {"CONNECTED"}


def test_verified_name_is_trimmed_and_nfc_normalised(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Café Zürich")
    path = _write(tmp_path, "m.yaml", 'version: 1\nspaces:\n  - id: "1"\n    numbers:\n'
                  f'      - {{phone: "+41 44 668 18 00", verified_name: "  {decomposed} "}}\n')
    desired = load([path], today=TODAY).desired
    assert desired is not None
    name = desired.spaces["1"].numbers["+41446681800"].verified_name
    assert name == unicodedata.normalize("NFC", "Café Zürich")
    assert name != decomposed.strip()


def test_x_keys_are_ignored_and_anchors_reused(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", 'version: 1\nx-anything: {whatever: [1, 2]}\n'
                  'x-line: &line {verified_name: Shared, status: [CONNECTED, PENDING]}\n'
                  'spaces:\n  - id: "1"\n    numbers:\n'
                  '      - {<<: *line, phone: "+86 138 0000 1234"}\n'
                  '      - {<<: *line, phone: "+86 138 0000 1235", verified_name: Own}\n')
    desired = load([path], today=TODAY).desired
    assert desired is not None
    numbers = desired.spaces["1"].numbers
    assert numbers["+8613800001234"].verified_name == "Shared"
    assert numbers["+8613800001235"].verified_name == "Own"
    assert numbers["+8613800001235"].statuses == {"CONNECTED", "PENDING"}


def test_possible_but_invalid_number_warns_and_still_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", 'version: 1\nspaces:\n  - id: "1"\n    numbers:\n'
                  '      - phone: "+86 100 0000 0000"\n        verified_name: A\n')
    result = load([path], today=TODAY)
    assert result.errors == ()
    assert result.desired is not None
    (warned,) = [d for d in result.diagnostics if d.severity.value == "warning"]
    assert (warned.location.line, warned.location.column) == (5, 16)
    assert "+8610000000000 is a possible number" in warned.message


def test_space_without_numbers_is_declared(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.yaml", 'version: 1\nspaces:\n  - {id: "7", numbers: []}\n')
    desired = load([path], today=TODAY).desired
    assert desired is not None and dict(desired.spaces["7"].numbers) == {}


def test_missing_path_is_an_error() -> None:
    result = load(["no/such/dir"], today=TODAY)
    assert [str(d) for d in result.errors] == ["no/such/dir: error: no such file or directory"]


def test_oversized_file_is_refused_without_parsing(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reconciler.loader.MAX_FILE_BYTES", 100)
    path = _write(tmp_path, "big.yaml", "version: 1\nspaces: []\n" + "#" * 200 + "\n")
    (err,) = load([path], today=TODAY).errors
    assert "limited to 100 bytes" in err.message


def test_the_model_is_immutable(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    desired = load(["examples/manifests"], today=TODAY).desired
    assert desired is not None
    with pytest.raises(TypeError):
        desired.spaces["1"] = desired.spaces["293483938849493"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        desired.spaces["293483938849493"].label = "x"  # type: ignore[misc]


@pytest.mark.parametrize("tag", ["!!int", "!!float", "!!bool", "!!timestamp"])
def test_an_empty_typed_scalar_is_a_located_error(tag: str) -> None:
    # Found by tests/test_fast_paths.py: PyYAML's int constructor raised IndexError on ''.
    document, problems = parse_yaml("m.yaml", f"version: 1\nx-v: [{tag} ]\n")
    assert document is None
    assert [(p.location.line, p.location.column) for p in problems] == [(2, 7)]
    assert "quote it if it is text" in problems[0].message


@pytest.mark.parametrize("parser", ["libyaml", "pure-python"])
def test_a_control_character_is_a_yaml_error_whatever_the_parser(
        parser: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # PyYAML's pure-Python reader refuses such characters when the loader is made, before
    # any parsing: found by tests/test_fast_paths.py, where it escaped as an exception.
    if parser == "pure-python":
        monkeypatch.setattr(reconciler.yamlsource, "_Loader", yaml.SafeLoader)
    document, problems = parse_yaml("m.yaml", "version: 1\nx-v: \x1f\n")
    assert document is None
    [problem] = problems
    assert problem.message.startswith("YAML error: unacceptable character #x001f")
