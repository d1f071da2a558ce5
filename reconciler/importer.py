"""``camsctl import``: write a manifest of what spaces have now. Pure: answers in, YAML text out.

Each live number becomes a declared number with its live verified name; a status other than
CONNECTED is declared as the allowed status, and the bound WABA's id and review status are
declared, so planning right after an import shows nothing to add and no drift. Every scalar is
written as a JSON string, which is a YAML double-quoted string: ids and numbers stay strings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.api import BoundWaba, NumbersResult
from reconciler.manifest import DEFAULT_STATUSES
from reconciler.phone import from_live_digits


@dataclass(frozen=True)
class ImportedSpace:
    """What was read for one space to import it."""

    id: str
    numbers: NumbersResult
    waba: BoundWaba | None


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def render_manifest(spaces: Sequence[ImportedSpace], *, isv_code: str | None,
                    schema_path: str) -> str:
    """The manifest text for ``spaces``, in the order given."""
    lines = [f"# yaml-language-server: $schema={schema_path}",
             "# Written by `camsctl import`: the live state of these spaces when it ran.",
             "version: 1", "spaces:"]
    for space in spaces:
        lines.append(f"  - id: {_q(space.id)}")
        if isv_code:
            lines.append(f"    isv_code: {_q(isv_code)}")
        if space.waba is not None:
            lines.append("    waba:")
            lines.append(f"      id: {_q(space.waba.id)}")
            if space.waba.account_review_status in ("PENDING", "APPROVED", "REJECTED",
                                                    "DISABLED"):
                lines.append(f"      review_status: {space.waba.account_review_status}")
        if not space.numbers.numbers:
            lines.append("    numbers: []")
            continue
        lines.append("    numbers:")
        for number in space.numbers.numbers:
            phone = from_live_digits(number.phone_number)
            lines.append(f"      - phone: {_q(phone.e164)}")
            lines.append(f"        verified_name: {_q(number.verified_name or '')}")
            status = number.status or "UNKNOWN"
            if status not in DEFAULT_STATUSES:
                lines.append(f"        status: [{status}]")
    return "\n".join(lines) + "\n"


def schema_reference(schema_file: Path, manifest_dir: Path) -> str:
    """The ``$schema`` path to write in a manifest saved in ``manifest_dir``."""
    try:
        return Path(os.path.relpath(schema_file, manifest_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows): an absolute path still works for editors
        return schema_file.as_posix()
