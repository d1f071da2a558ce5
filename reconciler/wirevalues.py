"""Typed values of camsctl's own JSON documents, the plan file and the ledger line: a field
value to its wire form, and each kind of value read back, checked.

Pure. A value that is not what camsctl writes raises :class:`WireError` naming it (``what``);
each document's owner (:mod:`reconciler.planfile`, :mod:`reconciler.ledger`) turns that into
its own error, with the file and line where it has them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.plan import FieldValue


class WireError(ValueError):
    """A value that is not what camsctl writes; the message says which and why."""


def field_to_wire(value: FieldValue) -> str | list[str] | None:
    """A field's value as JSON has it: a set of statuses as a list."""
    return list(value) if isinstance(value, tuple) else value


def obj(value: object, what: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise WireError(f"{what} must be an object")
    return value


def items(value: object, what: str) -> Sequence[object]:
    if not isinstance(value, list):
        raise WireError(f"{what} must be a list")
    return value


def text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise WireError(f"{what} must be a string")
    return value


def opt_text(value: object, what: str) -> str | None:
    return None if value is None else text(value, what)


def field_value(value: object, what: str) -> FieldValue:
    """A field's value read back: a list becomes the tuple it was written from."""
    if isinstance(value, list):
        return tuple(text(item, what) for item in value)
    return opt_text(value, what)


def count(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WireError(f"{what} must be a count")
    return value
