"""``camsctl import``: write a manifest of what spaces have now. Pure: live state in, YAML out.

Each live number becomes a declared number with its live verified name; a status other than
CONNECTED is declared as the allowed status, and the bound WABA's id and review status are
declared, so planning right after an import shows nothing to add and no drift.

Live values are the service's, so anything may be in them. Every value is written by
:func:`_scalar`, a YAML double-quoted scalar made by PyYAML's own emitter (line breaks,
controls and quotes escaped, on one line; ids and numbers stay strings), so no value can add
a key, a number or a comment. What a manifest cannot declare is never written as a value,
the way ``terraform import`` users expect: the resource is kept and the next plan shows the
difference. A status that is not a well-formed name (``^[A-Z][A-Z_]*$``) is left out, so the
number keeps the default and plan reports its status as drift; a number that is not a phone
number, or has no name, is left out, so plan reports it as unmanaged. Each omission is a
comment in the file and a note (:func:`import_notes`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from reconciler.live import LiveNumber, LiveSpace
from reconciler.manifest import DEFAULT_STATUSES

_STATUS = re.compile(r"[A-Z][A-Z_]*")
"""A status a manifest may declare: the documented ones and the vendor's others (OFFLINE)."""

_BIDI_ESCAPES = {code: f"\\u{code:04X}"
                 for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
"""Bidi embeddings, overrides and isolates, which PyYAML writes raw: escaped too, so the
written file reads in review as it loads."""


def _scalar(text: str) -> str:
    """``text`` as one YAML double-quoted scalar on one line; it loads back as ``text``."""
    emitted = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=float("inf"))
    return emitted.rstrip("\n").translate(_BIDI_ESCAPES)


def _declarable_status(status: str) -> bool:
    return _STATUS.fullmatch(status) is not None


def _unwritable(number: LiveNumber) -> str | None:
    """Why ``number`` cannot be declared at all, or None."""
    if not number.phone.country_code:
        return "not a phone number camsctl can read"
    if not number.verified_name.strip():
        return "it has no verified name"
    return None


def _status_note(number: LiveNumber) -> str:
    return (f"the live status {_scalar(number.status)} cannot be declared (not a status "
            "name); left out, so plan reports it as drift")


def import_notes(spaces: Sequence[LiveSpace]) -> list[str]:
    """What the manifest of ``spaces`` leaves out, one line each, for the person importing.

    Live values in them are quoted as in the manifest, so no control reaches a terminal.
    """
    notes = []
    for space in spaces:
        for number in space.numbers.values():
            subject = f"space {space.id}, {_scalar(number.phone.e164)}"
            why = _unwritable(number)
            if why is not None:
                notes.append(f"{subject}: not imported: {why}")
            elif not _declarable_status(number.status):
                notes.append(f"{subject}: {_status_note(number)}")
    return notes


def render_manifest(spaces: Sequence[LiveSpace], *, isv_code: str | None,
                    schema_path: str) -> str:
    """The manifest text for ``spaces`` (read with their WABA), in the order given."""
    lines = [f"# yaml-language-server: $schema={schema_path}",
             "# Written by `camsctl import`: the live state of these spaces when it ran.",
             "version: 1", "spaces:"]
    for space in spaces:
        lines.append(f"  - id: {_scalar(space.id)}")
        if isv_code:
            lines.append(f"    isv_code: {_scalar(isv_code)}")
        if space.waba is not None and space.waba.id:
            lines.append("    waba:")
            lines.append(f"      id: {_scalar(space.waba.id)}")
            if space.waba.review_status in ("PENDING", "APPROVED", "REJECTED", "DISABLED"):
                lines.append(f"      review_status: {space.waba.review_status}")
        left_out = [f"      # not imported: {_scalar(n.phone.e164)}: {why}"
                    for n in space.numbers.values() if (why := _unwritable(n)) is not None]
        declared = [n for n in space.numbers.values() if _unwritable(n) is None]
        lines.append("    numbers:" if declared else "    numbers: []")
        for number in declared:
            lines.append(f"      - phone: {_scalar(number.phone.e164)}")
            lines.append(f"        verified_name: {_scalar(number.verified_name)}")
            if not _declarable_status(number.status):
                lines.append(f"        # {_status_note(number)}")
            elif number.status not in DEFAULT_STATUSES:
                lines.append(f"        status: [{_scalar(number.status)}]")
        lines.extend(left_out)
    return "\n".join(lines) + "\n"


def schema_reference(schema_file: Path, manifest_dir: Path) -> str:
    """The ``$schema`` path to write in a manifest saved in ``manifest_dir``."""
    try:
        return Path(os.path.relpath(schema_file, manifest_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows): an absolute path still works for editors
        return schema_file.as_posix()
