"""Finding and reading manifest files: the disk edge in front of the pure manifest rules.

A path argument is a file or a directory; a directory contributes every ``*.yaml``/``*.yml``
below it, recursively, in sorted order, skipping hidden files and folders. In a directory, a YAML
file with no top-level ``version`` key is not a camsctl manifest (an emulator state file, a CI
workflow) and is skipped with a note; a file named explicitly must be a manifest.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.diagnostics import Diagnostic, Location, error, note, sort_key
from reconciler.manifest import Desired, build_desired, written_phones
from reconciler.phoneprefetch import PhonePrefetch
from reconciler.yamlsource import LocatedDocument, parse_yaml

MAX_FILE_BYTES = 32 * 1024 * 1024
"""Largest manifest read; 100,000 numbers take about 10 MiB, so this leaves room."""

_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadResult:
    """What loading found: the desired state (None if any error), every diagnostic, the files."""

    desired: Desired | None
    diagnostics: tuple[Diagnostic, ...]
    files: tuple[str, ...]
    skipped: tuple[str, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)


def _display(path: Path) -> str:
    return path.as_posix()


def discover(paths: Sequence[str]) -> tuple[list[tuple[Path, bool]], list[Diagnostic]]:
    """The files to read, each with whether it was named explicitly, and path errors."""
    found: list[tuple[Path, bool]] = []
    problems: list[Diagnostic] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            below: list[Path] = []
            for folder, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                below.extend(Path(folder) / name for name in files
                             if name.endswith(_SUFFIXES) and not name.startswith("."))
            for file in sorted(below):
                kind = _not_regular(file)
                if kind is not None:  # a FIFO would hang the read: say so, read the rest
                    problems.append(note(Location(_display(file)), f"skipped: {kind}"))
                elif file.resolve() not in seen:
                    seen.add(file.resolve())
                    found.append((file, False))
        elif path.is_file():
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append((path, True))
        elif path.exists() or path.is_symlink():
            problems.append(error(Location(raw), _not_regular(path) or "not a regular file"))
        else:
            problems.append(error(Location(raw), "no such file or directory"))
    return found, problems


def _not_regular(path: Path) -> str | None:
    """Why ``path`` is no file to read (a FIFO, a device, a broken or looping link), or None."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) \
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file"
    return f"not a regular file ({kind})"


def read_manifest(path: Path) -> tuple[LocatedDocument | None, list[Diagnostic]]:
    """Read and parse one file, bounded in size; errors are located in that file."""
    name = _display(path)
    try:
        # Non-blocking, then checked: a FIFO put in the file's place must not hang the read.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                return None, [error(Location(name), "not a regular file")]
            if status.st_size > MAX_FILE_BYTES:
                return None, [error(Location(name), f"the file is {status.st_size:,} bytes; "
                                    f"manifests are limited to {MAX_FILE_BYTES:,} bytes: "
                                    "split it")]
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [error(Location(name), f"cannot read the file: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [error(Location(name, line, 1), "the file is not UTF-8 text")]
    return parse_yaml(name, text)


def load(paths: Sequence[str], *, today: dt.date) -> LoadResult:
    """Load every manifest under ``paths`` and build the desired state, collecting all errors.

    ``today`` is the date of the run, which acknowledgements are checked against (at most
    :data:`~reconciler.signals.MAX_ACK_DAYS` days ahead). It is an argument, never read from
    the clock here, so that one run uses one date everywhere (the CLI derives it from the
    moment its plan records) and tests can fix it.

    Two effects reach beyond the files, both for speed only: neither changes a result
    (``tests/test_fast_paths.py``), and both are undone before this returns or raises, whatever
    the exception. Why, measured with ``camsctl validate`` at 100k numbers
    (``benchmarks/README.md``):

    - The cyclic garbage collector is paused (a collector the caller had disabled stays so).
      Loading makes millions of objects and frees almost none, so the collector would walk
      them again and again for nothing: with it running, a plain manifest takes 3.3 s instead
      of 2.9 s, and one whose numbers use a merge key (read through PyYAML's node graph)
      10.0 s instead of 4.6 s. Reference counting still frees what it always did.
    - When the files hold :data:`~reconciler.phoneprefetch.PREFETCH_MIN_BYTES` or more and a
      fork is safe (Linux, no other thread, a second core), one forked worker parses most
      phone numbers on the second core while this process reads the YAML: 2.9 s instead of
      4.2 s, libphonenumber being the largest single cost. The worker is stopped and reaped.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        files, diagnostics = discover(paths)
        ahead = PhonePrefetch.start([path for path, _ in files])
        try:
            return _load_files(paths, files, diagnostics, ahead, today)
        finally:
            if ahead is not None:
                ahead.close()
    finally:
        if collecting:
            gc.enable()


def _load_files(paths: Sequence[str], files: list[tuple[Path, bool]],
                diagnostics: list[Diagnostic], ahead: PhonePrefetch | None,
                today: dt.date) -> LoadResult:
    if not paths:
        diagnostics.append(error(Location("camsctl"), "no manifest paths given"))
    documents: list[LocatedDocument] = []
    skipped: list[str] = []
    for path, explicit in files:
        document, problems = read_manifest(path)
        diagnostics.extend(problems)
        if document is None:
            continue
        if not explicit and not (isinstance(document.value, dict) and "version" in document.value):
            skipped.append(document.file)
            diagnostics.append(note(Location(document.file),
                                    "skipped: no top-level 'version' key, so not a camsctl "
                                    "manifest"))
            continue
        if document.value is None:
            diagnostics.append(error(Location(document.file, 1, 1),
                                     "the file is empty; a manifest needs 'version: 1' and "
                                     "'spaces'"))
            continue
        documents.append(document)
    if files and not documents and not any(d.is_error for d in diagnostics):
        diagnostics.append(error(Location(", ".join(paths)), "no manifests found"))
    phones = ahead.parse(written_phones(documents)) if ahead is not None else {}
    desired, problems = build_desired(documents, phones=phones, today=today)
    diagnostics.extend(problems)
    has_errors = any(d.is_error for d in diagnostics)
    return LoadResult(
        desired=None if has_errors else desired,
        diagnostics=tuple(sorted(diagnostics, key=sort_key)),
        files=tuple(doc.file for doc in documents),
        skipped=tuple(skipped),
    )
