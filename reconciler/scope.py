"""Which declared spaces a change touches: the scope of a pull-request plan (``--changed-since``).

Pure. A space is *changed* when its declaration at the base revision differs from the working
tree's in anything it means: a field of the space, of its WABA or of any of its numbers, or an
acknowledgement about it. Where it is written does not count: a space moved to another file,
or a file renamed, is unchanged; so is a number written in another notation (``+86 138...``
and ``+86-138-...`` are one number). A space new since the base is changed; a removed space
needs no read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from reconciler.diagnostics import Location
from reconciler.manifest import Desired, DesiredSpace
from reconciler.signals import Acknowledgement

_NOWHERE = Location("")


@dataclass(frozen=True)
class Scope:
    """A plan limited to the spaces changed since a revision (recorded in the plan JSON)."""

    changed_since: str
    declared: int
    """Spaces the manifests declare."""
    read: tuple[str, ...]
    """The changed spaces, the only ones read, sorted."""

    @property
    def line(self) -> str:
        """What the output says before anything else."""
        skipped = self.declared - len(self.read)
        return (f"Scope: {len(self.read):,} of {self.declared:,} declared spaces changed since "
                f"{self.changed_since}; the other {skipped:,} "
                f"{'was' if skipped == 1 else 'were'} not read.")


def _meaning(space: DesiredSpace, acknowledgements: tuple[Acknowledgement, ...]) -> object:
    """The space's declaration without where it is written: equal when it means the same."""
    numbers = {e164: replace(number, source=_NOWHERE) for e164, number in space.numbers.items()}
    acks = frozenset(replace(ack, source=_NOWHERE) for ack in acknowledgements)
    return replace(space, source=_NOWHERE, numbers=numbers), acks


def _by_space(desired: Desired) -> Mapping[str, tuple[Acknowledgement, ...]]:
    grouped: dict[str, list[Acknowledgement]] = {}
    for ack in desired.acknowledgements:
        grouped.setdefault(ack.space_id, []).append(ack)
    return {space_id: tuple(acks) for space_id, acks in grouped.items()}


def changed_spaces(before: Desired | None, after: Desired) -> tuple[str, ...]:
    """The spaces of ``after`` whose declaration differs from ``before`` or that are new, sorted.
    ``before`` None (the manifests at the base do not load) makes every space changed."""
    if before is None:
        return tuple(sorted(after.spaces))
    acks_before, acks_after = _by_space(before), _by_space(after)
    changed = []
    for space_id, space in after.spaces.items():
        old = before.spaces.get(space_id)
        if old is None or _meaning(old, acks_before.get(space_id, ())) != \
                _meaning(space, acks_after.get(space_id, ())):
            changed.append(space_id)
    return tuple(sorted(changed))
