"""Helpers shared by the site-visit tests: bodies, terse HTTP calls, audit reads."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from tests.fixtures.api import Actor

OBSERVATIONS = (
    "Impact crater, about 1.5 m across, in the courtyard between buildings 12 and 14.\n"
    "Shrapnel marks on the east façade up to the third floor; windows blown in."
)
PURPOSE = "Document the impact sites of the 27 September strikes on Martuni."

FULL: dict[str, Any] = {
    "visited_at": "2020-12-03T13:00:00+04:00",
    "visited_until": "2020-12-03T17:30:00+04:00",
    "location": {"name": "Martuni, residential district", "lat": 39.7946, "lon": 47.1136},
    "purpose": PURPOSE,
    "observations": OBSERVATIONS,
    "conditions": {"access": "Unrestricted", "security": "Calm", "weather": "Dry, 6 °C"},
}
SMALLEST: dict[str, Any] = {"visited_at": "2020-12-03T09:00:00Z", "observations": "Crater."}


def body(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A copy of `base` (the full body by default) with top-level `changes` applied."""
    return {**copy.deepcopy(FULL if base is None else base), **changes}


def post_visit(
    client: TestClient,
    actor: Actor,
    case_id: str,
    payload: Any,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        f"/api/v1/cases/{case_id}/site-visits",
        json=payload,
        headers={**actor.headers, **(headers or {})},
    )


def log_visit(client: TestClient, actor: Actor, case_id: str, payload: Any) -> dict[str, Any]:
    answer = post_visit(client, actor, case_id, payload)
    assert answer.status_code == 201, answer.text
    visit: dict[str, Any] = answer.json()
    return visit


def patch_visit(
    client: TestClient, actor: Actor, visit_id: str, payload: Any, etag: str | None
) -> httpx.Response:
    headers = dict(actor.headers)
    if etag is not None:
        headers["If-Match"] = etag
    return client.patch(f"/api/v1/site-visits/{visit_id}", json=payload, headers=headers)


def audit_events(client: TestClient, actor: Actor, case_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/cases/{case_id}/audit?limit=200", headers=actor.headers)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["next_cursor"] is None, "more audit events than one page: raise the limit"
    items: list[dict[str, Any]] = page["items"]
    return items


def deactivate(client: TestClient, admin: Actor, user: Actor) -> None:
    answer = client.patch(
        f"/api/v1/users/{user.id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": '"1"'},
    )
    assert answer.status_code == 200, answer.text


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def as_text(value: Any) -> str:
    """JSON with non-ASCII kept as is, so that a search for a phrase finds it in any script."""
    return json.dumps(value, ensure_ascii=False)


def without_request_id(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem body minus the per-request id, for "the two answers are the same" checks."""
    return {k: v for k, v in problem.items() if k != "request_id"}


@dataclass(frozen=True)
class Linked:
    """Two cases, A (Martuni) and B (Ganja), with different leads, and one visit covering
    both, logged by A's lead, who is also an investigator on B."""

    client: TestClient
    lead_a: Actor
    lead_b: Actor
    case_a: str
    case_b: str
    visit: dict[str, Any]
