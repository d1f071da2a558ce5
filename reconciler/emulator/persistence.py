"""The state ``camsctl --emulator FILE`` keeps between commands, beside apply's journal.

This module owns that kept state: where it lives, its format, reading it back (distrusting
it), writing it safely with other commands at once, and removing it (``emulator reset``).

* Where: ``.camsctl/emulator/<FILE's name>-<hash of FILE's absolute path>.json`` in the
  current folder, beside apply's default journal ``.camsctl/journal.jsonl``. One folder, one
  account: commands run in another folder (another checkout, another test's temporary folder)
  start from FILE and never see these adds. FILE itself is never written.
* What: the state-file format (``state.py``) without secrets (access keys and OIDC roles are
  always FILE's), plus ``origin``: FILE's absolute path and the SHA-256 of its bytes.
* When: only when the account changes (an add, a number connecting): a command that adds
  nothing writes nothing, so the first ``plan`` of a fresh checkout reads FILE alone.
* FILE changed: if FILE's bytes no longer have the recorded hash, the kept state describes an
  account FILE no longer describes. It is removed and the command starts again from FILE,
  with a note saying so (rather than an error: editing FILE is how one changes the account).
* Two commands at once: each write takes an exclusive ``flock`` on ``<name>.lock`` (never
  through a symbolic link), then writes a temporary file and renames it over the kept state,
  so a reader always sees a whole file. If another command wrote since this one read, the
  two are merged before writing: the emulator's changes are adds and connections, so the
  union loses neither command's adds (a number both added, to two spaces, stays where the
  first writer put it). Adds are not re-read while a command runs: a command sees another's
  adds from its next start, as two clients of an eventually consistent service might.
* Distrust: a kept state that cannot be read (not UTF-8, not JSON, too large, nested too
  deep, a FIFO, a folder) or is not what camsctl writes (unknown keys, secrets, numbers of
  unknown spaces) is refused with one error naming it and ``camsctl emulator reset``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from reconciler.emulator.state import (
    MAX_STATE_BYTES,
    EmulatorState,
    SpaceState,
    StateFileError,
    StateNotKept,
    dump_state,
    parse_state,
    read_state_file,
    state_document,
)
from reconciler.safefile import UnsafeFile, make_folder, open_regular, read_regular

DEFAULT_FOLDER = Path(".camsctl") / "emulator"
"""Where the current folder's kept states live: beside apply's default journal."""
FORMAT_VERSION = 1
LOCK_TIMEOUT = 30.0
"""Seconds to wait for another command's write (each takes milliseconds)."""
_KEPT_NAME = re.compile(r"[A-Za-z0-9._-]{0,40}-[0-9a-f]{16}\.json")


class KeptStateError(StateFileError):
    """The kept state cannot be used; the message names it and says how to start again."""


def kept_path(state_file: Path, folder: Path = DEFAULT_FOLDER) -> Path:
    """Where the state of ``--emulator state_file`` is kept, in ``folder``.

    Named after the file, for people, and the hash of its absolute path (symbolic links
    resolved), so two files of one name never share a kept state.
    """
    absolute = str(state_file.resolve())
    digest = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", state_file.stem)[:40]
    return folder / f"{name}-{digest}.json"


def kept_states(folder: Path = DEFAULT_FOLDER) -> list[Path]:
    """Every kept state in ``folder`` (files named as :func:`kept_path` names them)."""
    try:
        return sorted(path for path in folder.iterdir() if _KEPT_NAME.fullmatch(path.name))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise KeptStateError(f"cannot list {folder}: {exc.strerror}") from None


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _refused(path: Path, why: str) -> KeptStateError:
    return KeptStateError(f"the emulator's kept state {why}; run `camsctl emulator reset` "
                          f"to start again from the state file (it removes {path})")


class StateKeeper:
    """The kept state of one ``--emulator FILE`` in one folder.

    :meth:`open` gives the state to start from; :meth:`save` is the app's ``on_change``.
    """

    def __init__(self, state_file: Path, folder: Path = DEFAULT_FOLDER) -> None:
        self.state_file = state_file
        self.path = kept_path(state_file, folder)
        self._lock_path = self.path.with_suffix(".lock")
        self._file_state: EmulatorState | None = None
        self._file_sha256 = ""
        self._seen: str | None = None  # SHA-256 of the kept file as last read or written

    def open(self, note: Callable[[str], None] = lambda _: None) -> EmulatorState:
        """The state to start from: the kept one if there is one made from FILE as it is
        now, else FILE's (``note`` says why a kept one was set aside).

        Raises StateFileError for a bad FILE, KeptStateError for a bad kept state.
        """
        file_state, raw = read_state_file(self.state_file)
        self._file_state, self._file_sha256 = file_state, _sha256(raw)
        kept = self._read()
        if kept is None:
            return file_state.copy()
        state, source_sha256 = kept
        if source_sha256 != self._file_sha256:
            note(f"Note: {self.state_file} changed since the emulator kept its state in "
                 f"{self.path}; starting again from {self.state_file}.")
            try:
                with self._locked():
                    self.path.unlink(missing_ok=True)
            except (StateNotKept, OSError) as exc:
                raise _refused(self.path, f"is out of date and cannot be removed ({exc})") \
                    from None
            self._seen = None
            return file_state.copy()
        return state

    def save(self, state: EmulatorState) -> None:
        """Keep ``state`` (an add or a connection happened); merged with what another
        command kept meanwhile, which ``state`` then also holds. Raises StateNotKept."""
        try:
            make_folder(self.path.parent)
            with self._locked():
                kept = self._read()  # None: no kept state, or the one this keeper wrote
                if kept is not None and kept[1] == self._file_sha256:
                    _merge(into=state, other=kept[0])
                self._write(state)
        except (UnsafeFile, StateFileError, OSError) as exc:
            raise StateNotKept(f"cannot keep the emulator's state in {self.path}: "
                               f"{exc.strerror if isinstance(exc, OSError) else exc}") from None

    # -- the file --------------------------------------------------------------------------

    def _read(self) -> tuple[EmulatorState, str] | None:
        """The kept state and the FILE hash it was made from; None if there is none.

        When the kept file is the one this keeper last read or wrote, it is not parsed again:
        None then too, meaning "nothing new" (see :meth:`save`).
        """
        try:
            raw = read_regular(self.path, "the emulator's kept state", MAX_STATE_BYTES)
        except UnsafeFile as exc:
            if not self.path.exists() and not self.path.is_symlink():
                self._seen = None
                return None
            raise _refused(self.path, f"cannot be read ({exc})") from None
        digest = _sha256(raw)
        if digest == self._seen:
            return None
        self._seen = digest
        return self._parse(raw)

    def _parse(self, raw: bytes) -> tuple[EmulatorState, str]:
        assert self._file_state is not None
        try:
            document = state_document(self.path, raw)
            root = document.value
            if not isinstance(root, dict):
                raise _refused(self.path, f"{self.path} is not a JSON object")
            origin = root.pop("origin", None)
            if not isinstance(origin, dict) or origin.get("version") != FORMAT_VERSION \
                    or not isinstance(origin.get("sha256"), str):
                raise _refused(self.path, f"{self.path} does not say which state file it was "
                               f"made from (its origin, version {FORMAT_VERSION})")
            secrets = sorted({"access_keys", "oidc"} & set(root))
            if secrets:
                raise _refused(self.path, f"{self.path} holds {', '.join(secrets)}, which "
                               "camsctl never keeps there (they always come from the state file)")
            kept = parse_state(root, str(self.path), located=document)
        except KeptStateError:
            raise
        except StateFileError as exc:
            raise _refused(self.path, f"is not valid: {exc}") from None
        file_state = self._file_state
        unknown = sorted(set(kept.spaces) - set(file_state.spaces))
        if unknown:
            raise _refused(self.path, f"{self.path} has spaces the state file does not have "
                           f"({', '.join(unknown[:3])})")
        kept.access_keys = dict(file_state.access_keys)
        kept.access_keys_given = file_state.access_keys_given
        kept.oidc_roles = file_state.oidc_roles
        kept.connect_after = file_state.connect_after
        return kept, str(origin["sha256"])

    def _write(self, state: EmulatorState) -> None:
        document = dump_state(state)
        for secret in ("access_keys", "oidc"):
            document.pop(secret, None)
        document = {"origin": {"version": FORMAT_VERSION,
                               "file": str(self.state_file.resolve()),
                               "sha256": self._file_sha256}, **document}
        raw = (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                         suffix=".tmp")
        try:
            # No fsync: the rename alone means readers see a whole file, and each add rewrites
            # the whole state. A power cut may tear it, which the next command then reports.
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
            os.replace(temporary, self.path)  # replaces a symbolic link, never its target
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._seen = _sha256(raw)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with exclusive(self._lock_path):
            yield


@contextlib.contextmanager
def exclusive(lock_path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing, never through a
    symbolic link); released by the kernel if the process dies."""
    try:
        fd = open_regular(lock_path, os.O_RDWR | os.O_CREAT, "the emulator's lock", 0o644)
    except UnsafeFile as exc:
        raise StateNotKept(str(exc)) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StateNotKept(f"another command held {lock_path} for more than "
                                       f"{timeout:g} s") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def _merge(*, into: EmulatorState, other: EmulatorState) -> None:
    """Make ``into`` hold ``other``'s numbers too (another command's adds and connections).

    ``into``'s version of a number wins where both have it; a number ``other`` has in
    another space than ``into`` stays in ``other``'s space (its writer was first).
    """
    ours = {str(n.get("PhoneNumber")): (space_id, n)
            for space_id, space in into.spaces.items() for n in space.numbers}
    merged: dict[str, SpaceState] = {
        space_id: SpaceState(waba=space.waba, numbers=[], profiles=space.profiles)
        for space_id, space in into.spaces.items()}
    placed: set[str] = set()
    for space_id, space in other.spaces.items():
        target = merged.setdefault(space_id, SpaceState(waba=space.waba,
                                                        profiles=space.profiles))
        for number in space.numbers:
            phone = str(number.get("PhoneNumber"))
            mine = ours.get(phone)
            target.numbers.append(mine[1] if mine is not None and mine[0] == space_id
                                  else number)
            placed.add(phone)
    for space_id, space in into.spaces.items():
        merged[space_id].numbers += [n for n in space.numbers
                                     if str(n.get("PhoneNumber")) not in placed]
    pending = {**other.pending, **into.pending}
    statuses = {str(n.get("PhoneNumber")): n.get("Status")
                for space in merged.values() for n in space.numbers}
    into.spaces.clear()
    into.spaces.update(merged)
    into.pending.clear()
    into.pending.update({phone: added for phone, added in pending.items()
                         if statuses.get(phone) == "PENDING"})


def reset(state_file: Path | None, folder: Path = DEFAULT_FOLDER) -> list[Path]:
    """Remove the kept state of ``state_file`` (None: every kept state in ``folder``), so the
    next command starts again from the state file. Returns what was removed."""
    targets = [kept_path(state_file, folder)] if state_file is not None \
        else kept_states(folder)
    removed = []
    for path in targets:
        if not path.exists() and not path.is_symlink():
            continue
        with exclusive(path.with_suffix(".lock")):
            try:
                path.unlink()
            except IsADirectoryError:
                raise KeptStateError(f"{path} is a folder, not a kept state; remove it "
                                     "yourself") from None
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise KeptStateError(f"cannot remove {path}: {exc.strerror}") from None
        removed.append(path)
    return removed
