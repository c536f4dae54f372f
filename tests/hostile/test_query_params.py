"""Hostile query strings on every GET list route: oversized, negative, repeated, malformed.

The list routes are found in the app's route table (every route taking `limit`), so a new list
cannot escape the sweep. Each hostile query is a 4xx problem+json and reads nothing it should
not; a 100 KB query string also goes through uvicorn on a real socket.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient

from app.kit.routing import iter_api_routes
from app.kit.server import MAX_HEAD_BYTES
from tests.fixtures.api import LiveServer
from tests.hostile.routes import World
from tests.hostile.support import Probes, RawAnswer, assert_refused, raw_request, request_head

HUGE = "9" * 40
KB_60 = "x" * 60_000  # httpx refuses URLs past 64 KiB; 100 KB goes by socket, below

PAGING = [
    "limit=0",
    "limit=-1",
    "limit=201",
    f"limit={HUGE}",
    "limit=1e3",
    "limit=abc",
    "limit=",
    "limit=1&limit=100000",
    "limit=%00",
    f"cursor={KB_60}",
    "cursor=-1",
    "cursor=%00",
    "cursor=eyJsIjoieCJ9",  # base64 of {"l":"x"}: a cursor of another listing
    "cursor=a&cursor=b&cursor=" + "c" * 600,
]
CASE_FILTERS = [
    f"q={KB_60}",
    "q=%00",
    "q=a%0d%0aSet-Cookie:%20x=1",
    f"bbox={KB_60}",
    "bbox=1,2,3",
    "bbox=nan,nan,nan,nan",
    "bbox=-1e400,0,1,1",
    "status=bogus",
    "status=open&status=bogus",
    "tag=" + "&tag=".join(str(i) for i in range(11)),
    f"tag={'t' * 65}",
    "tag=a%0ab",
    "occurred_from=yesterday",
    "occurred_from=2020-01-01T00:00:00",  # no zone: ambiguous
    "occurred_from=2021-01-01T00:00:00Z&occurred_to=2020-01-01T00:00:00Z",
]
OTHER_FILTERS = {
    "/api/v1/users": ["role=root", "active=maybe", f"role={KB_60}"],
    "/api/v1/cases/{case_id}/evidence": ["withdrawn=perhaps", f"withdrawn={KB_60}"],
}


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.name for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _list_templates(app: FastAPI) -> list[str]:
    return sorted(
        route.path
        for route in iter_api_routes(app)
        if "GET" in route.methods and "limit" in _query_names(route.dependant)
    )


def _fill(template: str, world: World) -> str:
    return template.replace("{case_id}", world.case_id).replace("{user_id}", world.user_id)


def test_every_list_route_refuses_hostile_queries(
    app: FastAPI, client: TestClient, world: World, probes: Probes, subtests: pytest.Subtests
) -> None:
    templates = _list_templates(app)
    assert "/api/v1/cases" in templates
    assert len(templates) >= 6, templates
    before = probes.state()
    for template in templates:
        queries = PAGING + OTHER_FILTERS.get(template, [])
        if template == "/api/v1/cases":
            queries += CASE_FILTERS
        for query in queries:
            with subtests.test(f"{template}?{query[:60]}"):
                answer = client.get(
                    f"{_fill(template, world)}?{query}", headers=world.admin.headers
                )
                problem = assert_refused(answer, 400, 422)
                assert KB_60 not in answer.text
                assert "Set-Cookie" not in str(answer.headers)
                assert problem["status"] == answer.status_code
    assert probes.state() == before


def test_a_repeated_filter_is_bounded(client: TestClient, world: World) -> None:
    """5,000 repetitions of a valid status are not 5,000 SQL parameters: refused, or answered
    as the one filter it means, never a server error."""
    query = "&".join(["status=open"] * 5000)
    answer = client.get(f"/api/v1/cases?{query}", headers=world.admin.headers)
    assert answer.status_code in (200, 422), answer.text[:300]


@pytest.mark.parametrize("query", [f"q={KB_60}", f"cursor={KB_60}", "q=" + quote("\x00" * 100)])
def test_a_60_kb_query_string_through_uvicorn_is_a_problem(
    live_server: LiveServer, world: World, query: str
) -> None:
    head = request_head("GET", f"/api/v1/cases?{query}", world.admin)
    answer = raw_request(live_server.port, head, timeout=10)
    assert answer.status == 422, (answer.status, answer.body[:300])
    assert answer.headers.get("content-type") == "application/problem+json", answer.headers


GARBAGE = {
    "100 KB request line": "GET /api/v1/cases?q=" + "x" * 100_000 + " HTTP/1.1",
    "not HTTP": "HELLO /api/v1/cases SMTP/2",
    "NUL in the path": "GET /api/v1/cases\x00 HTTP/1.1",
}


@pytest.mark.parametrize("head", list(GARBAGE.values()), ids=list(GARBAGE))
def test_what_the_http_parser_refuses_is_a_problem_too(
    live_server: LiveServer, world: World, probes: Probes, head: str
) -> None:
    """Past 64 KiB, or not HTTP at all, uvicorn's parser refuses the request before the app
    sees it; `casefile serve` gives it a protocol that answers that 400 as a problem too (it
    was text/plain)."""
    before = probes.state()
    request = head.encode("latin-1") + f"\r\nAuthorization: Bearer {world.admin.token}".encode()
    answer = raw_request(live_server.port, request + b"\r\nHost: 127.0.0.1", timeout=10)
    _assert_closing_problem(answer, 400)
    assert probes.state() == before


def test_headers_past_a_mebibyte_are_refused_with_431(
    live_server: LiveServer, world: World, probes: Probes
) -> None:
    """uvicorn kept a request's headers in memory however long they grew (20 MB were read and
    answered with 200): now the head is cut off past 1 MiB."""
    before = probes.state()
    padding = "X-Padding: " + "x" * (MAX_HEAD_BYTES + 64 * 1024)
    head = request_head("GET", "/api/v1/cases", world.admin, padding)
    answer = raw_request(live_server.port, head, timeout=10)
    _assert_closing_problem(answer, 431)
    assert json.loads(answer.body)["type"].endswith(":head-too-large"), answer.body
    assert probes.state() == before


def test_long_heads_within_the_bound_and_big_bodies_are_served(
    live_server: LiveServer, world: World
) -> None:
    """The bound counts the head only: 900 KB of headers are served, and a body three times
    the bound reaches the app (whose own JSON limit answers it), not cut off as a head."""
    padding = "X-Padding: " + "x" * 900_000
    head = request_head("GET", f"/api/v1/cases/{world.case_id}", world.admin, padding)
    assert raw_request(live_server.port, head, timeout=10).status == 200
    body = b"x" * (3 * MAX_HEAD_BYTES)
    head = request_head("POST", "/api/v1/cases", world.admin, f"Content-Length: {len(body)}")
    answer = raw_request(live_server.port, head + b"\r\nContent-Type: application/json", body)
    assert answer.status == 413


def _assert_closing_problem(answer: RawAnswer, status: int) -> None:
    assert answer.status == status, answer
    assert answer.headers.get("content-type") == "application/problem+json"
    assert answer.headers.get("connection") == "close"
    assert json.loads(answer.body)["status"] == status
