"""``camsctl import``: write a manifest of what spaces have now. Pure: live state in, YAML out.

Each live number becomes a declared number with its live verified name; a status other than
CONNECTED is declared as the allowed status; its quality rating is declared as the one allowed,
and its messaging limit tier as the minimum; and the bound WABA's id and review status are
declared, so planning right after an import shows nothing to add and no drift. Health is left
out where it means nothing yet: for a number WhatsApp is still verifying (PENDING, UNVERIFIED:
the plan does not check it) and for the rating UNKNOWN (no rating yet: declaring it would turn
into drift as soon as WhatsApp rates the number).

Live values are the service's, so anything may be in them. Every value is written by
:func:`_scalar`, a YAML double-quoted scalar made by PyYAML's own emitter (line breaks,
controls and quotes escaped, on one line; ids and numbers stay strings), so no value can add
a key, a number or a comment. What a manifest cannot declare is never written as a value,
the way ``terraform import`` users expect: the resource is kept and the next plan shows the
difference. A status that is not a well-formed name (``^[A-Z][A-Z_]*$``) is left out, so the
number keeps the default and plan reports its status as drift; a quality rating or tier camsctl
does not know is left out, so it is not checked; a number that is not a phone number, or has
no name, or a name the manifest's character rule refuses (:mod:`reconciler.characters`), is
left out, so plan reports it as unmanaged. Each omission is a comment in the file and a note
(:func:`import_notes`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from reconciler.characters import describe, is_blank, refused_character
from reconciler.live import LiveNumber, LiveSpace
from reconciler.manifest import DEFAULT_STATUSES
from reconciler.signals import PENDING_STATUSES, QUALITY_RATINGS, TIER_ORDER

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
    refused = refused_character(number.verified_name)
    if refused is not None:
        return (f"its verified name holds {describe(refused)}, which a manifest refuses in "
                "text")
    if is_blank(number.verified_name):
        return "its verified name shows nothing (only invisible characters)"
    return None


def _status_note(number: LiveNumber) -> str:
    return (f"the live status {_scalar(number.status)} cannot be declared (not a status "
            "name); left out, so plan reports it as drift")


def _health(number: LiveNumber) -> tuple[list[str], list[str]]:
    """The health lines to declare for ``number`` (its rating as the one allowed, its tier as
    the minimum), and a note for each live value left out because camsctl does not know it."""
    if number.status in PENDING_STATUSES:
        return [], []  # no rating, lowest tier: nothing is checked until WhatsApp verifies it
    lines: list[str] = []
    notes: list[str] = []
    rating, tier = number.quality_rating, number.messaging_limit_tier
    if rating in QUALITY_RATINGS and rating != "UNKNOWN":
        lines.append(f"quality_rating: [{_scalar(rating)}]")
    elif rating is not None and rating != "UNKNOWN":
        notes.append(f"the live quality rating {_scalar(rating)} is not one camsctl knows; "
                     "left out, so it is not checked")
    if tier in TIER_ORDER:
        lines.append(f"messaging_limit_tier: {_scalar(tier)}")
    elif tier is not None:
        notes.append(f"the live messaging limit tier {_scalar(tier)} is not one camsctl "
                     "knows; left out, so it is not checked")
    return lines, notes


def _declared_notes(number: LiveNumber) -> list[str]:
    """What the declaration of ``number`` leaves out of its live values, one note each."""
    notes = [] if _declarable_status(number.status) else [_status_note(number)]
    return notes + _health(number)[1]


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
            else:
                notes.extend(f"{subject}: {note}" for note in _declared_notes(number))
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
            if _declarable_status(number.status) and number.status not in DEFAULT_STATUSES:
                lines.append(f"        status: [{_scalar(number.status)}]")
            lines.extend(f"        {line}" for line in _health(number)[0])
            lines.extend(f"        # {note}" for note in _declared_notes(number))
        lines.extend(left_out)
    return "\n".join(lines) + "\n"


def schema_reference(schema_file: Path, manifest_dir: Path) -> str:
    """The ``$schema`` path to write in a manifest saved in ``manifest_dir``."""
    try:
        return Path(os.path.relpath(schema_file, manifest_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows): an absolute path still works for editors
        return schema_file.as_posix()
