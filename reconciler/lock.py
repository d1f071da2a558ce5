"""The apply lock: one apply at a time per journal folder, across processes on one machine.

A second apply waits (up to ``--lock-timeout``) and then plans from what the first one left,
so two applies started together never both send the same add. The lock is ``flock`` on a
file beside the journal: it is released by the kernel when its holder exits, even by SIGKILL,
so a crash never leaves a stale lock. It does not reach across machines; there, the service
itself refuses a second add of a number (apply then reports it ``already-present``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from reconciler.safefile import UnsafeFile, make_folder, open_regular


class LockError(Exception):
    """The lock cannot be taken: another apply held it too long, or the file is unusable."""


class LockTimeout(LockError):
    """Another apply held the lock for longer than we were willing to wait."""


class ApplyLock:
    def __init__(self, path: Path, timeout: float,
                 waiting: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.timeout = timeout
        self._waiting = waiting
        self._fd: int | None = None

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            pid = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
        except OSError:
            pid = ""
        return f"pid {pid}" if pid.isdigit() else "another process"

    def _open(self) -> int:
        """The lock file, never through a symlink (it would truncate the link's target)."""
        try:
            make_folder(self.path.parent)
            return open_regular(self.path, os.O_RDWR | os.O_CREAT, "the apply lock", 0o644)
        except UnsafeFile as exc:
            raise LockError(str(exc)) from None

    def __enter__(self) -> ApplyLock:
        fd = self._open()
        deadline = time.monotonic() + self.timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder(fd)
                    os.close(fd)
                    raise LockTimeout(f"another apply ({holder}) holds {self.path}; "
                                      f"waited {self.timeout:g} s") from None
                if not told and self._waiting is not None:
                    self._waiting(f"waiting for another apply ({self._holder(fd)}) to finish…")
                    told = True
                time.sleep(0.1)
        with contextlib.suppress(OSError):  # the pid only tells a waiting apply who we are
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
