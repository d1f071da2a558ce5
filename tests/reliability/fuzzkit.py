"""Helpers of the loader fuzz tests: the invariant every input must meet, and a hang guard.

The invariant: whatever the input, the loader ends with either a valid result or errors that
each name a file (and, from the YAML parser, a line >= 1). Never an exception, never a hang.
"""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from reconciler.diagnostics import Diagnostic
from reconciler.loader import load
from reconciler.manifest import build_desired
from reconciler.yamlsource import parse_yaml

TODAY = dt.date(2026, 11, 26)  # the date of the run (as tests/conftest.py dates commands)

NAME = "fuzz.yaml"


class Hang(Exception):
    """Raised inside the guarded code when it runs past its allowance."""


@contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Turn a hang into a ``Hang`` exception after ``seconds`` (main thread, SIGALRM).

    The alarm repeats every 0.2 s after the deadline: a signal that lands in a finalizer (a
    generator closed by the garbage collector) is swallowed as "unraisable", so one is not
    enough.
    """

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.2)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _located(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...], file: str,
             need_line: bool) -> None:
    for diagnostic in diagnostics:
        assert diagnostic.location.file, diagnostic
        assert diagnostic.message.strip(), diagnostic
        if need_line:
            assert diagnostic.location.file == file, diagnostic
            assert diagnostic.location.line >= 1, diagnostic
            assert diagnostic.location.column >= 1, diagnostic


def check_text(text: str, seconds: float = 10.0) -> str:
    """parse_yaml then build_desired on ``text``; returns 'valid', 'invalid' or 'parse-error'."""
    with hang_guard(seconds):
        document, problems = parse_yaml(NAME, text)
        if document is None:
            assert problems and all(d.is_error for d in problems), problems
            _located(problems, NAME, need_line=True)
            return "parse-error"
        assert problems == []
        desired, diagnostics = build_desired([document], today=TODAY)
    _located(diagnostics, NAME, need_line=False)
    if desired is None:
        assert any(d.is_error for d in diagnostics), diagnostics
        return "invalid"
    assert not any(d.is_error for d in diagnostics), diagnostics
    return "valid"


def check_file(path: Path, seconds: float = 10.0) -> str:
    """``load([path])``: a Desired and no error, or no Desired and located errors."""
    with hang_guard(seconds):
        result = load([str(path)], today=TODAY)
    _located(result.diagnostics, str(path), need_line=False)
    for diagnostic in result.diagnostics:
        assert diagnostic.location.file in (str(path), path.name) \
            or diagnostic.location.file.endswith(path.name), diagnostic
    if result.desired is None:
        assert result.errors, result.diagnostics
        return "invalid"
    assert not result.errors
    return "valid"
