"""The ledger on disk: read whole (bounded, regular files only), appended one line at a time.

An edge: the format and what it means are :mod:`reconciler.ledger`'s. Appending opens the file
with ``O_APPEND`` and never through a symbolic link, writes the line in one call and makes it
durable (fsync), as apply's journal does; a torn last line left by a killed run is cut off
first, so it never ends up in the middle of the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.ledger import LedgerError, LedgerRecord, encode, parse
from reconciler.safefile import UnsafeFile, make_folder, open_regular, read_regular

MAX_LEDGER_BYTES = 256 * 1024 * 1024
"""The largest ledger read: about a year of nightly runs with a thousand findings each."""


class LedgerFileError(Exception):
    """The ledger cannot be read, understood or written; the message names the file (and
    the line, for one that is not a record)."""


def read_ledger(path: Path) -> list[LedgerRecord]:
    """The records of the ledger at ``path``; none if it does not exist yet."""
    if not path.exists() and not path.is_symlink():
        return []
    try:
        data = read_regular(path, "the ledger", MAX_LEDGER_BYTES)
    except UnsafeFile as exc:
        raise LedgerFileError(str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise LedgerFileError(f"{path}:{line}: not UTF-8 text; is this a ledger camsctl "
                              "wrote?") from None
    try:
        return parse(text)
    except LedgerError as exc:
        raise LedgerFileError(f"{path}:{exc.line}: {exc.message}; is this a ledger camsctl "
                              "wrote?") from None


def append_record(path: Path, record: LedgerRecord) -> None:
    """Append one record and make it durable."""
    line = encode(record).encode("utf-8")
    try:
        make_folder(path.parent)
        fd = open_regular(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, "the ledger", 0o644)
    except UnsafeFile as exc:
        raise LedgerFileError(str(exc)) from None
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A run killed mid-write: its partial line is no record; cut it off.
            tail = os.pread(fd, min(size, MAX_LEDGER_BYTES), max(0, size - MAX_LEDGER_BYTES))
            os.ftruncate(fd, size - len(tail) + tail.rfind(b"\n") + 1)
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as exc:
        raise LedgerFileError(f"cannot write the ledger {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
