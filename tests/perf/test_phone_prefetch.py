"""The loader's phone prefetch (a forked worker for big manifests) changes no result."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import reconciler.phoneprefetch
from reconciler.loader import load
from reconciler.manifest import build_desired
from reconciler.yamlsource import parse_yaml

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)


def _big_manifest(path: Path, count: int, with_errors: bool) -> None:
    lines = ["version: 1", "spaces:"]
    for space in range(count // 100):
        lines += [f'  - id: "{500000 + space}"', "    numbers:"]
        for n in range(100):
            index = space * 100 + n
            phone = f"+86 138 {index // 10000:04d} {index % 10000:04d}"
            if with_errors and index % 997 == 0:
                phone = "+86 12"  # an error
            elif index % 991 == 0:
                phone = f"+86 100 {index:04d} {index:04d}"  # possible, not valid: a warning
            lines += [f'      - phone: "{phone}"', f"        verified_name: Line {index}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _both_ways(manifest: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, ...]:
    started: list[bool] = []
    real_start = reconciler.phoneprefetch.PhonePrefetch.start

    def spy(files: list[Path]) -> object:
        worker = real_start(files)
        started.append(worker is not None)
        return worker
    monkeypatch.setattr(reconciler.phoneprefetch.PhonePrefetch, "start", spy)
    with_worker = load([str(manifest)], today=TODAY)
    if reconciler.phoneprefetch._can_fork():
        assert started == [True]
    document, problems = parse_yaml(str(manifest), manifest.read_text(encoding="utf-8"))
    assert document is not None and not problems
    # parse_phone one by one
    plain_desired, plain_diagnostics = build_desired([document], today=TODAY)
    return with_worker, plain_desired, plain_diagnostics


@pytest.mark.parametrize("with_errors", [True, False])
def test_prefetch_and_plain_parsing_agree(with_errors: bool, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "big.yaml"
    _big_manifest(manifest, 6_000, with_errors)
    assert manifest.stat().st_size > reconciler.phoneprefetch.PREFETCH_MIN_BYTES
    loaded, plain_desired, plain_diagnostics = _both_ways(manifest, monkeypatch)
    assert sorted(str(d) for d in loaded.diagnostics) == \
        sorted(str(d) for d in plain_diagnostics)
    assert any(d.severity.value == "warning" for d in plain_diagnostics)
    if with_errors:
        assert any(d.is_error for d in plain_diagnostics)
        assert loaded.desired is None and plain_desired is None
    else:
        assert loaded.desired is not None and plain_desired is not None
        assert loaded.desired.spaces == plain_desired.spaces
        assert loaded.desired.number_count == 6_000
