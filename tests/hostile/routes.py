"""The route table the hostile-input sweeps run over: every route taking a JSON body.

`JSON_WRITES` names each route with a valid body and the kind of each text field; a test checks
it against the app's own route table, so a new write route cannot escape the sweep unnoticed.
Bodies are built from a `World` (ids of one of everything) so that each hostile request differs
from an accepted one in the hostile part only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tests.fixtures.api import Actor

TextKind = Literal["single", "multi", "token"]

# C0 (NUL, SOH, ESC), DEL, C1 (NEL, APC) and a lone surrogate: refused in every text field.
CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f", "\ud800", "\udfff"]
# Line breaks and tabs: refused on one line, kept in long texts.
LINE_BREAKS = ["\n", "\r", "\t", "\r\n"]


@dataclass(frozen=True)
class World:
    """One of everything a write route can address, all made by the admin."""

    admin: Actor
    user_id: str
    case_id: str
    witness_id: str
    testimony_id: str
    visit_id: str
    evidence_id: str


@dataclass(frozen=True)
class JsonWrite:
    """A route taking a JSON body: its path template (filled from the `World`, whose fields
    the path parameters name) and a valid body; the text fields (dotted paths; `tags.0` is the
    first tag) and what they may hold; `read`, a path template to GET an If-Match ETag from."""

    method: str
    template: str
    body: Callable[[World], dict[str, Any]]
    texts: dict[str, TextKind]
    read: str | None = None
    body_optional: bool = False  # no body at all means {} (POST …/tokens)

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"

    def path(self, world: World) -> str:
        return self.template.format_map(vars(world))

    def read_path(self, world: World) -> str:
        assert self.read is not None, self.name
        return self.read.format_map(vars(world))


def _update(
    template: str, body: Callable[[World], dict[str, Any]], texts: dict[str, TextKind]
) -> JsonWrite:
    """A PATCH, sent with If-Match: the ETag of the resource it changes."""
    return JsonWrite("PATCH", template, body, texts, read=template)


def _case(_: World) -> dict[str, Any]:
    return {
        "title": "Missile strikes on Martuni",
        "occurred_at": "2020-09-27T06:00:00Z",
        "summary": "Twelve strikes.",
        "status": "open",
        "tags": ["missile"],
        "weapon": "Rockets",
        "responsible_party": "Unknown",
        "location": {"name": "Martuni", "country": "Armenia", "admin_area": "Karabakh"},
    }


_CASE_TEXTS: dict[str, TextKind] = {
    "title": "single",
    "summary": "multi",
    "status": "token",
    "tags.0": "single",
    "weapon": "single",
    "responsible_party": "single",
    "location.name": "single",
    "location.country": "single",
    "location.admin_area": "single",
}


def _witness(_: World) -> dict[str, Any]:
    return {
        "full_name": "Anahit Gevorgyan",
        "contact": "via the community centre",
        "home_location": {"description": "Martuni, near the school"},
        "identity_notes": "Mother of two.",
        "consent": {"method": "oral_recorded"},
        "risk_level": "medium",
    }


_WITNESS_TEXTS: dict[str, TextKind] = {
    "full_name": "single",
    "contact": "multi",
    "home_location.description": "multi",
    "identity_notes": "multi",
    "consent.method": "token",
    "risk_level": "token",
}


def _testimony(world: World) -> dict[str, Any]:
    return {
        "witness_id": world.witness_id,
        "recorded_at": "2020-12-02T10:00:00Z",
        "statement": "The first strike came at six.",
        "place": "Martuni",
        "language": "en",
        "translation": "The first strike came at six.",
        "translation_language": "en",
    }


_TESTIMONY_TEXTS: dict[str, TextKind] = {
    "statement": "multi",
    "place": "single",
    "language": "token",
    "translation": "multi",
    "translation_language": "token",
}


def _visit(_: World) -> dict[str, Any]:
    return {
        "visited_at": "2020-12-03T09:00:00Z",
        "location": {"name": "Martuni"},
        "purpose": "Document impact sites.",
        "observations": "A crater in a courtyard.",
        "conditions": {"access": "Open", "security": "Calm", "weather": "Dry"},
    }


_VISIT_TEXTS: dict[str, TextKind] = {
    "location.name": "single",
    "purpose": "multi",
    "observations": "multi",
    "conditions.access": "multi",
    "conditions.security": "multi",
    "conditions.weather": "single",
}


def _without(create: Callable[[World], dict[str, Any]], *drop: str) -> Callable[[World], Any]:
    return lambda world: {k: v for k, v in create(world).items() if k not in drop}


JSON_WRITES = [
    JsonWrite(
        "POST",
        "/api/v1/users",
        lambda w: {"name": "amira", "role": "investigator"},
        {"name": "token", "role": "token"},
    ),
    _update(
        "/api/v1/users/{user_id}", lambda w: {"role": "legal", "active": True}, {"role": "token"}
    ),
    JsonWrite(
        "POST",
        "/api/v1/users/{user_id}/tokens",
        lambda w: {"label": "field laptop", "expires_at": "2099-01-01T00:00:00Z"},
        {"label": "single", "expires_at": "token"},
        body_optional=True,
    ),
    JsonWrite("POST", "/api/v1/cases", _case, {**_CASE_TEXTS, "occurred_at": "token"}),
    _update("/api/v1/cases/{case_id}", _case, _CASE_TEXTS),
    JsonWrite(
        "PUT",
        "/api/v1/cases/{case_id}/members/{user_id}",
        lambda w: {"role": "viewer", "can_identify_witnesses": False},
        {"role": "token"},
    ),
    JsonWrite("POST", "/api/v1/cases/{case_id}/witnesses", _witness, _WITNESS_TEXTS),
    _update("/api/v1/witnesses/{witness_id}", _witness, _WITNESS_TEXTS),
    JsonWrite(
        "POST",
        "/api/v1/cases/{case_id}/testimonies",
        _testimony,
        {**_TESTIMONY_TEXTS, "witness_id": "token", "recorded_at": "token"},
    ),
    _update(
        "/api/v1/testimonies/{testimony_id}", _without(_testimony, "witness_id"), _TESTIMONY_TEXTS
    ),
    JsonWrite("POST", "/api/v1/cases/{case_id}/site-visits", _visit, _VISIT_TEXTS),
    _update("/api/v1/site-visits/{visit_id}", _visit, _VISIT_TEXTS),
    JsonWrite(
        "POST",
        "/api/v1/evidence/{evidence_id}/withdraw",
        lambda w: {"reason": "Uploaded to the wrong case."},
        {"reason": "multi"},
        read="/api/v1/evidence/{evidence_id}",
    ),
]


def with_value(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A deep copy of `body` with the field at `dotted` (`a.b`, `tags.0`) set to `value`."""
    copy: Any = json.loads(json.dumps(body))
    *parents, last = dotted.split(".")
    node = copy
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    result: dict[str, Any] = copy
    return result


def value_at(body: dict[str, Any], dotted: str) -> Any:
    node: Any = body
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def encode(body: Any) -> bytes:
    """JSON as a careful client writes it, except that lone surrogates pass as `\\udXXX`
    escapes (ensure_ascii), exactly as a hostile client would send them."""
    return json.dumps(body, ensure_ascii=True).encode()
