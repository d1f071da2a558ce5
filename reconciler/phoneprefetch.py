"""Parsing a big manifest's phone numbers in a forked worker while the loader reads the YAML.

An edge module (it forks a process and reads files), used by :func:`reconciler.loader.load`
only, so the pure core never forks; why the loader forks at all is said in ``load``'s
docstring. :meth:`PhonePrefetch.start` forks the worker as soon as the files are found: it
guesses the numbers from their ``phone: "..."`` lines and parses a share of them. Then
:meth:`PhonePrefetch.parse` parses the rest here, takes the worker's results and gives a
mapping "written text -> what :func:`~reconciler.phone.parse_phone` gives it", which the pure
``build_desired`` only looks up. Every result is ``parse_phone``'s own for that exact text, so
the outcome is the one of parsing one by one; anything that goes wrong here only costs time.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from reconciler.phone import PhoneNumber, PhoneNumberError, parse_phone

_Raw = tuple[str, str, str, bool] | str | None


def _parse_one(text: str) -> PhoneNumber | PhoneNumberError | None:
    """What :func:`parse_phone` gives ``text``; None if it raises anything unexpected."""
    try:
        return parse_phone(text)
    except PhoneNumberError as exc:
        return PhoneNumberError(str(exc))  # the message alone, not the frames it was raised in
    except Exception:  # left to the caller's own parse_phone call to raise
        return None


def _parse_raw(texts: list[str]) -> list[_Raw]:
    """:func:`_parse_one` of each text in a form cheap to send between processes: the
    PhoneNumber's fields, the PhoneNumberError's message, or None."""
    out: list[_Raw] = []
    for text in texts:
        result = _parse_one(text)
        if isinstance(result, PhoneNumber):
            out.append((result.e164, result.country_code, result.national_number, result.valid))
        else:
            out.append(None if result is None else str(result))
    return out


def _from_raw(raw: _Raw) -> PhoneNumber | PhoneNumberError | None:
    """The inverse of :func:`_parse_raw` for one text's result."""
    if isinstance(raw, str):
        return PhoneNumberError(raw)
    if raw is None:
        return None
    e164, country_code, national, valid = raw
    return PhoneNumber(e164=e164, country_code=sys.intern(country_code),
                       national_number=national, valid=valid)


def _can_fork() -> bool:
    """Whether a forked worker is safe and useful: a Unix fork, no other thread that could
    hold a lock in the child, and a second core to run it on."""
    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if threading.active_count() != 1:
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) > 1


PREFETCH_MIN_BYTES = 256 * 1024
"""Manifest bytes (some 3,500 numbers) from which :class:`PhonePrefetch` starts a worker."""

PREFETCH_SHARE = 0.7
"""The share of the numbers the prefetch worker parses; the caller, busy reading the YAML
meanwhile, parses the rest."""

# `phone: "..."` (or '...') alone on its line, as manifests write it: the prefetch worker's
# guess of the numbers a file declares. A wrong or missed guess costs only time: every result
# is parse_phone's own for that exact text, and a text without one is parsed by the caller.
_WRITTEN_PHONE = re.compile(r"""^[ \t]*(?:-[ \t]+)?phone:[ \t]*(?:"([^"\\\n]*)"|'([^'\n]*)')"""
                            r"[ \t]*$", re.MULTILINE)


PREFETCH_CHUNK = 4096
"""Results per message from the worker: the caller unpickles one chunk at a time, so the
results in transit never hold much of its memory."""


def _prefetch(files: list[str]) -> list[tuple[str, _Raw]]:
    """In the worker: the first :data:`PREFETCH_SHARE` of the numbers written in ``files``."""
    guessed: dict[str, None] = {}
    for name in files:
        try:
            with open(name, encoding="utf-8-sig", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        guessed.update((found[1] or found[2], None) for found in _WRITTEN_PHONE.finditer(text))
        del text
    unique = list(guessed)
    mine = unique[:int(len(unique) * PREFETCH_SHARE)]
    return list(zip(mine, _parse_raw(mine), strict=True))


def _prefetch_into(connection: Any, files: list[str]) -> None:
    """In the worker: parse its share, then send the results in chunks, then None."""
    try:
        results = _prefetch(files)
        for start in range(0, len(results), PREFETCH_CHUNK):
            connection.send(results[start:start + PREFETCH_CHUNK])
        connection.send(None)
    finally:
        connection.close()


class PhonePrefetch:
    """Numbers parsed ahead in a forked worker, on the second core, while the caller reads and
    checks the YAML; :meth:`parse` parses the remaining share and takes the worker's results.
    The caller must :meth:`close` it, whatever happens."""

    def __init__(self, process: Any, connection: Any) -> None:
        self._process = process
        self._connection = connection

    @classmethod
    def start(cls, files: Sequence[Path]) -> PhonePrefetch | None:
        """A worker for ``files``, or None when they are small or a fork is not safe."""
        total = 0
        for path in files:
            try:
                total += path.stat().st_size
            except OSError:
                continue
        if total < PREFETCH_MIN_BYTES or not _can_fork() or not _flush_streams():
            return None
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_prefetch_into, args=(send, [str(f) for f in files]),
                                  daemon=True)
        try:
            process.start()
        except OSError:
            receive.close()
            return None
        finally:
            send.close()
        return cls(process, receive)

    def parse(self, texts: Iterable[str]) -> dict[str, PhoneNumber | PhoneNumberError]:
        """What :func:`parse_phone` returns (or the :class:`PhoneNumberError` it raises) for
        ``texts``: the share the worker left, parsed here, then whatever the worker parsed.

        Texts the worker missed or lost (a wrong guess, a dead worker) are left out, and so are
        texts whose parse raised anything else: the caller parses those itself.
        """
        # Keyed by the caller's own strings (the worker's copies are let go with their
        # chunk); None until a result is found.
        found: dict[str, PhoneNumber | PhoneNumberError | None] = dict.fromkeys(texts)
        unique = list(found)
        for text in unique[int(len(unique) * PREFETCH_SHARE):]:
            found[text] = _parse_one(text)
        del unique
        for chunk in self._results():
            for text, raw in chunk:
                if text in found and found[text] is None:
                    found[text] = _from_raw(raw)
        for text in [text for text, result in found.items() if result is None]:
            del found[text]
        return cast(dict[str, PhoneNumber | PhoneNumberError], found)  # no None is left

    def _results(self) -> Iterator[list[tuple[str, _Raw]]]:
        """The worker's chunks of results, waiting for each; stops early if it dies."""
        try:
            while True:
                while not self._connection.poll(0.05):
                    if not self._process.is_alive() and not self._connection.poll():
                        return
                chunk: list[tuple[str, _Raw]] | None = self._connection.recv()
                if chunk is None:
                    return
                yield chunk
        except (OSError, EOFError):
            return

    def close(self) -> None:
        """Stop the worker if it still runs, and let it go."""
        self._connection.close()
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()


def _flush_streams() -> bool:
    """Flush stdout and stderr before a fork: a forked child flushes what it inherits on exit,
    and must find nothing left to write twice."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return False
    return True
