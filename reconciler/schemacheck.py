"""A JSON Schema compiled into a check that only says yes or no, for the manifest's fast path.

A 100k-number manifest passes it in a tenth of the time jsonschema takes to look for errors.
It is conservative: whatever it is unsure of (a keyword it does not know, a 1.0 where an
integer is wanted, a list of non-strings to check for uniqueness) counts as "no", and a "no"
only means jsonschema then runs as before, so every message stays jsonschema's own
(``tests/test_fast_paths.py`` checks both agree). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping


def inline_refs(node: object, defs: Mapping[str, object], depth: int = 0) -> object:
    """``node`` with each local ``{"$ref": "#/$defs/NAME", ...}`` replaced by NAME's keywords
    merged with the siblings; raises KeyError for any other reference."""
    if depth > 32:
        raise KeyError("$ref cycle")
    if isinstance(node, list):
        return [inline_refs(item, defs, depth + 1) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, object] = {}
    ref = node.get("$ref")
    if ref is not None:
        prefix = "#/$defs/"
        if not isinstance(ref, str) or not ref.startswith(prefix):
            raise KeyError(ref)
        target = inline_refs(defs[ref[len(prefix):]], defs, depth + 1)
        assert isinstance(target, dict)
        out.update(target)
    for key, value in node.items():
        if key != "$ref":
            out[key] = value if key == "$defs" else inline_refs(value, defs, depth + 1)
    return out


Check = Callable[[object], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description",
                          "examples", "default"})
_TYPE_CHECKS: dict[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: type(value) is int,
    "number": lambda value: type(value) is int or type(value) is float,
    "boolean": lambda value: type(value) is bool,
    "null": lambda value: value is None,
}
_SCALAR_TYPES = (str, int, float, bool, type(None))


class Unsupported(Exception):
    """The schema uses something the yes-or-no check does not know."""


def _always(value: object) -> bool:
    return True


def _never(value: object) -> bool:
    return False


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    first, *rest = checks

    def check(value: object) -> bool:
        if not first(value):
            return False
        return all(each(value) for each in rest)
    return check


def _type_check(expected: object) -> Check:
    names = [expected] if isinstance(expected, str) else expected
    if not isinstance(names, list) or not all(isinstance(n, str) and n in _TYPE_CHECKS
                                              for n in names):
        raise Unsupported("type")
    if len(names) == 1:
        return _TYPE_CHECKS[names[0]]
    checks = [_TYPE_CHECKS[n] for n in names]
    return lambda value: any(each(value) for each in checks)


def _equal_check(choices: object) -> Check:
    if not isinstance(choices, list) or not all(type(c) in _SCALAR_TYPES for c in choices):
        raise Unsupported("const/enum")
    if all(type(c) is str for c in choices):
        strings = frozenset(choices)
        return lambda value: type(value) is str and value in strings
    typed = [(type(c), c) for c in choices]
    return lambda value: any(type(value) is t and value == c for t, c in typed)


def _object_check(schema: Mapping[str, object]) -> Check:
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, Mapping) or not isinstance(patterns, Mapping) \
            or not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise Unsupported("properties")
    named = {str(name): compile_check(sub) for name, sub in properties.items()}
    by_pattern = [(re.compile(str(p)), compile_check(sub)) for p, sub in patterns.items()]
    # jsonschema finds additional properties with the patterns joined by '|'
    joined = re.compile("|".join(str(p) for p in patterns)) if patterns else None
    rest = None if additional is False else compile_check(additional)
    needed = tuple(required)

    def check(value: object) -> bool:
        if not isinstance(value, dict):
            return True
        for name in needed:
            if name not in value:
                return False
        for key, item in value.items():
            if type(key) is not str:
                return False
            sub = named.get(key)
            if sub is not None and not sub(item):
                return False
            for pattern, pattern_check in by_pattern:
                if pattern.search(key) and not pattern_check(item):
                    return False
            if sub is None and (joined is None or not joined.search(key)) \
                    and (rest is None or not rest(item)):
                return False
        return True
    return check


def _array_check(schema: Mapping[str, object]) -> Check:
    items = compile_check(schema.get("items", True))
    least = schema.get("minItems", 0)
    unique = schema.get("uniqueItems", False)
    if type(least) is not int or type(unique) is not bool:
        raise Unsupported("minItems/uniqueItems")

    def check(value: object) -> bool:
        if not isinstance(value, list):
            return True
        if len(value) < least:
            return False
        if unique and not (all(type(v) is str for v in value) and len(set(value)) == len(value)):
            return False
        return items is _always or all(items(v) for v in value)
    return check


def _string_check(schema: Mapping[str, object]) -> Check:
    pattern = schema.get("pattern")
    least = schema.get("minLength", 0)
    if (pattern is not None and not isinstance(pattern, str)) or type(least) is not int:
        raise Unsupported("pattern/minLength")
    search = re.compile(pattern).search if pattern is not None else None

    def check(value: object) -> bool:
        if not isinstance(value, str):
            return True
        return len(value) >= least and (search is None or search(value) is not None)
    return check


_OBJECT_KEYWORDS = frozenset({"properties", "patternProperties", "required",
                              "additionalProperties"})
_ARRAY_KEYWORDS = frozenset({"items", "minItems", "uniqueItems"})
_STRING_KEYWORDS = frozenset({"pattern", "minLength"})


def compile_check(schema: object) -> Check:
    """A yes-or-no check of ``schema``: yes only if jsonschema would find no error."""
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, Mapping):
        raise Unsupported("schema")
    keywords = set(schema) - _ANNOTATIONS
    unknown = keywords - _OBJECT_KEYWORDS - _ARRAY_KEYWORDS - _STRING_KEYWORDS \
        - {"type", "const", "enum"}
    if unknown:
        raise Unsupported(", ".join(sorted(unknown)))
    checks: list[Check] = []
    if "type" in keywords:
        checks.append(_type_check(schema["type"]))
    if "const" in keywords:
        checks.append(_equal_check([schema["const"]]))
    if "enum" in keywords:
        checks.append(_equal_check(schema["enum"]))
    if keywords & _STRING_KEYWORDS:
        checks.append(_string_check(schema))
    if keywords & _ARRAY_KEYWORDS:
        checks.append(_array_check(schema))
    if keywords & _OBJECT_KEYWORDS:
        checks.append(_object_check(schema))
    return _all(checks)


