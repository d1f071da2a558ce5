"""Located messages about the user's files: what is wrong (or suspicious) and exactly where.

Every problem camsctl finds in a manifest becomes a :class:`Diagnostic`, so that all of them can
be collected in one run and printed the same way: ``FILE:LINE:COL: error: message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, order=True, slots=True)  # slots: one per declared number
class Location:
    """A place in a file. ``line`` and ``column`` are 1-based; 0 means "the file as a whole"."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    @property
    def short(self) -> str:
        """``FILE:LINE``, the form plans and "first declared at" hints use."""
        return self.file if self.line <= 0 else f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.severity.value}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(location: Location, message: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, location, message)


def warning(location: Location, message: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, location, message)


def note(location: Location, message: str) -> Diagnostic:
    return Diagnostic(Severity.NOTE, location, message)


MAX_PER_FILE = 1_000
"""Diagnostics kept per file. A hostile file can hold a problem per line (a million unknown
keys), and keeping each would take more memory than the file's values; no one reads past the
first screens of them."""


class Collected:
    """Diagnostics as they are found, keeping at most :data:`MAX_PER_FILE` per file. The others
    of a file are counted, and stand as one diagnostic with the worst severity among them, so
    that a run with errors still has one whatever was kept."""

    def __init__(self, limit: int = MAX_PER_FILE) -> None:
        self._limit = limit
        self._kept: list[Diagnostic] = []
        self._per_file: dict[str, int] = {}
        self._left_out: dict[str, tuple[int, Severity]] = {}
        self.has_errors = False

    def add(self, diagnostic: Diagnostic) -> None:
        self.has_errors = self.has_errors or diagnostic.is_error
        file = diagnostic.location.file
        kept = self._per_file.get(file, 0)
        if kept < self._limit:
            self._per_file[file] = kept + 1
            self._kept.append(diagnostic)
            return
        count, worst = self._left_out.get(file, (0, Severity.NOTE))
        if diagnostic.is_error or worst is Severity.NOTE:
            worst = diagnostic.severity
        self._left_out[file] = (count + 1, worst)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for diagnostic in diagnostics:
            self.add(diagnostic)

    def result(self) -> list[Diagnostic]:
        """What was kept, in the order found, then one diagnostic per file for the others."""
        return self._kept + [
            Diagnostic(worst, Location(file), f"{count:,} more problems in this file are not "
                       f"shown, only the first {self._limit:,} found: fix these and run again")
            for file, (count, worst) in self._left_out.items()]


def sort_key(diagnostic: Diagnostic) -> tuple[str, int, int, str]:
    loc = diagnostic.location
    return (loc.file, loc.line, loc.column, diagnostic.message)
