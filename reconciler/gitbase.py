"""The manifests as they were at a git revision: the base a pull-request plan compares with.

The edge to git, through the ``git`` command line (what CI runners have). The manifest paths of
the run are mapped into the work tree, the files under them at the revision are copied out of
git into a temporary folder with the same layout, and loaded there the way the working tree's
are. Only regular files are copied; nothing is written inside the repository.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TypeVar

T = TypeVar("T")

GIT_TIMEOUT = 120.0
"""Seconds any one git command may take."""


class GitBaseError(Exception):
    """The base revision cannot be read: no git, not a work tree, an unknown revision."""


def _git(top: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(top), *args], capture_output=True,
                              timeout=GIT_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise GitBaseError("--changed-since needs the git command, and it was not found") \
            from None
    except subprocess.TimeoutExpired:
        raise GitBaseError(f"git {args[0]} took more than {GIT_TIMEOUT:g} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitBaseError(f"git {args[0]} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def work_tree(path: Path) -> Path:
    """The top folder of the git work tree holding ``path``."""
    folder = path if path.is_dir() else path.parent
    try:
        top = _git(folder, "rev-parse", "--show-toplevel")
    except GitBaseError:
        raise GitBaseError(f"{path} is not in a git work tree; --changed-since compares with "
                           "a git revision") from None
    return Path(os.fsdecode(top.strip()))


def resolve(top: Path, ref: str) -> str:
    """The commit ``ref`` names, or a clear error."""
    if ref.startswith("-"):
        raise GitBaseError(f"unknown git revision {ref!r}")
    try:
        return _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options",
                    f"{ref}^{{commit}}").decode().strip()
    except GitBaseError:
        raise GitBaseError(f"unknown git revision {ref!r} (fetch it first: CI checkouts are "
                           "often shallow, e.g. actions/checkout needs fetch-depth: 0)") from None


def _inside(top: Path, path: Path) -> str:
    absolute = Path(os.path.realpath(path))
    try:
        relative = absolute.relative_to(os.path.realpath(top))
    except ValueError:
        raise GitBaseError(f"{path} is outside the git work tree {top}") from None
    return relative.as_posix() or "."


def _export(top: Path, commit: str, relatives: Sequence[str], into: Path) -> None:
    """Copy the regular files under ``relatives`` at ``commit`` into ``into``."""
    listed = [os.fsdecode(name) for name in _git(
        top, "ls-tree", "-r", "-z", "--name-only", commit, "--", *relatives).split(b"\0")
        if name]
    present = [relative for relative in relatives if relative == "." or any(
        name == relative or name.startswith(relative + "/") for name in listed)]
    if not present:
        return
    archive = _git(top, "archive", "--format=tar", commit, "--", *present)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar:
            name = PurePosixPath(member.name)
            if not member.isreg() or name.is_absolute() or ".." in name.parts:
                continue
            source = tar.extractfile(member)
            if source is None:
                continue
            target = into.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read())


def load_at(ref: str, paths: Sequence[str], load: Callable[[list[str]], T]) -> tuple[str, T]:
    """The manifests ``paths`` as they were at ``ref``, loaded by ``load`` (given the paths in
    a temporary copy, with the same layout): the commit and ``load``'s result. Paths that did
    not exist at ``ref`` are left out, so a manifest new since then declares new spaces."""
    first = Path(paths[0])
    top = work_tree(first)
    commit = resolve(top, ref)
    relatives = [_inside(top, Path(path)) for path in paths]
    with tempfile.TemporaryDirectory(prefix="camsctl-base-") as folder:
        base = Path(folder)
        _export(top, commit, relatives, base)
        present = [str(base / relative) for relative in relatives
                   if (base / relative).exists()]
        return commit, load(present)
