"""The published JSON Schemas (``schemas/`` at the top of the repository), found at run time.

A wheel carries them inside the package (``reconciler/schemas/``); a source checkout or an
editable install reads them from the repository's ``schemas/`` folder. One copy, two ways in.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import cast

from jsonschema import Draft202012Validator

_REPO_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@cache
def load_schema(name: str) -> dict[str, object]:
    """The schema ``name`` (e.g. ``manifest.schema.json``) as a dict."""
    packaged = resources.files("reconciler").joinpath("schemas", name)
    if packaged.is_file():
        text = packaged.read_text(encoding="utf-8")
    else:
        text = (_REPO_SCHEMAS / name).read_text(encoding="utf-8")
    return cast(dict[str, object], json.loads(text))


def schema_file(name: str) -> Path:
    """Where the schema ``name`` is on disk (for ``$schema`` lines written by import)."""
    packaged = Path(str(resources.files("reconciler").joinpath("schemas", name)))
    return packaged if packaged.is_file() else _REPO_SCHEMAS / name


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for the schema ``name``; the schema itself is checked once."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)
