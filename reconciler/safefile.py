"""Opening the files apply writes (journal, lock) safely: never through a symbolic link (which
could point at any file of the user's), only regular files (a FIFO would hang), and with one
clear message for every way it can fail. Reading a file the user names, bounded in size and
refused unless it is a regular file, likewise."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class UnsafeFile(Exception):
    """The file cannot be opened as camsctl needs it; the message says why, for a user."""


def make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) if needed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UnsafeFile(f"{folder} or a folder above it is a file, not a folder") from None
    except OSError as exc:
        raise UnsafeFile(f"cannot create the folder {folder}: {exc.strerror}") from None


def open_regular(path: Path, flags: int, what: str, mode: int = 0o600) -> int:
    """An fd on ``path`` (``what`` names it in messages, e.g. "the journal")."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise UnsafeFile(f"{what} {path} is a symbolic link; camsctl never writes "
                             "through one: use a plain file") from None
        raise UnsafeFile(f"cannot open {what} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeFile(f"{what} {path} is not a regular file")
    return fd


def read_regular(path: Path, what: str, limit: int) -> bytes:
    """The bytes of ``path`` (``what`` names it in messages, e.g. "state file"): a regular
    file of at most ``limit`` bytes. Anything else is refused before a byte is read: a FIFO
    would hang the read, and a device such as /dev/zero never ends. Unlike the files camsctl
    writes, a symbolic link is followed: reading through one changes nothing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafeFile(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        status = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise UnsafeFile(f"cannot read {what} {path}: {exc.strerror}") from None
    problem = None
    if stat.S_ISDIR(status.st_mode):
        problem = "is a directory, not a file"
    elif not stat.S_ISREG(status.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(status.st_mode) else "a socket" if stat.S_ISSOCK(
            status.st_mode) else "a device"
        problem = f"is not a regular file ({kind})"
    elif status.st_size > limit:
        problem = f"is {status.st_size:,} bytes; the limit is {limit:,} bytes"
    if problem is not None:
        os.close(fd)
        raise UnsafeFile(f"{what} {path} {problem}")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(limit + 1)
        except OSError as exc:
            raise UnsafeFile(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise UnsafeFile(f"{what} {path} grew past the limit of {limit:,} bytes as it was read")
    return data
