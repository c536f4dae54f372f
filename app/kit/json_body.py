"""Parsing a JSON request body, refusing an object that names the same key twice.

RFC 8259 leaves duplicate names undefined: Python keeps the last, other parsers the first. A
body `{"role": "viewer", "role": "lead"}` would then mean one thing to a proxy, a log or an
auditor's script and another to us, so it is refused (422 naming the key's path) instead.
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import UnprocessableContent
from app.kit.problems import invalid_field

_SHOWN_KEY_CHARS = 100  # a path in an error, not a place to echo a whole body


class _Pairs(list[tuple[str, Any]]):
    """An object as parsed, every name kept, so that duplicates can be found with their path."""


def loads_unique(text: str) -> Any:
    """`json.loads`, raising a 422 problem for the first object with a repeated key.

    Malformed JSON raises json.JSONDecodeError as json.loads would (and RecursionError for
    nesting past the parser's limit)."""
    return _objects(json.loads(text, object_pairs_hook=_Pairs), ())


def _objects(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, _Pairs):
        result: dict[str, Any] = {}
        for key, item in value:
            if key in result:
                raise duplicate_key(".".join((*path, key)))
            result[key] = _objects(item, (*path, key))
        return result
    if isinstance(value, list):
        return [_objects(item, (*path, str(i))) for i, item in enumerate(value)]
    return value


def duplicate_key(field: str, *, location: str = "body") -> UnprocessableContent:
    """The 422 for a key (or a form field, an upload's metadata key) given twice."""
    shown = field if len(field) <= _SHOWN_KEY_CHARS else field[:_SHOWN_KEY_CHARS] + "…"
    return invalid_field(shown, "is given more than once", location=location)
