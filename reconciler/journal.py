"""The apply journal: an append-only JSON-lines record of every add, on disk before it is sent.

Each line is ``{"time", "endpoint", "space", "phone", "event", "request_id", "error"}``. An entry
is flushed and fsync'd before the call it announces goes out, so after a crash the journal says
which adds were in flight. It records what happened; the live state, re-read on the next run,
decides what to do, except for one thing the live state cannot say: an add that may have been
applied but that the service does not list yet (:func:`adds_in_doubt`). Only entries of the
endpoint in use count: an apply against one endpoint says nothing about another. The journal is
never opened through a symlink, and it never holds credentials.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from types import TracebackType

from reconciler.safefile import UnsafeFile, make_folder, open_regular

DEFAULT_JOURNAL = Path(".camsctl") / "journal.jsonl"

EVENTS = ("sending", "added", "ambiguous", "already-present", "failed", "awaiting-visibility",
          "unknown")
"""``sending`` precedes every call; ``added``, ``already-present`` and ``failed`` settle it
(the service answered); ``ambiguous`` (the answer was lost) and ``unknown`` (still not listed
after re-reading) leave it unsettled; ``awaiting-visibility`` notes a run that trusted an
earlier ``added``."""

_SETTLED = frozenset({"added", "already-present", "failed"})

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

MAX_READ_BYTES = 256 * 1024 * 1024
"""A journal larger than this is refused rather than read into memory."""


class JournalError(Exception):
    """The journal cannot be opened, read or written. The message names the file and why."""


def _utc_now() -> str:
    return datetime.now(UTC).strftime(TIME_FORMAT)


class Journal:
    """Appends journal entries durably for one endpoint. Use as a context manager.

    Opening creates the folder and the file if needed; every failure, then or on a later write,
    is a :class:`JournalError`, so a caller can stop before sending anything more.
    """

    def __init__(self, path: Path, endpoint: str, clock: Callable[[], str] = _utc_now) -> None:
        self.path = path
        self.endpoint = endpoint
        self._clock = clock
        try:
            make_folder(path.parent)
            self._fd = open_regular(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, "the journal")
        except UnsafeFile as exc:
            raise JournalError(str(exc)) from None
        try:
            # A crash mid-write can leave a torn last line; end it, so our entries stand alone.
            size = os.fstat(self._fd).st_size
            if size and os.pread(self._fd, 1, size - 1) != b"\n":
                self._write(b"\n")
        except OSError as exc:
            os.close(self._fd)
            raise JournalError(f"cannot write {path}: {exc.strerror}") from None

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def record(self, event: str, space: str, phone: str, *, request_id: str | None = None,
               error: str | None = None) -> None:
        """Append one entry and make it durable; :class:`JournalError` if that failed."""
        if event not in EVENTS:
            raise ValueError(f"unknown journal event {event!r}")
        entry = {"time": self._clock(), "endpoint": self.endpoint, "space": space,
                 "phone": phone, "event": event, "request_id": request_id, "error": error}
        try:
            self._write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
        except OSError as exc:
            raise JournalError(f"cannot write {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class Doubt(Enum):
    """Why an earlier run's add must not simply be sent again."""

    ADDED = "added"
    """The service said it was added; it may not be listed yet."""
    UNSETTLED = "unsettled"
    """It was sent and no answer settled it (lost answer, crash, interruption)."""


@dataclass(frozen=True)
class EarlierAdd:
    """What the journal says of one (space, phone) within the visibility window."""

    doubt: Doubt
    time: str
    """When it was last sent (for ADDED: when the service said so)."""
    request_id: str | None = None


def _when(entry: dict[str, object]) -> datetime | None:
    try:
        return datetime.strptime(str(entry.get("time")), TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _last_events(entries: Iterable[dict[str, object]], endpoint: str) \
        -> dict[tuple[str, str], tuple[datetime, str, datetime | None, dict[str, object]]]:
    """Per (space, phone) of ``endpoint``: the last send or settling answer (its time, event
    and entry) and the time of the last send."""
    last: dict[tuple[str, str], tuple[datetime, str, datetime | None, dict[str, object]]] = {}
    for entry in entries:
        event = entry.get("event")
        if entry.get("endpoint") != endpoint or event not in ("sending", *_SETTLED):
            continue
        when = _when(entry)
        if when is None:
            continue
        key = (str(entry.get("space")), str(entry.get("phone")))
        sent = when if event == "sending" else last.get(key, (when, "", None, {}))[2]
        last[key] = (when, str(event), sent, entry)
    return last


def adds_in_doubt(entries: Iterable[dict[str, object]], endpoint: str, now: datetime,
                  window_seconds: float) -> dict[tuple[str, str], EarlierAdd]:
    """(space, phone) of adds to ``endpoint`` that the service may still be about to list.

    Pure. An add counts when, within ``window_seconds`` before ``now`` (the moment the live
    state is read), the journal shows it ``added``, or ``sending`` with no answer settling it
    after (``ambiguous`` and ``unknown`` do not settle it: only the service's own answer does).
    The window is counted from the last send, never from a later re-read, so a number that
    never appears is sent again once the window has passed. Entries of other endpoints, and of
    unknown shape, are ignored.
    """
    found: dict[tuple[str, str], EarlierAdd] = {}
    for key, (when, event, sent, entry) in _last_events(entries, endpoint).items():
        if event == "added":
            doubt, since = Doubt.ADDED, when
        elif event == "sending" and sent is not None:
            doubt, since = Doubt.UNSETTLED, sent
        else:
            continue
        if 0 <= (now - since).total_seconds() <= window_seconds:
            rid = entry.get("request_id")
            found[key] = EarlierAdd(doubt, since.strftime(TIME_FORMAT),
                                    rid if isinstance(rid, str) else None)
    return found


def possibly_applied(entries: Iterable[dict[str, object]], endpoint: str) \
        -> set[tuple[str, str]]:
    """(space, phone) of adds an earlier run may have applied to ``endpoint``, however long
    ago: sent, and not refused by the service since. Pure. If such an add is sent again and
    refused, the refusal may be the service meeting that earlier add, whatever code it uses
    to say so."""
    return {key for key, (_, event, _, _) in _last_events(entries, endpoint).items()
            if event != "failed"}


def read_journal(path: Path) -> list[dict[str, object]]:
    """Every well-formed entry of a journal (none if it does not exist).

    A torn line (a crash mid-write) and any line that is not a JSON object are skipped:
    the journal only ever holds back a re-send, so a line lost costs at most a refusal that
    apply then reports ``already-present``. Raises :class:`JournalError` if the file cannot
    be read at all.
    """
    if not path.exists() and not path.is_symlink():
        return []
    try:
        fd = open_regular(path, os.O_RDONLY, "the journal")
    except UnsafeFile as exc:
        raise JournalError(str(exc)) from None
    try:
        with os.fdopen(fd, "rb") as file:
            data = file.read(MAX_READ_BYTES + 1)
    except OSError as exc:
        raise JournalError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_READ_BYTES:
        raise JournalError(f"{path} is over {MAX_READ_BYTES // 2**20} MiB; move it aside "
                           "(apply starts a new one)")
    entries: list[dict[str, object]] = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries

