"""The route table the hostile-input sweeps run over, the world they run in, and raw sockets.

`JSON_WRITES` names every route that takes a JSON body, with a valid body and the kind of each
text field: a test checks it against the app's own route table, so a new write route cannot
escape the sweep unnoticed. Bodies are built from a `World` (ids of one of everything) so that
each hostile request differs from an accepted one in the hostile part only.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx2 as httpx
from fastapi.testclient import TestClient

from tests.evidence.support import PROBLEM, StoreProbe
from tests.fixtures.api import Actor, DatabaseProbe

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
    """A route taking a JSON body: how to address it and a valid body; the text fields (dotted
    paths; `tags.0` is the first tag) and what they may hold; `read` for an If-Match ETag."""

    method: str
    template: str
    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    texts: dict[str, TextKind]
    read: Callable[[World], str] | None = None
    body_optional: bool = False  # no body at all means {} (POST …/tokens)

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


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


def _patch(create: Callable[[World], dict[str, Any]], *drop: str) -> Callable[[World], Any]:
    return lambda world: {k: v for k, v in create(world).items() if k not in drop}


JSON_WRITES = [
    JsonWrite(
        "POST",
        "/api/v1/users",
        lambda w: "/api/v1/users",
        lambda w: {"name": "amira", "role": "investigator"},
        {"name": "token", "role": "token"},
    ),
    JsonWrite(
        "PATCH",
        "/api/v1/users/{user_id}",
        lambda w: f"/api/v1/users/{w.user_id}",
        lambda w: {"role": "legal", "active": True},
        {"role": "token"},
        read=lambda w: f"/api/v1/users/{w.user_id}",
    ),
    JsonWrite(
        "POST",
        "/api/v1/users/{user_id}/tokens",
        lambda w: f"/api/v1/users/{w.user_id}/tokens",
        lambda w: {"label": "field laptop", "expires_at": "2099-01-01T00:00:00Z"},
        {"label": "single", "expires_at": "token"},
        body_optional=True,
    ),
    JsonWrite(
        "POST",
        "/api/v1/cases",
        lambda w: "/api/v1/cases",
        _case,
        {**_CASE_TEXTS, "occurred_at": "token"},
    ),
    JsonWrite(
        "PATCH",
        "/api/v1/cases/{case_id}",
        lambda w: f"/api/v1/cases/{w.case_id}",
        _case,
        _CASE_TEXTS,
        read=lambda w: f"/api/v1/cases/{w.case_id}",
    ),
    JsonWrite(
        "PUT",
        "/api/v1/cases/{case_id}/members/{user_id}",
        lambda w: f"/api/v1/cases/{w.case_id}/members/{w.user_id}",
        lambda w: {"role": "viewer", "can_identify_witnesses": False},
        {"role": "token"},
    ),
    JsonWrite(
        "POST",
        "/api/v1/cases/{case_id}/witnesses",
        lambda w: f"/api/v1/cases/{w.case_id}/witnesses",
        _witness,
        _WITNESS_TEXTS,
    ),
    JsonWrite(
        "PATCH",
        "/api/v1/witnesses/{witness_id}",
        lambda w: f"/api/v1/witnesses/{w.witness_id}",
        _witness,
        _WITNESS_TEXTS,
        read=lambda w: f"/api/v1/witnesses/{w.witness_id}",
    ),
    JsonWrite(
        "POST",
        "/api/v1/cases/{case_id}/testimonies",
        lambda w: f"/api/v1/cases/{w.case_id}/testimonies",
        _testimony,
        {**_TESTIMONY_TEXTS, "witness_id": "token", "recorded_at": "token"},
    ),
    JsonWrite(
        "PATCH",
        "/api/v1/testimonies/{testimony_id}",
        lambda w: f"/api/v1/testimonies/{w.testimony_id}",
        _patch(_testimony, "witness_id"),
        _TESTIMONY_TEXTS,
        read=lambda w: f"/api/v1/testimonies/{w.testimony_id}",
    ),
    JsonWrite(
        "POST",
        "/api/v1/cases/{case_id}/site-visits",
        lambda w: f"/api/v1/cases/{w.case_id}/site-visits",
        _visit,
        _VISIT_TEXTS,
    ),
    JsonWrite(
        "PATCH",
        "/api/v1/site-visits/{visit_id}",
        lambda w: f"/api/v1/site-visits/{w.visit_id}",
        _visit,
        _VISIT_TEXTS,
        read=lambda w: f"/api/v1/site-visits/{w.visit_id}",
    ),
    JsonWrite(
        "POST",
        "/api/v1/evidence/{evidence_id}/withdraw",
        lambda w: f"/api/v1/evidence/{w.evidence_id}/withdraw",
        lambda w: {"reason": "Uploaded to the wrong case."},
        {"reason": "multi"},
        read=lambda w: f"/api/v1/evidence/{w.evidence_id}",
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


# -- probes ------------------------------------------------------------------------------------
@dataclass
class Probes:
    """Everything a refused request must leave as it was: every row, every object, no temps."""

    db: DatabaseProbe
    store: StoreProbe

    def state(self) -> tuple[dict[str, str], set[str], list[str]]:
        return self.db.fingerprint(), self.store.keys(), self.store.leftovers()


def assert_refused(answer: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx problem+json (one of `statuses` if given) that echoes nothing it was sent."""
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:500])
    if statuses:
        assert answer.status_code in statuses, (answer.status_code, answer.text[:500])
    assert answer.headers["content-type"] == PROBLEM, answer.headers
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == answer.status_code
    return problem


def write_headers(
    client: TestClient, actor: Actor, route: JsonWrite, world: World
) -> dict[str, str]:
    """Headers for the route, with its current ETag as If-Match where it wants one. Fetched
    before the "before" state is taken: reading a witness's identity is itself audited."""
    headers = dict(actor.headers)
    if route.read is not None:
        headers["If-Match"] = client.get(route.read(world), headers=actor.headers).headers["etag"]
    return headers


def send_json(
    client: TestClient,
    route: JsonWrite,
    world: World,
    headers: dict[str, str],
    raw: bytes,
    content_type: str = "application/json",
) -> httpx.Response:
    headers = {**headers, "Content-Type": content_type}
    return client.request(route.method, route.path(world), content=raw, headers=headers)


# -- raw HTTP/1.1 on a socket ------------------------------------------------------------------
@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(port: int, head: bytes, body: bytes = b"", *, timeout: float = 30.0) -> RawAnswer:
    """Send exactly these bytes (the request head without its final blank line, then `body`)
    and read one answer: for requests no HTTP client library will send."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + b"\r\n\r\n" + body)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> RawAnswer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return RawAnswer(int(lines[0].split()[1]), headers, rest[:length])


def request_head(method: str, path: str, actor: Actor, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {actor.token}"]
    return "\r\n".join([*lines, *extra]).encode()


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
