"""Located messages about the user's files: what is wrong (or suspicious) and exactly where.

Every problem camsctl finds in a manifest becomes a :class:`Diagnostic`, so that all of them can
be collected in one run and printed the same way: ``FILE:LINE:COL: error: message``.
"""

from __future__ import annotations

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


def sort_key(diagnostic: Diagnostic) -> tuple[str, int, int, str]:
    loc = diagnostic.location
    return (loc.file, loc.line, loc.column, diagnostic.message)
