"""Which spaces count as changed since a revision (``--changed-since``): pure, table-driven."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from types import MappingProxyType

import pytest
from planbuild import ack, desired, space, want

from reconciler.diagnostics import Location
from reconciler.manifest import Desired, DesiredProfile, DesiredWaba
from reconciler.scope import Scope, changed_spaces

A, B, C = "100000000000001", "100000000000002", "100000000000003"


def base() -> Desired:
    return desired(space(A, want("+86 138 0000 1111", "Acme")),
                   space(B, want("+86 138 0000 2222", "Beta"), label="beta"),
                   space(C, want("+86 138 0000 3333", "Gamma")),
                   acknowledgements=(ack(C, "+86 138 0000 3333", "status"),))


def _edit_space(before: Desired, space_id: str, **changes: object) -> Desired:
    spaces = dict(before.spaces)
    spaces[space_id] = replace(spaces[space_id], **changes)  # type: ignore[arg-type]
    return replace(before, spaces=MappingProxyType(spaces))


def _moved_to_another_file(before: Desired) -> Desired:
    """Space B written in another file, at other lines: where it is written changed only."""
    moved = before.spaces[B]
    numbers = {e164: replace(n, source=Location("other.yaml", 40, 9))
               for e164, n in moved.numbers.items()}
    return _edit_space(before, B, source=Location("other.yaml", 38, 5),
                       numbers=MappingProxyType(numbers))


def _renamed_file(before: Desired) -> Desired:
    after = before
    for space_id, current in before.spaces.items():
        numbers = {e164: replace(n, source=replace(n.source, file="renamed.yaml"))
                   for e164, n in current.numbers.items()}
        after = _edit_space(after, space_id, source=replace(current.source, file="renamed.yaml"),
                            numbers=MappingProxyType(numbers))
    acks = tuple(replace(a, source=replace(a.source, file="renamed.yaml"))
                 for a in after.acknowledgements)
    return replace(after, acknowledgements=acks)


def _number(before: Desired, space_id: str, **changes: object) -> Desired:
    current = before.spaces[space_id]
    (e164, number), = current.numbers.items()
    return _edit_space(before, space_id, numbers=MappingProxyType(
        {e164: replace(number, **changes)}))  # type: ignore[arg-type]


CASES = {
    "nothing": (lambda d: d, ()),
    "number added": (lambda d: _edit_space(d, A, numbers=MappingProxyType({
        **d.spaces[A].numbers,
        "+8613800001112": want("+86 138 0000 1112", "Acme Two")})), (A,)),
    "number removed": (lambda d: _edit_space(d, A, numbers=MappingProxyType({})), (A,)),
    "verified name changed": (lambda d: _number(d, B, verified_name="Beta Ltd"), (B,)),
    "statuses changed": (lambda d: _number(d, B, statuses=frozenset({"CONNECTED", "FLAGGED"})),
                         (B,)),
    "health expectation added": (lambda d: _number(d, B, min_tier="TIER_1K"), (B,)),
    "profile added": (lambda d: _number(d, A, profile=DesiredProfile(about="Hi")), (A,)),
    "label changed": (lambda d: _edit_space(d, B, label="beta-eu"), (B,)),
    "waba declared": (lambda d: _edit_space(d, A, waba=DesiredWaba(id="9")), (A,)),
    "space moved to another file": (_moved_to_another_file, ()),
    "file renamed": (_renamed_file, ()),
    "number written in another notation": (
        lambda d: _number(d, A, phone=want("+86-138-0000-1111", "Acme").phone), ()),
    "acknowledgement added": (lambda d: replace(d, acknowledgements=(
        *d.acknowledgements, ack(A, None, "unmanaged"))), (A,)),
    "acknowledgement extended": (lambda d: replace(d, acknowledgements=(
        replace(d.acknowledgements[0], until=dt.date(2027, 12, 1)),)), (C,)),
    "acknowledgement removed": (lambda d: replace(d, acknowledgements=()), (C,)),
    "space removed": (lambda d: replace(d, spaces=MappingProxyType(
        {k: v for k, v in d.spaces.items() if k != A})), ()),
    "space added": (lambda d: replace(d, spaces=MappingProxyType({
        **d.spaces, "100000000000004": space("100000000000004")})), ("100000000000004",)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_which_spaces_count_as_changed(case: str) -> None:
    edit, expected = CASES[case]
    assert changed_spaces(base(), edit(base())) == expected


def test_manifests_at_the_base_that_do_not_load_make_every_space_changed() -> None:
    assert changed_spaces(None, base()) == (A, B, C)


def test_the_scope_line_says_what_was_not_read() -> None:
    assert Scope("origin/main", 2000, ("1", "2", "3")).line == (
        "Scope: 3 of 2,000 declared spaces changed since origin/main; the other 1,997 were "
        "not read.")
    assert Scope("HEAD~1", 2, ("1",)).line.endswith("the other 1 was not read.")
