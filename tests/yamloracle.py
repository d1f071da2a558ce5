"""The composing YAML reader camsctl used until the event reader replaced it: the oracle.

``reconciler.yamlsource`` builds values straight from the parser's events, to keep memory
linear and small; this reader composes PyYAML's whole node graph first, then builds the same
values from it, and was camsctl's general reader until then (kept as it was at commit 5e3dba0,
but for its imports and the loader class it is given). ``tests/test_fast_paths.py`` holds the
event reader to it: the same values, locations, scalar sources, errors and error order, on
generated input.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

import reconciler.yamlsource
from reconciler.diagnostics import Diagnostic, Location, error
from reconciler.yamldepth import nesting_error
from reconciler.yamlsource import (
    MAX_DEPTH,
    MIN_EXPANSION_BUDGET,
    LocatedDocument,
    ScalarSource,
    ValuePath,
    _location,
    _syntax_error,
    _too_deep,
)

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_COLLECTION_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}


class _Abort(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def parse_composed(file: str, text: str) -> tuple[LocatedDocument | None, list[Diagnostic]]:
    """What the composing reader made of ``text``, with the loader camsctl uses now."""
    loader = reconciler.yamlsource._Loader
    data: bytes | str = text.encode("utf-8") if loader is not yaml.SafeLoader else text
    return _parse_composed(file, text, data, loader)


def _parse_composed(file: str, text: str, data: bytes | str,
                    loader_type: type[yaml.SafeLoader]) \
        -> tuple[LocatedDocument | None, list[Diagnostic]]:
    """The general reader: composes PyYAML's node graph (anchors, aliases, merge keys, tags)
    and builds the values from it, reporting every problem located."""
    try:
        loader = loader_type(data)
    except yaml.YAMLError as exc:  # PyYAML's pure-Python reader checks every character first
        return None, [_syntax_error(file, text, exc)]
    try:
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError) as exc:
        too_deep = nesting_error(file, text, data, fast=loader_type, limit=MAX_DEPTH)
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
