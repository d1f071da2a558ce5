"""The lock file that CI and the README install from agrees with pyproject.toml.

``requirements-dev.lock`` pins, with hashes, every package that ``pip install -e '.[dev]'``
would bring in. Changing a dependency in pyproject.toml without refreshing the lock (README,
"Reproducible installs") would leave CI testing something else than what users get: caught here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.MULTILINE)


def _locked() -> dict[str, Version]:
    text = (REPO / "requirements-dev.lock").read_text(encoding="utf-8")
    return {canonicalize_name(name): Version(version) for name, version in _PIN.findall(text)}


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in
            [*project["dependencies"], *project["optional-dependencies"]["dev"]]]


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    locked = _locked()
    problems = []
    for requirement in _declared():
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside '{requirement}'")
    assert problems == [], "refresh requirements-dev.lock (README): " + "; ".join(problems)


def test_every_locked_package_carries_a_hash() -> None:
    lines = (REPO / "requirements-dev.lock").read_text(encoding="utf-8").splitlines()
    body = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    entries = re.split(r"\n(?=[A-Za-z0-9])", body.strip())
    assert len(entries) == len(_locked()) > 20
    assert all("--hash=sha256:" in entry for entry in entries)
