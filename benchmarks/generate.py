"""Generators of big accounts for the benchmarks: a manifest and the matching emulator state.

Nothing here is committed as data: every benchmark writes what it needs into a temporary
folder. Numbers are valid mobile numbers of a few countries, written in varied notations (as
people write them), so parsing does its real work; every declared number is live with the
declared name, so a plan of a generated account has no adds and no drift, and makes exactly
one read per space.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (country calling code, national prefix digits, digits after the prefix, notation)
_PLANS: tuple[tuple[str, str, int, str], ...] = (
    ("86", "138", 8, "+86 {p} {a} {b}"),    # China mobile: +86 138 xxxx xxxx
    ("86", "139", 8, "+86-{p}-{a}-{b}"),
    ("39", "347", 7, "+39 {p} {a}{b}"),     # Italy mobile: +39 347 xxx xxxx
    ("44", "79", 8, "+44 {p}{a} {b}"),      # UK mobile: +44 79xx xxxxxx
)


def phone(index: int) -> tuple[str, str]:
    """The ``index``-th generated number: (as written in a manifest, live digits Cc+national)."""
    cc, prefix, width, notation = _PLANS[index % len(_PLANS)]
    serial = index // len(_PLANS)
    rest = f"{serial:0{width}d}"
    half = 2 if cc == "44" else len(rest) // 2
    written = notation.format(p=prefix, a=rest[:half], b=rest[half:])
    return written, f"{cc}{prefix}{rest}"


def space_id(index: int) -> str:
    return f"{200000000000000 + index}"


@dataclass(frozen=True)
class Account:
    """Paths of a generated manifest and state file, and their sizes."""

    manifest: Path
    state: Path
    spaces: int
    numbers: int


def account_documents(spaces: int, numbers: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A manifest declaring ``numbers`` numbers spread over ``spaces`` spaces, and the state."""
    manifest_spaces: list[dict[str, Any]] = []
    state_spaces: dict[str, Any] = {}
    per_space, extra = divmod(numbers, spaces)
    index = 0
    for s in range(spaces):
        declared: list[dict[str, Any]] = []
        live: list[dict[str, Any]] = []
        for _ in range(per_space + (1 if s < extra else 0)):
            written, digits = phone(index)
            name = f"Line {index}"
            declared.append({"phone": written, "verified_name": name})
            live.append({"PhoneNumber": digits, "VerifiedName": name, "Status": "CONNECTED",
                         "NameStatus": "APPROVED", "QualityRating": "GREEN"})
            index += 1
        manifest_spaces.append({"id": space_id(s), "label": f"space-{s}", "numbers": declared})
        state_spaces[space_id(s)] = {"numbers": live}
    return {"version": 1, "spaces": manifest_spaces}, {"spaces": state_spaces}


def _manifest_yaml(document: dict[str, Any]) -> str:
    # Written by hand in the block style people use (yaml.safe_dump of 100k numbers is slow
    # and its flow style is not what manifests look like).
    lines = ["version: 1", "defaults:", "  status: [CONNECTED]", "spaces:"]
    for space in document["spaces"]:
        lines.append(f'  - id: "{space["id"]}"')
        lines.append(f"    label: {space['label']}")
        lines.append("    numbers:")
        for number in space["numbers"]:
            lines.append(f'      - phone: "{number["phone"]}"')
            lines.append(f"        verified_name: {number['verified_name']}")
    return "\n".join(lines) + "\n"


def write_account(folder: Path, spaces: int, numbers: int) -> Account:
    """Write ``manifest.yaml`` and ``state.json`` into ``folder``."""
    manifest, state = account_documents(spaces, numbers)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.yaml"
    manifest_path.write_text(_manifest_yaml(manifest), encoding="utf-8")
    state_path = folder / "state.json"
    state_path.write_text(json.dumps(state), encoding="utf-8")
    return Account(manifest_path, state_path, spaces, numbers)
