"""Reading YAML text into plain values that remember where each value and key was written.

PyYAML's constructors drop positions and silently keep the last of two equal keys, so this module
builds plain values (dict, list, str, int, ...) itself and records where every value, mapping
key and scalar was written, by path. It also bounds the work: alias expansion ("billion
laughs") and nesting depth are limited, so a tiny hostile file cannot take unbounded time or
memory. Pure: text in, values out.

Memory shaped how (``benchmarks/README.md``, section 5). Composing PyYAML's node graph first
and keeping a :class:`Location` per path cost up to 65 bytes of memory per byte of manifest:
2 GB for 30 MiB. So values are built in one pass over the parser's events, in the order
PyYAML's composer and a builder over its graph would build them, with the same values,
messages and locations (``tests/yamloracle.py`` keeps that reader, and
``tests/test_fast_paths.py`` holds this one to it). Only an anchored node and the value of a
``<<`` merge key are recorded, as small :class:`_Node` records, to be built again where an
alias or a merge uses them. Positions are packed integers in one flat array per document
(:class:`_Marks`); a :class:`Location` or :class:`ScalarSource` is made when asked.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import Mark, MarkedYAMLError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.reader import ReaderError

from reconciler.characters import YAML_REFUSED, describe, line_and_column
from reconciler.diagnostics import Collected, Diagnostic, Location, error
from reconciler.yamldepth import nesting_error, too_deep_message

# libyaml's C parser is several times faster than the pure-Python one; both give the same events.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ValuePath = tuple[str | int, ...]
"""Where a value sits in a document: the mapping keys and list indexes from the root."""

MAX_DEPTH = 64
"""Deepest nesting accepted; far beyond any manifest, and it stops recursive aliases."""

MIN_EXPANSION_BUDGET = 100_000
"""Values a document may expand to at least; larger files get one value per character."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_PLAIN_COLLECTION_TAGS = {_SEQ_TAG, _MAP_TAG}
_QUOTED = ("'", '"')


@dataclass(frozen=True)
class ScalarSource:
    """How a scalar was written: its raw text and whether it was quoted (``style``)."""

    text: str
    quoted: bool
    tag: str


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


# ---------------------------------------------------------------------------------------------
# Positions: one flat array of packed integers per document

# A mark packs a 0-based line and column (28 bits each: files are limited to 32 MiB) and a code:
# 0 for a mapping or a list; for a scalar, 1 + (its tag's index in _TAGS << 1 | quoted).
_LINE_SHIFT = 36
_COLUMN_SHIFT = 8
_FIELD = (1 << 28) - 1
_CODE = 0xFF
# The tags a scalar can be built with (SafeConstructor's); any other one fails to build, so
# its document has an error and no table is read, but its tag is kept all the same.
_TAGS = (_STR_TAG, "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
         "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary")
_TAG_INDEX = {tag: index for index, tag in enumerate(_TAGS)}
_OTHER_TAG = len(_TAGS)


def _pack(line: int, column: int, code: int = 0) -> int:
    return line << _LINE_SHIFT | column << _COLUMN_SHIFT | code


class _Marks:
    """Where every value, mapping key and scalar of one document was written, in 8 bytes each.

    The entries of a mapping or list are one block of ``words``: three words per mapping entry
    (the key's mark, the value's mark, the value's extra), two per list item (mark, extra). A
    mapping's or list's extra is the offset of its own block; a scalar's is 0, or 1 + the
    index in ``texts`` of how it was written when that is not its value (``0123`` for 83). A
    mapping's entries are in the order of its keys (a dict keeps insertion order), so the
    values themselves say which entry a key or index is.
    """

    def __init__(self) -> None:
        self.words = array("Q")
        self.texts: list[str | tuple[str, str]] = []
        self.root = (0, 0)
        self._indexes: dict[int, dict[str, int]] = {}

    def close(self, block: array[int]) -> int:
        """Store a finished mapping's or list's block; its offset."""
        offset = len(self.words)
        self.words.extend(block)
        return offset

    def keep(self, text: str | tuple[str, str]) -> int:
        self.texts.append(text)
        return len(self.texts)

    def find(self, value: object, path: ValuePath) -> tuple[object, int, int, int] | None:
        """(value, key mark or -1, mark, extra) at ``path`` below the root ``value``."""
        words = self.words
        key = -1
        mark, extra = self.root
        for step in path:
            if mark & _CODE:
                return None  # a scalar has nothing below it
            if isinstance(value, dict):
                index = self._index(value, extra, step)
                if index is None:
                    return None
                base = extra + 3 * index
                key, mark, extra = words[base], words[base + 1], words[base + 2]
                value = value[step]
            elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
                base = extra + 2 * step
                key, mark, extra = -1, words[base], words[base + 1]
                value = value[step]
            else:
                return None
        return value, key, mark, extra

    def _index(self, mapping: dict[str, object], block: int, key: object) -> int | None:
        if len(mapping) <= 8:
            for index, name in enumerate(mapping):
                if name == key:
                    return index
            return None
        indexes = self._indexes.get(block)  # made once, for the big mappings looked into
        if indexes is None:
            indexes = self._indexes[block] = {name: i for i, name in enumerate(mapping)}
        return indexes.get(key) if isinstance(key, str) else None

    def walk(self, value: object) -> Iterator[tuple[ValuePath, tuple[object, int, int, int]]]:
        """Every path below the root ``value`` (itself included) with what :meth:`find` gives."""
        words = self.words
        stack: list[tuple[ValuePath, tuple[object, int, int, int]]] = [
            ((), (value, -1, *self.root))]
        while stack:
            path, found = stack.pop()
            yield path, found
            value, _, mark, extra = found
            if mark & _CODE:
                continue
            if isinstance(value, dict):
                for index, (name, child) in enumerate(value.items()):
                    base = extra + 3 * index
                    stack.append(((*path, name),
                                  (child, words[base], words[base + 1], words[base + 2])))
            elif isinstance(value, list):
                for index, child in enumerate(value):
                    base = extra + 2 * index
                    stack.append(((*path, index), (child, -1, words[base], words[base + 1])))

    def source(self, value: object, mark: int, extra: int) -> ScalarSource | None:
        """How the scalar ``value`` with this mark and extra was written; None for a
        mapping or list."""
        code = mark & _CODE
        if not code:
            return None
        tag_index, quoted = (code - 1) >> 1, bool((code - 1) & 1)
        stored = self.texts[extra - 1] if extra else None
        if isinstance(stored, tuple):
            tag, text = stored
        else:
            tag = _TAGS[tag_index]
            text = stored if stored is not None \
                else value if isinstance(value, str) else str(value)
        return ScalarSource(text=text, quoted=quoted, tag=tag)


def _mark_location(file: str, mark: int) -> Location:
    return Location(file, (mark >> _LINE_SHIFT) + 1, ((mark >> _COLUMN_SHIFT) & _FIELD) + 1)


_T = TypeVar("_T")


class _Table(Mapping[ValuePath, _T]):
    """A read-only table by path over a document's :class:`_Marks` (value locations, key
    locations or scalar sources), making each entry when asked."""

    __slots__ = ("_make", "_marks", "_root")

    def __init__(self, marks: _Marks, root: object,
                 make: Callable[[tuple[object, int, int, int]], _T | None]) -> None:
        self._marks = marks
        self._root = root
        self._make = make

    def __getitem__(self, path: ValuePath) -> _T:
        found = self._marks.find(self._root, path)
        made = None if found is None else self._make(found)
        if made is None:
            raise KeyError(path)
        return made

    def __iter__(self) -> Iterator[ValuePath]:
        return (path for path, found in self._marks.walk(self._root)
                if self._make(found) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _document(file: str, value: object, marks: _Marks) -> LocatedDocument:
    def value_location(found: tuple[object, int, int, int]) -> Location:
        return _mark_location(file, found[2])

    def key_location(found: tuple[object, int, int, int]) -> Location | None:
        return None if found[1] < 0 else _mark_location(file, found[1])

    def scalar_source(found: tuple[object, int, int, int]) -> ScalarSource | None:
        return marks.source(found[0], found[2], found[3])

    return LocatedDocument(file=file, value=value,
                           value_locations=_Table(marks, value, value_location),
                           key_locations=_Table(marks, value, key_location),
                           scalars=_Table(marks, value, scalar_source))


# ---------------------------------------------------------------------------------------------
# Reading


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
    # (a third of the parsing time); marks count characters either way.
    data: bytes | str = text.encode("utf-8") if _Loader is not yaml.SafeLoader else text
    try:
        loader = _Loader(data)
    except yaml.YAMLError as exc:  # PyYAML's pure-Python reader checks every character first
        return None, [_syntax_error(file, text, exc)]
    reader = _Reader(file, loader, budget=max(MIN_EXPANSION_BUDGET, len(text)))
    try:
        try:
            value = reader.read()
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError) as exc:
        too_deep = nesting_error(file, text, data, fast=_Loader, limit=MAX_DEPTH)
        if too_deep is not None:
            return None, [too_deep]
        if isinstance(exc, RecursionError):
            return None, [error(Location(file, 1, 1), "the YAML is nested too deeply")]
        return None, [_syntax_error(file, text, exc)]
    except _Abort as abort:
        return None, [abort.diagnostic]
    if reader.errors.has_errors:
        return None, reader.errors.result()
    if value is _NO_DOCUMENT:
        return LocatedDocument(file=file, value=None), []
    return _document(file, value, reader.marks), []


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


_NO_DOCUMENT = object()
_SCALAR, _SEQUENCE, _MAPPING = 0, 1, 2
_NODE_STARTS = (ScalarEvent, MappingStartEvent, SequenceStartEvent)
_INTERNED_KEYS = 32


class _Node:
    """A node read ahead of building it: an anchored node (built where it stands and again
    wherever an alias names it) or the value of a ``<<`` merge key. PyYAML's node, without
    its two marks' weight. ``value`` is a scalar's text, a sequence's items, or a mapping's
    keys and values alternately."""

    __slots__ = ("column", "constructed", "kind", "line", "quoted", "tag", "value")

    def __init__(self, kind: int, tag: str, value: Any, quoted: bool, mark: Mark) -> None:
        self.kind = kind
        self.tag = tag
        self.value = value
        self.quoted = quoted
        self.line: int = mark.line
        self.column: int = mark.column
        # The node a scalar is constructed from, once: aliases of it give what it gave.
        self.constructed: ScalarNode | None = None


class _Reader:
    """Plain values and their marks from a parser's events, read once, in document order.

    What it builds, and in which order (so which error comes first), is what composing the
    node graph and building values from it gave: a mapping's explicit entries in order, then
    the entries its ``<<`` merge keys bring; an alias builds its node again where it stands.
    Errors of the YAML itself come first, as composing failed before building began: after
    an error that stops building (:class:`_Abort`), the rest of the stream is still read, so
    that a later syntax error, undefined alias or second document is the one reported.
    """

    def __init__(self, file: str, loader: yaml.SafeLoader, budget: int) -> None:
        self._file = file
        self._next: Callable[[], Any] = loader.get_event  # untyped events: read fast
        self._resolve: Callable[..., Any] = loader.resolve
        resolvers = loader.yaml_implicit_resolvers
        # The first characters that an implicit resolver may claim; a plain scalar starting
        # with any other one is a string, as the resolver itself would say.
        self._claimed: Mapping[str, object] | None = None if None in resolvers else resolvers
        # PyYAML's composers word two errors differently: the pure-Python one names the anchor.
        self._named_anchors = isinstance(loader, Composer)
        self._budget = budget
        self._constructor = SafeConstructor()
        self._anchors: dict[str, _Node] = {}
        self.marks = _Marks()
        self.errors = Collected()

    def read(self) -> object:
        """The document's value, or :data:`_NO_DOCUMENT` for an empty stream."""
        next_event = self._next
        next_event()  # StreamStartEvent
        if type(next_event()) is StreamEndEvent:
            return _NO_DOCUMENT
        root = array("Q")
        try:
            value = self._build(next_event(), (), 0, root)
        except _Abort:
            self._read_to_document_end()
            self._expect_stream_end()
            raise
        next_event()  # DocumentEndEvent
        self._expect_stream_end()
        self.marks.root = (root[0], root[1])
        return value

    # --- the YAML's own errors, as PyYAML's composer raises them

    def _expect_stream_end(self) -> None:
        event = self._next()
        if type(event) is not StreamEndEvent:
            raise ComposerError("expected a single document in the stream", None,
                                "but found another document", event.start_mark)

    def _read_to_document_end(self) -> None:
        """Read the rest of the document, only registering anchors and resolving aliases."""
        next_event = self._next
        while True:
            event = next_event()
            kind = type(event)
            if kind is DocumentEndEvent:
                return
            if kind is AliasEvent:
                self._aliased(event)
            elif kind in _NODE_STARTS and event.anchor is not None:
                self._anchor(event, _Node(_SCALAR, "", "", False, event.start_mark))

    def _aliased(self, event: Any) -> _Node:
        node = self._anchors.get(event.anchor)
        if node is None:
            named = f" {event.anchor!r}" if self._named_anchors else ""
            raise ComposerError(None, None, f"found undefined alias{named}", event.start_mark)
        return node

    def _anchor(self, event: Any, node: _Node) -> None:
        first = self._anchors.get(event.anchor)
        if first is not None:
            named = f" {event.anchor!r}" if self._named_anchors else ""
            raise ComposerError(f"found duplicate anchor{named}; first occurrence",
                                Mark(self._file, 0, first.line, first.column, None, 0),
                                "second occurrence", event.start_mark)
        self._anchors[event.anchor] = node

    # --- reading ahead: records

    def _scalar_tag(self, event: Any) -> str:
        tag: str | None = event.tag
        if tag is None or tag == "!":
            implicit = event.implicit
            claimed = self._claimed
            if implicit[0] and (claimed is None or event.value[:1] in claimed):
                return str(self._resolve(ScalarNode, event.value, implicit))
            return _STR_TAG
        return tag

    @staticmethod
    def _collection_tag(event: Any) -> str:
        tag: str | None = event.tag
        if tag is None or tag == "!":
            return _SEQ_TAG if type(event) is SequenceStartEvent else _MAP_TAG
        return tag

    def _record(self, event: Any) -> _Node:
        """The node ``event`` starts, read to its end. Anchors are registered as their node
        starts (so an alias inside a node may name the node itself, as with PyYAML's
        composer) and aliases resolved to the nodes they name. Iterative: a node may be
        nested as deep as the parser allows."""
        next_event = self._next
        open_nodes: list[_Node] = []
        while True:
            kind = type(event)
            if kind is SequenceEndEvent or kind is MappingEndEvent:
                done = open_nodes.pop()
                if not open_nodes:
                    return done
                event = next_event()
                continue
            if kind is AliasEvent:
                node = self._aliased(event)
            else:
                if kind is ScalarEvent:
                    node = _Node(_SCALAR, self._scalar_tag(event), event.value,
                                 event.style in _QUOTED, event.start_mark)
                else:
                    node = _Node(_SEQUENCE if kind is SequenceStartEvent else _MAPPING,
                                 self._collection_tag(event), [], False, event.start_mark)
                if event.anchor is not None:
                    self._anchor(event, node)
            if open_nodes:
                open_nodes[-1].value.append(node)
            if node.kind != _SCALAR and kind is not AliasEvent:
                open_nodes.append(node)
            elif not open_nodes:
                return node
            event = next_event()

    def _read_ahead(self, item: Any) -> _Node:
        """``item`` as a record: an event's node read to its end, an alias's node."""
        if type(item) is _Node:
            return item
        return self._aliased(item) if type(item) is AliasEvent else self._record(item)

    # --- building

    def _where(self, item: Any) -> Location:
        if type(item) is _Node:
            return Location(self._file, item.line + 1, item.column + 1)
        return _location(self._file, item.start_mark)

    def _build(self, item: Any, path: ValuePath, depth: int, block: array[int]) -> object:
        """Build ``item`` (an event whose node is still to read, or a record) at ``path`` and
        append its mark and extra to the block of the mapping or list it is in."""
        if type(item) is not _Node and item.anchor is not None:
            item = self._read_ahead(item)  # an anchored node, or an alias
        self._budget -= 1
        if self._budget < 0:
            raise _Abort(error(self._where(item), "the YAML expands to too many values "
                                                  "(aliases that repeat aliases?); refusing "
                                                  "to expand it"))
        if depth > MAX_DEPTH:
            raise _Abort(_too_deep(self._where(item)))
        kind = type(item)
        if kind is ScalarEvent:
            mark = item.start_mark
            return self._scalar(self._scalar_tag(item), item.value, item.style in _QUOTED,
                                mark.line, mark.column, None, block)
        if kind is _Node:
            if item.kind == _SCALAR:
                return self._scalar(item.tag, item.value, item.quoted, item.line, item.column,
                                    item, block)
            tag, line, column = item.tag, item.line, item.column
            is_list = item.kind == _SEQUENCE
        else:
            tag, mark = self._collection_tag(item), item.start_mark
            line, column = mark.line, mark.column
            is_list = kind is SequenceStartEvent
        if tag not in _PLAIN_COLLECTION_TAGS:
            raise _Abort(error(self._where(item), f"unsupported YAML tag '{tag}': manifests "
                                                  "hold plain lists and mappings"))
        entries = array("Q")
        value: object
        if is_list:
            value = self._sequence(item, path, depth + 1, entries)
        else:
            found = self._entries(item, depth) if kind is _Node else self._live_entries(depth)
            value = self._mapping(found, path, depth, entries)
        block.append(_pack(line, column))
        block.append(self.marks.close(entries))
        return value

    def _sequence(self, item: Any, path: ValuePath, depth: int,
                  entries: array[int]) -> list[object]:
        if type(item) is _Node:
            return [self._build(child, (*path, index), depth, entries)
                    for index, child in enumerate(item.value)]
        next_event = self._next
        items: list[object] = []
        while type(event := next_event()) is not SequenceEndEvent:
            items.append(self._build(event, (*path, len(items)), depth, entries))
        return items

    def _scalar(self, tag: str, text: str, quoted: bool, line: int, column: int,
                record: _Node | None, block: array[int]) -> object:
        if tag == _STR_TAG:  # what SafeConstructor.construct_yaml_str returns, without its cost
            block.append(_pack(line, column, 1 + quoted))
            block.append(0)
            return text
        value = self._construct(tag, text, line, column, record)
        tag_index = _TAG_INDEX.get(tag, _OTHER_TAG)
        written: str | tuple[str, str] | None = text
        if tag_index == _OTHER_TAG:
            written = (tag, text)
        elif type(value) is int and str(value) == text:
            written = None  # the value says how it was written: keep nothing more
        block.append(_pack(line, column, 1 + (tag_index << 1 | quoted)))
        block.append(0 if written is None else self.marks.keep(written))
        return value

    def _construct(self, tag: str, text: str, line: int, column: int,
                   record: _Node | None) -> object:
        constructor = self._constructor
        node = record.constructed if record is not None else None
        if node is None:
            node = ScalarNode(tag, text)
            if record is not None:
                record.constructed = node
        try:
            return constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.errors.add(error(Location(self._file, line + 1, column + 1),
                                  f"cannot read this value: {exc.problem or exc}"))
        except (ValueError, TypeError, LookupError, AttributeError, OverflowError):
            # PyYAML's constructors raise these for values its resolver matched but cannot
            # build (a date 2001-13-45, '!!int abc', an empty '!!int '): the user's data, so a
            # located error.
            kind = tag.rsplit(":", 1)[-1]
            self.errors.add(error(Location(self._file, line + 1, column + 1),
                                  f"cannot read {text!r} as a {kind}; quote it if it is text"))
        finally:
            if record is None:  # built once: the constructor need not remember it
                constructor.constructed_objects.pop(node, None)
                constructor.recursive_objects.pop(node, None)
        return None

    def _live_entries(self, depth: int) -> Iterator[tuple[Any, Any, bool]]:
        """(key, value, merged) for the mapping being read: explicit entries as they come
        (a key is an unanchored scalar event or a record; the value is for the caller to
        build or skip), then the entries its ``<<`` merge keys bring."""
        next_event = self._next
        merged: list[tuple[Any, Any, bool]] = []
        while type(key := next_event()) is not MappingEndEvent:
            if type(key) is not ScalarEvent or key.anchor is not None:
                key = self._read_ahead(key)
                tag = key.tag
            else:
                tag = self._scalar_tag(key)
            if tag == _MERGE_TAG:
                self._merge(self._read_ahead(next_event()), depth, merged)
            else:
                yield key, next_event(), False
        yield from merged

    def _entries(self, node: _Node, depth: int) -> Iterator[tuple[Any, Any, bool]]:
        """(key, value, merged) of a recorded mapping, in the same order."""
        merged: list[tuple[Any, Any, bool]] = []
        children = node.value
        for index in range(0, len(children), 2):
            key, value = children[index], children[index + 1]
            if key.tag == _MERGE_TAG:
                self._merge(value, depth, merged)
            else:
                yield key, value, False
        yield from merged

    def _merge(self, value: _Node, depth: int, merged: list[tuple[Any, Any, bool]]) -> None:
        """Add the entries a ``<<`` merge key with this value brings to ``merged``."""
        sources = value.value if value.kind == _SEQUENCE else [value]
        for source in sources:
            if source.kind != _MAPPING:
                raise _Abort(error(self._where(source), "a '<<' merge key takes a mapping or "
                                                        "a list of mappings"))
            if depth > MAX_DEPTH:
                raise _Abort(error(self._where(source), "merge keys nested too deeply"))
            for key, item, _ in self._entries(source, depth + 1):
                # Merged entries count against the expansion budget too: merge keys that
                # merge merge keys would otherwise multiply unbounded.
                self._budget -= 1
                if self._budget < 0:
                    raise _Abort(error(self._where(source), "the YAML expands to too many "
                                       "values (merge keys that merge merge keys?); refusing "
                                       "to expand it"))
                merged.append((key, item, True))

    def _mapping(self, entries: Iterator[tuple[Any, Any, bool]], path: ValuePath, depth: int,
                 block: array[int]) -> dict[str, object]:
        result: dict[str, object] = {}
        for key, value, merged in entries:
            if type(key) is ScalarEvent:
                mark: Any = key.start_mark
                name, line, column = key.value, mark.line, mark.column
            elif key.kind == _SCALAR:
                name, line, column = key.value, key.line, key.column
            else:
                self.errors.add(error(self._where(key), "mapping keys must be plain names, "
                                                        "not lists or mappings"))
                self._read_ahead(value)  # its anchors and aliases still count
                continue
            # Keys are names: take them as written, so `on:` or `1:` stay the text the user typed.
            # The parser makes a new string of each; the same few names recur in the many small
            # mappings (numbers), and one shared copy of each saves a third of a number's
            # memory. A big mapping's keys are its own: interning them would only grow the
            # interpreter's table.
            if len(result) < _INTERNED_KEYS:
                name = sys.intern(name)
            if name in result:
                if not merged:  # an explicit key overrides a merged one, as YAML specifies
                    first = block[3 * list(result).index(name)] >> _LINE_SHIFT
                    self.errors.add(error(
                        Location(self._file, line + 1, column + 1),
                        f"duplicate key '{name}' (first at line {first + 1}); YAML would "
                        "silently keep only the last one"))
                self._read_ahead(value)
                continue
            block.append(_pack(line, column))
            result[name] = self._build(value, (*path, name), depth + 1, block)
        return result


def describe_path(path: ValuePath) -> str:
    """``spaces[0].numbers[1].phone`` for a path, for messages."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the document"
