"""What a row's texts look like to those who may not identify its case's witnesses. Pure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.models.case import Case
from app.models.protected_text import ProtectedTextColumns
from app.protection.fields import JSON_TEXT_FIELDS, TAGS, TextFields, fields_of
from app.protection.matcher import MARKER, Matcher

# Bumped whenever matching changes, so that `casefile protection refresh` (and the start-up
# backfill) recomputes every row made with older rules.
RULES_VERSION = "m1"
TAG_LENGTH = 64


@dataclass(frozen=True)
class Shown:
    """A row's texts as shown, and which witnesses each field names."""

    withheld: dict[str, str]  # field -> shown value, only where something is withheld
    search_shown: str | None  # the searched fields as shown, for rows that are searched
    naming: dict[str, frozenset[uuid.UUID]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # a case's tag -> as shown


def compute(row: ProtectedTextColumns, matcher: Matcher) -> Shown:
    spec = fields_of(row)
    values = {name: getattr(row, name) for name in spec.texts}
    tags = [t.tag for t in row.tags] if isinstance(row, Case) else []
    return compute_values(spec, values, tags, matcher)


def compute_values(
    spec: TextFields, values: Mapping[str, str | None], tags: list[str], matcher: Matcher
) -> Shown:
    """The shown texts of a row whose text fields (of `spec`) hold `values`."""
    withheld: dict[str, str] = {}
    naming: dict[str, frozenset[uuid.UUID]] = {}
    for name in spec.texts:
        value = values.get(name)
        if value is None:
            continue
        if name in JSON_TEXT_FIELDS:
            shown, named = _shown_json(value, matcher)
        else:
            shown, named = matcher.redact(value) or value, matcher.names(value)
        if named:
            naming[name] = named
        if shown != value:
            withheld[name] = shown
    search = None
    if spec.searched:
        search = spec.joiner.join(withheld.get(f, values.get(f) or "") for f in spec.searched)
    shown_tags: dict[str, str] = {}
    for tag in tags:
        shown_tags[tag] = (matcher.redact(tag) or tag)[:TAG_LENGTH]
        if named := matcher.names(tag):
            naming[TAGS] = naming.get(TAGS, frozenset()) | named
    return Shown(withheld, search, naming, shown_tags)


def _shown_json(raw: str, matcher: Matcher) -> tuple[str, frozenset[uuid.UUID]]:
    """A JSON document with each of its strings shown (keys are ours, not the file's)."""
    try:
        document = json.loads(raw)
    except ValueError:
        return matcher.redact(raw) or raw, matcher.names(raw)
    named: set[uuid.UUID] = set()

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            named.update(matcher.names(value))
            return matcher.redact(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    shown = walk(document)
    return (json.dumps(shown) if named else raw), frozenset(named)


def pending_value(value: str | None) -> str | None:
    """A text of a row not yet computed, to a caller who may not identify: nothing of it."""
    return None if value is None else MARKER
