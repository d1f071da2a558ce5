"""Reading YAML text into plain values that remember where each value and key was written.

PyYAML's constructors drop positions and silently keep the last of two equal keys, so this module
composes the node graph itself and builds plain values (dict, list, str, int, ...) from it,
recording a :class:`~reconciler.diagnostics.Location` for every value and every mapping key by
its path. It also bounds the work: alias expansion ("billion laughs") and nesting depth are
limited, so a tiny hostile file cannot take unbounded time or memory. Pure: text in, values out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import Mark, MarkedYAMLError
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from reconciler.characters import YAML_REFUSED, describe, line_and_column
from reconciler.diagnostics import Diagnostic, Location, error
from reconciler.yamldepth import nesting_error, too_deep_message

# libyaml's C parser is several times faster than the pure-Python one; both give the same nodes.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ValuePath = tuple[str | int, ...]
"""Where a value sits in a document: the mapping keys and list indexes from the root."""

MAX_DEPTH = 64
"""Deepest nesting accepted; far beyond any manifest, and it stops recursive aliases."""

MIN_EXPANSION_BUDGET = 100_000
"""Values a document may expand to at least; larger files get one value per character."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_COLLECTION_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}


@dataclass(frozen=True)
class ScalarSource:
    """How a scalar was written: its raw text and whether it was quoted (``style``)."""

    text: str
    quoted: bool
    tag: str


_T = TypeVar("_T")


class _LazyTable(Mapping[ValuePath, _T]):
    """A read-only table by path whose entries are made from compact raw records on demand.

    A 100k-number manifest has some 600k paths, and almost none of them is ever looked up (only
    the ones a message or a plan names): keeping (line, column) tuples and building the
    :class:`Location` (or :class:`ScalarSource`) when asked halves the cost of reading it.
    """

    __slots__ = ("_make", "_raw")

    def __init__(self, raw: dict[ValuePath, Any], make: Callable[[Any], _T]) -> None:
        self._raw = raw
        self._make = make

    def __getitem__(self, path: ValuePath) -> _T:
        return self._make(self._raw[path])

    def get(self, path: ValuePath, default: Any = None) -> Any:
        raw = self._raw.get(path)
        return default if raw is None else self._make(raw)

    def __contains__(self, path: object) -> bool:
        return path in self._raw

    def __iter__(self) -> Iterator[ValuePath]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


@dataclass
class LocatedDocument:
    """One parsed YAML document: plain values plus where each path was written."""

    file: str
    value: object
    value_locations: Mapping[ValuePath, Location] = field(default_factory=dict)
    key_locations: Mapping[ValuePath, Location] = field(default_factory=dict)
    scalars: Mapping[ValuePath, ScalarSource] = field(default_factory=dict)

    def location(self, path: ValuePath) -> Location:
        """Where the value at ``path`` was written, or its nearest written ancestor."""
        probe = path
        while probe:
            found = self.value_locations.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        return self.value_locations.get((), Location(self.file, 1, 1))

    def key_location(self, path: ValuePath) -> Location:
        """Where the mapping key ending ``path`` was written (falls back to its value)."""
        return self.key_locations.get(path) or self.location(path)


class _Abort(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _location(file: str, mark: Mark | None) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


def parse_yaml(file: str, text: str) -> tuple[LocatedDocument | None, list[Diagnostic]]:
    """Parse one YAML document. Returns the document, or None and the located errors.

    An empty file (or one holding only comments) gives a document whose value is None.
    """
    # libyaml reads UTF-8: given bytes, the C loader skips its slower path for str input
    # (a third of the composing time); marks count characters either way.
    data: bytes | str = text.encode("utf-8") if _Loader is not yaml.SafeLoader else text
    fast = _read_events(file, data, budget=max(MIN_EXPANSION_BUDGET, len(text)))
    if fast is not None:
        return fast, []
    return _parse_composed(file, text, data)


def _parse_composed(file: str, text: str, data: bytes | str) \
        -> tuple[LocatedDocument | None, list[Diagnostic]]:
    """The general reader: composes PyYAML's node graph (anchors, aliases, merge keys, tags)
    and builds the values from it, reporting every problem located."""
    try:
        loader = _Loader(data)
    except yaml.YAMLError as exc:  # PyYAML's pure-Python reader checks every character first
        return None, [_syntax_error(file, text, exc)]
    try:
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError) as exc:
        too_deep = nesting_error(file, text, data, fast=_Loader, limit=MAX_DEPTH)
        if too_deep is not None:
            return None, [too_deep]
        if isinstance(exc, RecursionError):
            return None, [error(Location(file, 1, 1), "the YAML is nested too deeply")]
        return None, [_syntax_error(file, text, exc)]
    document = LocatedDocument(file=file, value=None, value_locations={}, key_locations={},
                               scalars={})
    if root is None:
        return document, []
    builder = _Builder(document, budget=max(MIN_EXPANSION_BUDGET, len(text)))
    try:
        document.value = builder.build(root, (), depth=0)
    except _Abort as abort:
        return None, [abort.diagnostic]
    if builder.errors:
        return None, builder.errors
    return document, []


def _too_deep(location: Location) -> Diagnostic:
    return error(location, too_deep_message(MAX_DEPTH))


def _syntax_error(file: str, text: str, exc: yaml.YAMLError) -> Diagnostic:
    if isinstance(exc, ReaderError):
        return _refused_character(file, text, exc)
    if not isinstance(exc, MarkedYAMLError):
        return error(Location(file, 1, 1), f"YAML error: {exc}")
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    if exc.context and "expected a single document" in exc.context:
        problem = "a manifest file holds one YAML document; found a second one ('---')"
    elif exc.context and exc.context_mark is not None and exc.problem_mark is not None \
            and exc.context_mark.line != exc.problem_mark.line:
        problem += f" ({exc.context} that started at line {exc.context_mark.line + 1})"
    return error(_location(file, mark), f"YAML syntax error: {problem}")


def _refused_character(file: str, text: str, exc: ReaderError) -> Diagnostic:
    """Where the character the reader refused is. Its error has no mark, only a position that
    counts characters or bytes depending on the parser; the first refused character in the
    text is the one either parser stopped at, reading from the start."""
    found = YAML_REFUSED.search(text)
    if found is None:
        return error(Location(file, 1, 1), f"YAML error: {exc.reason}")
    char = found.group()
    line, column = line_and_column(text, found.start())
    return error(Location(file, line, column),
                 f"YAML error: unacceptable character #x{ord(char):04x} ({describe(char)}): "
                 f"{exc.reason}")


class _Unusual(Exception):
    """The event reader met something it leaves to the general reader."""


def _read_events(file: str, data: bytes | str, budget: int) -> LocatedDocument | None:
    """The common case, read straight from libyaml's events: one document of plain mappings,
    lists and untagged scalars, without anchors, aliases, merge keys or duplicate keys.

    It gives the same values, tags and positions as composing the node graph, at a third of
    the cost (no node objects, one resolver call only for plain scalars that could be something
    else than text, positions kept as (line, column) until asked). Anything else (including
    every error) returns None, and the general reader then reads it, and reports its
    problems, exactly as it always has.
    """
    try:
        loader = _Loader(data)
    except yaml.YAMLError:
        return None
    try:
        if loader.yaml_path_resolvers:
            return None
        reader = _EventReader(loader, budget)
        try:
            value = reader.read_document()
        except (_Unusual, yaml.YAMLError, RecursionError):
            return None
    finally:
        loader.dispose()

    def located(mark: tuple[int, int]) -> Location:
        return Location(file, mark[0] + 1, mark[1] + 1)

    return LocatedDocument(
        file=file, value=value,
        value_locations=_LazyTable(reader.values, located),
        key_locations=_LazyTable(reader.keys, located),
        scalars=_LazyTable(reader.scalars, _scalar_source))


def _scalar_source(raw: tuple[str, str | None, str]) -> ScalarSource:
    return ScalarSource(text=raw[0], quoted=raw[1] in ("'", '"'), tag=raw[2])


class _EventReader:
    """Plain values from parser events; raises :class:`_Unusual` for what it does not read."""

    def __init__(self, loader: yaml.SafeLoader, budget: int) -> None:
        self._next: Callable[[], Any] = loader.get_event  # untyped events: read fast
        self._resolve: Callable[..., Any] = loader.resolve
        resolvers = loader.yaml_implicit_resolvers
        # The first characters that an implicit resolver may claim; a plain scalar starting
        # with any other one is a string, as the resolver itself would say.
        self._claimed: Mapping[str, object] | None = None if None in resolvers else resolvers
        self._budget = budget
        self._constructor = SafeConstructor()
        self.values: dict[ValuePath, tuple[int, int]] = {}
        self.keys: dict[ValuePath, tuple[int, int]] = {}
        self.scalars: dict[ValuePath, tuple[str, str | None, str]] = {}

    def read_document(self) -> object:
        next_event = self._next
        if type(next_event()) is not StreamStartEvent \
                or type(next_event()) is not DocumentStartEvent:
            raise _Unusual
        value = self._node(next_event(), (), 0)
        if type(next_event()) is not DocumentEndEvent or type(next_event()) is not StreamEndEvent:
            raise _Unusual
        return value

    def _tag(self, value: str, implicit: tuple[bool, bool]) -> str:
        claimed = self._claimed
        if implicit[0] and (claimed is None or value[:1] in claimed):
            return str(self._resolve(ScalarNode, value, implicit))
        return _STR_TAG

    def _node(self, event: Any, path: ValuePath, depth: int) -> object:
        self._budget -= 1
        if self._budget < 0 or depth > MAX_DEPTH or event.anchor is not None:
            raise _Unusual
        mark = event.start_mark
        self.values[path] = (mark.line, mark.column)
        kind = type(event)
        if kind is ScalarEvent:
            return self._scalar(event, path)
        if kind is MappingStartEvent and event.tag is None:
            return self._mapping(path, depth)
        if kind is SequenceStartEvent and event.tag is None:
            return self._sequence(path, depth)
        raise _Unusual

    def _scalar(self, event: Any, path: ValuePath) -> object:
        if event.tag is not None:
            raise _Unusual
        value: str = event.value
        tag = self._tag(value, event.implicit)
        self.scalars[path] = (value, event.style, tag)
        if tag == _STR_TAG:
            return value
        node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        try:
            return self._constructor.construct_object(node, deep=True)
        except Exception:
            raise _Unusual from None

    def _sequence(self, path: ValuePath, depth: int) -> list[object]:
        next_event = self._next
        items: list[object] = []
        depth += 1
        while True:
            event = next_event()
            if type(event) is SequenceEndEvent:
                return items
            items.append(self._node(event, (*path, len(items)), depth))

    def _mapping(self, path: ValuePath, depth: int) -> dict[str, object]:
        next_event = self._next
        keys = self.keys
        result: dict[str, object] = {}
        depth += 1
        while True:
            event = next_event()
            kind = type(event)
            if kind is MappingEndEvent:
                return result
            if kind is not ScalarEvent or event.anchor is not None \
                    or event.tag is not None:
                raise _Unusual
            key: str = event.value
            if key in result or self._tag(key, event.implicit) == _MERGE_TAG:
                raise _Unusual
            child = (*path, key)
            mark = event.start_mark
            keys[child] = (mark.line, mark.column)
            result[key] = self._node(next_event(), child, depth)


class _Builder:
    """Turns a node graph into plain values, recording locations, refusing what is unsafe."""

    def __init__(self, document: LocatedDocument, budget: int) -> None:
        self._doc = document
        self._budget = budget
        self._values: dict[ValuePath, Location] = {}
        self._keys: dict[ValuePath, Location] = {}
        self._scalars: dict[ValuePath, ScalarSource] = {}
        document.value_locations = self._values
        document.key_locations = self._keys
        document.scalars = self._scalars
        self._constructor = SafeConstructor()
        self.errors: list[Diagnostic] = []

    def _loc(self, node: Node) -> Location:
        return _location(self._doc.file, node.start_mark)

    def build(self, node: Node, path: ValuePath, depth: int) -> object:
        self._budget -= 1
        if self._budget < 0:
            raise _Abort(error(self._loc(node),
                               "the YAML expands to too many values (aliases that repeat "
                               "aliases?); refusing to expand it"))
        if depth > MAX_DEPTH:
            raise _Abort(_too_deep(self._loc(node)))
        if path not in self._values:
            self._values[path] = self._loc(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if node.tag not in _PLAIN_COLLECTION_TAGS:
            raise _Abort(error(self._loc(node), f"unsupported YAML tag '{node.tag}': manifests "
                                                "hold plain lists and mappings"))
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index), depth + 1)
                    for index, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        raise _Abort(error(self._loc(node), "unsupported YAML node"))

    def _scalar(self, node: ScalarNode, path: ValuePath) -> object:
        self._scalars[path] = ScalarSource(text=node.value, quoted=node.style in ("'", '"'),
                                               tag=node.tag)
        if node.tag == _STR_TAG:
            return node.value  # what SafeConstructor.construct_yaml_str returns, without its cost
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.errors.append(error(self._loc(node),
                                     f"cannot read this value: {exc.problem or exc}"))
            return None
        except (ValueError, TypeError, LookupError, AttributeError, OverflowError):
            # PyYAML's constructors raise these for values its resolver matched but cannot
            # build (a date 2001-13-45, '!!int abc', an empty '!!int '): the user's data, so a
            # located error.
            kind = node.tag.rsplit(":", 1)[-1]
            self.errors.append(error(self._loc(node), f"cannot read {node.value!r} as a "
                                     f"{kind}; quote it if it is text"))
            return None

    def _entries(self, node: MappingNode, depth: int) -> Iterator[tuple[Node, Node, bool]]:
        """(key, value, merged) pairs; entries from ``<<`` merge keys come after explicit ones."""
        merged: list[tuple[Node, Node, bool]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) \
                    else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise _Abort(error(self._loc(source),
                                           "a '<<' merge key takes a mapping or a list of "
                                           "mappings"))
                    if depth > MAX_DEPTH:
                        raise _Abort(error(self._loc(source), "merge keys nested too deeply"))
                    for k, v, _ in self._entries(source, depth + 1):
                        # Merged entries count against the expansion budget too: merge keys
                        # that merge merge keys would otherwise multiply unbounded.
                        self._budget -= 1
                        if self._budget < 0:
                            raise _Abort(error(self._loc(source), "the YAML expands to too "
                                               "many values (merge keys that merge merge "
                                               "keys?); refusing to expand it"))
                        merged.append((k, v, True))
            else:
                yield key_node, value_node, False
        yield from merged

    def _mapping(self, node: MappingNode, path: ValuePath, depth: int) -> dict[str, object]:
        result: dict[str, object] = {}
        first_seen: dict[str, Location] = {}
        for key_node, value_node, merged in self._entries(node, depth):
            if not isinstance(key_node, ScalarNode):
                self.errors.append(error(self._loc(key_node),
                                         "mapping keys must be plain names, not lists or "
                                         "mappings"))
                continue
            # Keys are names: take them as written, so `on:` or `1:` stay the text the user typed.
            key = key_node.value
            if key in first_seen:
                if merged:
                    continue  # an explicit key overrides a merged one, as YAML specifies
                self.errors.append(error(self._loc(key_node),
                                         f"duplicate key '{key}' (first at line "
                                         f"{first_seen[key].line}); YAML would silently keep "
                                         "only the last one"))
                continue
            child = (*path, key)
            first_seen[key] = self._keys[child] = self._loc(key_node)
            result[key] = self.build(value_node, child, depth + 1)
        return result


def describe_path(path: ValuePath) -> str:
    """``spaces[0].numbers[1].phone`` for a path, for messages."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the document"
