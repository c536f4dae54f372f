"""Listing cases: only the visible ones, filtered, newest first, cursor-paginated."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import GANJA, MARTUNI, Actor, DatabaseProbe, MakeUser

MakeCase = Callable[..., dict[str, Any]]

STEPANAKERT = {
    "title": "Cluster munitions on Stepanakert",
    "occurred_at": "2020-10-04T08:00:00Z",
    "status": "under_review",
    "tags": ["cluster-munitions"],
    "weapon": "Cluster munitions (M095 DPICM)",
    "location": {"name": "Stepanakert", "lat": 39.8153, "lon": 46.7519},
}
BARDA = {
    "title": "Rocket strike on Barda",
    "occurred_at": "2020-10-28T13:30:00Z",
    "status": "referred",
    "tags": ["cluster-munitions", "residential-area"],
    "summary": "Smerch rockets carrying cluster munitions hit the town centre.",
    "location": {"name": "Barda", "country": "Azerbaijan", "lat": 40.3744, "lon": 47.1267},
}


def titles(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [case["title"] for case in answer.json()["items"]]


@pytest.fixture
def four_cases(admin: Actor, make_case: MakeCase) -> list[dict[str, Any]]:
    return [make_case(admin, body) for body in (MARTUNI, STEPANAKERT, GANJA, BARDA)]


def test_newest_first(client: TestClient, admin: Actor, four_cases: list[dict[str, Any]]) -> None:
    answer = client.get("/api/v1/cases", headers=admin.headers)
    assert titles(answer) == [c["title"] for c in reversed(four_cases)]
    assert answer.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "open"}, [GANJA, MARTUNI]),
        ({"status": ["referred", "under_review"]}, [BARDA, STEPANAKERT]),
        ({"q": "ganja"}, [GANJA]),
        ({"q": "CLUSTER"}, [BARDA, STEPANAKERT]),
        ({"q": "smerch"}, [BARDA]),
        ({"q": "azerbaijan"}, [BARDA, GANJA]),
        ({"q": "100%"}, []),
        ({"q": "_"}, []),
        ({"q": "   "}, [BARDA, GANJA, STEPANAKERT, MARTUNI]),
        ({"occurred_from": "2020-10-01T00:00:00Z"}, [BARDA, GANJA, STEPANAKERT]),
        ({"occurred_to": "2020-10-04T08:00:00Z"}, [STEPANAKERT, MARTUNI]),
        (
            {"occurred_from": "2020-10-05T00:00:00Z", "occurred_to": "2020-10-20T00:00:00+02:00"},
            [GANJA],
        ),
        ({"bbox": "46.5,39.5,47.5,40.0"}, [STEPANAKERT, MARTUNI]),
        ({"bbox": "46,40,48,41"}, [BARDA, GANJA]),
        ({"bbox": "170,-10,-170,10"}, []),
        ({"tag": "residential-area"}, [BARDA, GANJA, MARTUNI]),
        ({"tag": ["residential-area", "cluster-munitions"]}, [BARDA]),
        ({"tag": "Cluster-Munitions"}, [BARDA, STEPANAKERT]),
        ({"tag": "none-such"}, []),
        ({"status": "open", "q": "martuni", "tag": "missile"}, [MARTUNI]),
    ],
)
def test_filters(
    client: TestClient,
    admin: Actor,
    four_cases: list[dict[str, Any]],
    query: dict[str, Any],
    expected: list[dict[str, Any]],
) -> None:
    answer = client.get("/api/v1/cases", params=query, headers=admin.headers)
    assert titles(answer) == [c["title"] for c in expected]


def test_bbox_across_the_antimeridian(
    client: TestClient, admin: Actor, make_case: MakeCase
) -> None:
    make_case(admin, title="Fiji east", location={"lat": -17.0, "lon": 179.5})
    make_case(admin, title="Fiji west", location={"lat": -16.5, "lon": -179.8})
    make_case(admin, title="Elsewhere", location={"lat": -16.5, "lon": 100.0})
    answer = client.get("/api/v1/cases", params={"bbox": "179,-18,-179,-16"}, headers=admin.headers)
    assert titles(answer) == ["Fiji west", "Fiji east"]


def test_pagination_walks_every_case_once(
    client: TestClient, admin: Actor, make_case: MakeCase
) -> None:
    made = [make_case(admin, title=f"Strike {n:02d}")["id"] for n in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/cases", params=params, headers=admin.headers).json()
        seen += [case["id"] for case in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    assert pages == 3


def test_pagination_is_stable_while_cases_are_added(
    client: TestClient, admin: Actor, make_case: MakeCase
) -> None:
    older = [make_case(admin, title=f"Old {n}")["id"] for n in range(4)]
    first = client.get("/api/v1/cases", params={"limit": 2}, headers=admin.headers).json()
    make_case(admin, title="Newer than the cursor")
    second = client.get(
        "/api/v1/cases", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers
    ).json()
    assert [c["id"] for c in first["items"] + second["items"]] == list(reversed(older))


def _cursor(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "!!!",
        _cursor({"l": "users", "t": "2020-01-01T00:00:00+00:00", "i": "0" * 32}),
        _cursor({"l": "cases", "t": "yesterday", "i": "0" * 32}),
        _cursor({"l": "cases", "t": "2020-01-01T00:00:00", "i": "0" * 32}),
        _cursor({"l": "cases", "t": "2020-01-01T00:00:00+00:00", "i": "xyz"}),
        _cursor({"l": "cases"}),
        _cursor([1, 2, 3]),  # type: ignore[arg-type]
        "A" * 513,
    ],
    ids=[
        "garbage",
        "symbols",
        "other-listing",
        "bad-time",
        "naive-time",
        "bad-id",
        "partial",
        "array",
        "too-long",
    ],
)
def test_bad_cursor_is_a_4xx(client: TestClient, admin: Actor, cursor: str) -> None:
    answer = client.get("/api/v1/cases", params={"cursor": cursor}, headers=admin.headers)
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"status": "archived"},
        {"occurred_from": "2020-10-01"},
        {"occurred_from": "2020-10-05T00:00:00Z", "occurred_to": "2020-10-01T00:00:00Z"},
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "0,50,10,40"},
        {"bbox": "0,-91,10,40"},
        {"bbox": "-181,0,10,40"},
        {"bbox": "nan,0,10,40"},
        {"q": "x" * 201},
        {"tag": [f"t{n}" for n in range(11)]},
        {"tag": "x" * 10_000},  # a tag filter no tag could match, as long as a tag may be
        {"tag": "line\nbreak"},
    ],
)
def test_bad_filters_are_a_4xx(client: TestClient, admin: Actor, query: dict[str, Any]) -> None:
    answer = client.get("/api/v1/cases", params=query, headers=admin.headers)
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_members_see_only_their_cases(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: MakeCase,
    add_member: Callable[..., None],
) -> None:
    amira = make_user("investigator")
    lawyer = make_user("legal")
    outsider = make_user("viewer")
    martuni = make_case(amira, MARTUNI)
    make_case(admin, GANJA)
    add_member(martuni["id"], lawyer, "legal")
    assert titles(client.get("/api/v1/cases", headers=amira.headers)) == [MARTUNI["title"]]
    assert titles(client.get("/api/v1/cases", headers=lawyer.headers)) == [MARTUNI["title"]]
    assert titles(client.get("/api/v1/cases", headers=outsider.headers)) == []
    assert titles(client.get("/api/v1/cases", headers=admin.headers)) == [
        GANJA["title"],
        MARTUNI["title"],
    ]
    # A search cannot reveal a case the caller is not a member of.
    assert titles(client.get("/api/v1/cases", params={"q": "Ganja"}, headers=amira.headers)) == []


def test_listing_writes_nothing(
    client: TestClient, admin: Actor, four_cases: list[dict[str, Any]], db: DatabaseProbe
) -> None:
    before = db.snapshot()
    client.get("/api/v1/cases", params={"q": "x", "limit": 1}, headers=admin.headers)
    assert db.snapshot() == before
