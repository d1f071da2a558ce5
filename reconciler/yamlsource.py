"""Reading YAML text into plain values that remember where each value and key was written.

PyYAML's constructors drop positions and silently keep the last of two equal keys, so this module
composes the node graph itself and builds plain values (dict, list, str, int, ...) from it,
recording a :class:`~reconciler.diagnostics.Location` for every value and every mapping key by
its path. It also bounds the work: alias expansion ("billion laughs") and nesting depth are
limited, so a tiny hostile file cannot take unbounded time or memory. Pure: text in, values out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import Mark, MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.diagnostics import Diagnostic, Location, error

# libyaml's C parser is several times faster than the pure-Python one; both give the same nodes.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path = tuple[str | int, ...]

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


@dataclass
class LocatedDocument:
    """One parsed YAML document: plain values plus where each path was written."""

    file: str
    value: object
    value_locations: dict[Path, Location] = field(default_factory=dict)
    key_locations: dict[Path, Location] = field(default_factory=dict)
    scalars: dict[Path, ScalarSource] = field(default_factory=dict)

    def location(self, path: Path) -> Location:
        """Where the value at ``path`` was written, or its nearest written ancestor."""
        probe = path
        while probe:
            found = self.value_locations.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        return self.value_locations.get((), Location(self.file, 1, 1))

    def key_location(self, path: Path) -> Location:
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
    loader = _Loader(text.encode("utf-8") if _Loader is not yaml.SafeLoader
                     else text)
    try:
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context and "expected a single document" in exc.context:
            problem = "a manifest file holds one YAML document; found a second one ('---')"
        elif exc.context and exc.context_mark is not None and exc.problem_mark is not None \
                and exc.context_mark.line != exc.problem_mark.line:
            problem += f" ({exc.context} that started at line {exc.context_mark.line + 1})"
        return None, [error(_location(file, mark), f"YAML syntax error: {problem}")]
    except yaml.YAMLError as exc:
        return None, [error(Location(file, 1, 1), f"YAML error: {exc}")]
    except RecursionError:
        return None, [error(Location(file, 1, 1),
                            f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)")]
    document = LocatedDocument(file=file, value=None)
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


class _Builder:
    """Turns a node graph into plain values, recording locations, refusing what is unsafe."""

    def __init__(self, document: LocatedDocument, budget: int) -> None:
        self._doc = document
        self._budget = budget
        self._constructor = SafeConstructor()
        self.errors: list[Diagnostic] = []

    def _loc(self, node: Node) -> Location:
        return _location(self._doc.file, node.start_mark)

    def build(self, node: Node, path: Path, depth: int) -> object:
        self._budget -= 1
        if self._budget < 0:
            raise _Abort(error(self._loc(node),
                               "the YAML expands to too many values (aliases that repeat "
                               "aliases?); refusing to expand it"))
        if depth > MAX_DEPTH:
            raise _Abort(error(self._loc(node),
                               f"the YAML is nested more than {MAX_DEPTH} levels deep "
                               "(a recursive alias?)"))
        if path not in self._doc.value_locations:
            self._doc.value_locations[path] = self._loc(node)
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

    def _scalar(self, node: ScalarNode, path: Path) -> object:
        self._doc.scalars[path] = ScalarSource(text=node.value, quoted=node.style in ("'", '"'),
                                               tag=node.tag)
        if node.tag == _STR_TAG:
            return node.value  # what SafeConstructor.construct_yaml_str returns, without its cost
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.errors.append(error(self._loc(node),
                                     f"cannot read this value: {exc.problem or exc}"))
            return None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # PyYAML's constructors raise these for values its resolver matched but cannot
            # build (a date 2001-13-45, '!!int abc'): the user's data, so a located error.
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

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, object]:
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
            first_seen[key] = self._doc.key_locations[child] = self._loc(key_node)
            result[key] = self.build(value_node, child, depth + 1)
        return result


def describe_path(path: Path) -> str:
    """``spaces[0].numbers[1].phone`` for a path, for messages."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the document"
