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
