"""``camsctl import``: write a manifest of what spaces have now. Pure: live state in, YAML out.

Each live number becomes a declared number with its live verified name; a status other than
CONNECTED is declared as the allowed status, and the bound WABA's id and review status are
declared, so planning right after an import shows nothing to add and no drift. Every scalar is
written as a JSON string, which is a YAML double-quoted string: ids and numbers stay strings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.live import LiveSpace
from reconciler.manifest import DEFAULT_STATUSES


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def render_manifest(spaces: Sequence[LiveSpace], *, isv_code: str | None,
                    schema_path: str) -> str:
    """The manifest text for ``spaces`` (read with their WABA), in the order given."""
    lines = [f"# yaml-language-server: $schema={schema_path}",
             "# Written by `camsctl import`: the live state of these spaces when it ran.",
             "version: 1", "spaces:"]
    for space in spaces:
        lines.append(f"  - id: {_q(space.id)}")
        if isv_code:
            lines.append(f"    isv_code: {_q(isv_code)}")
        if space.waba is not None and space.waba.id:
            lines.append("    waba:")
            lines.append(f"      id: {_q(space.waba.id)}")
            if space.waba.review_status in ("PENDING", "APPROVED", "REJECTED", "DISABLED"):
                lines.append(f"      review_status: {space.waba.review_status}")
        if not space.numbers:
            lines.append("    numbers: []")
            continue
        lines.append("    numbers:")
        for number in space.numbers.values():
            lines.append(f"      - phone: {_q(number.phone.e164)}")
            lines.append(f"        verified_name: {_q(number.verified_name)}")
            if number.status not in DEFAULT_STATUSES:
                lines.append(f"        status: [{number.status}]")
    return "\n".join(lines) + "\n"


def schema_reference(schema_file: Path, manifest_dir: Path) -> str:
    """The ``$schema`` path to write in a manifest saved in ``manifest_dir``."""
    try:
        return Path(os.path.relpath(schema_file, manifest_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows): an absolute path still works for editors
        return schema_file.as_posix()
