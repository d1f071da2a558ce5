"""The YAML reader's nesting bound, whatever the parser bounds itself. Pure.

Parsers bound nesting each in their own way: libyaml as bundled by PyYAML 6.0.4 stops at 1,000
levels with a scanner error of its own, and its scanner reads up to a line ahead of the events
it has given, so that error can come before any event deeper than our bound; earlier builds
overflow the stack while composing. So when composing failed, the depth is counted here on the
parser's events, the way :class:`reconciler.yamlsource` counts it while building values (items
and mapping values, never keys), and the error is the reader's own, at the first node too deep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from reconciler.diagnostics import Diagnostic, Location, error

_NODE_EVENTS = (ScalarEvent, AliasEvent, MappingStartEvent, SequenceStartEvent)


def too_deep_message(limit: int) -> str:
    return f"the YAML is nested more than {limit} levels deep"


def nesting_error(file: str, text: str, data: bytes | str, *, fast: type[yaml.SafeLoader],
                  limit: int) -> Diagnostic | None:
    """The located error for nesting beyond ``limit``, if ``text`` has it before its first
    syntax error; else None. ``data`` is ``text`` as the ``fast`` loader reads it.

    When the fast parser stopped right after enough opening indicators to hide the bound, the
    text up to that point is read again with PyYAML's pure-Python parser, which has no bound
    of its own (slower, so only then).
    """
    walk = _DepthWalk(file, limit)
    walk.run(fast(data))
    if walk.found is not None or walk.failed_at is None or fast is yaml.SafeLoader:
        return walk.found
    unread = text[walk.read_to:walk.failed_at + 1]
    if walk.depth + sum(map(unread.count, "[{-?:")) <= limit:
        return None
    exact = _DepthWalk(file, limit)
    exact.run(yaml.SafeLoader(text[:walk.failed_at + 1]))
    return exact.found


class _DepthWalk:
    """Counts open collections over a parser's events, up to the first node too deep."""

    def __init__(self, file: str, limit: int) -> None:
        self._file = file
        self._limit = limit
        self.found: Diagnostic | None = None
        self.depth = 0
        self.read_to = 0
        """Index of the text just after the last event the parser gave."""
        self.failed_at: int | None = None
        """Index where the parser failed, if it did."""

    def run(self, parser: yaml.SafeLoader) -> None:
        next_event: Callable[[], Any] = parser.get_event  # untyped events
        # Per open collection, what its next node is: an item, a mapping key or a mapping
        # value. Depth is charged to items and values only, never to keys.
        open_collections: list[str] = []
        try:
            while (event := next_event()) is not None:
                kind = type(event)
                if kind in _NODE_EVENTS and open_collections:
                    awaited = open_collections[-1]
                    if awaited != "key" and len(open_collections) > self._limit:
                        mark = event.start_mark
                        self.found = error(Location(self._file, mark.line + 1,
                                                    mark.column + 1),
                                           too_deep_message(self._limit))
                        return
                    if awaited != "item":
                        open_collections[-1] = "value" if awaited == "key" else "key"
                if kind is MappingStartEvent:
                    open_collections.append("key")
                elif kind is SequenceStartEvent:
                    open_collections.append("item")
                elif kind is MappingEndEvent or kind is SequenceEndEvent:
                    open_collections.pop()
                self.read_to = event.end_mark.index
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.failed_at = self.read_to if mark is None else mark.index
        except yaml.YAMLError:
            self.failed_at = self.read_to
        finally:
            parser.dispose()
        self.depth = len(open_collections)
