"""Opening the files apply writes (journal, lock) safely: never through a symbolic link (which
could point at any file of the user's), only regular files (a FIFO would hang), and with one
clear message for every way it can fail."""

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


def read_regular(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes (``what`` names it).

    Opened without blocking and checked before reading: a FIFO or a device put in the file's
    place (``/dev/zero``, a named pipe nobody writes) is refused instead of hanging the read.
    A symbolic link is followed: these are files the user points camsctl at.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafeFile(f"cannot open {what} {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode) \
                else "a device or socket"
            raise UnsafeFile(f"{what} {path} is not a regular file ({kind})")
        chunks = []
        size = 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UnsafeFile(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise UnsafeFile(f"{what} {path} is larger than {limit:,} bytes")
    return data
