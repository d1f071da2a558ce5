"""The apply journal: an append-only JSON-lines record of every add, on disk before it is sent.

Each line is ``{"time", "space", "phone", "event", "request_id", "error"}``. An entry is flushed
and fsync'd before the call it announces goes out, so after a crash the journal says which adds
were in flight. It records what happened; the live state, re-read on the next run, decides what
to do. It never holds credentials.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

DEFAULT_JOURNAL = Path(".camsctl") / "journal.jsonl"

EVENTS = ("sending", "added", "ambiguous", "already-present", "failed", "awaiting-visibility")


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _utc_now() -> str:
    return datetime.now(UTC).strftime(TIME_FORMAT)


class Journal:
    """Appends journal entries durably. Use as a context manager."""

    def __init__(self, path: Path, clock: Callable[[], str] = _utc_now) -> None:
        self.path = path
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        # A crash mid-write can leave a torn last line; end it, so our first entry stands alone.
        torn = False
        if path.exists() and path.stat().st_size > 0:
            with path.open("rb") as existing:
                existing.seek(-1, os.SEEK_END)
                torn = existing.read(1) != b"\n"
        self._file = path.open("a", encoding="utf-8")
        if torn:
            self._file.write("\n")

    def record(self, event: str, space: str, phone: str, *, request_id: str | None = None,
               error: str | None = None) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown journal event {event!r}")
        entry = {"time": self._clock(), "space": space, "phone": phone, "event": event,
                 "request_id": request_id, "error": error}
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def recent_adds(entries: list[dict[str, object]], now: datetime,
                window_seconds: float) -> dict[tuple[str, str], dict[str, object]]:
    """(space, phone) of adds the journal says succeeded within the last ``window_seconds``.

    Pure. A service may list a new number only some time after adding it; within this window
    apply trusts its own record rather than sending the add again.
    """
    found: dict[tuple[str, str], dict[str, object]] = {}
    for entry in entries:
        if entry.get("event") != "added":
            continue
        try:
            when = datetime.strptime(str(entry.get("time")), TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            continue
        if 0 <= (now - when).total_seconds() <= window_seconds:
            found[(str(entry.get("space")), str(entry.get("phone")))] = entry
    return found


def read_journal(path: Path) -> list[dict[str, object]]:
    """Every well-formed entry of a journal; a torn last line (a crash mid-write) is skipped."""
    entries: list[dict[str, object]] = []
    if not path.exists():
        return entries
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
