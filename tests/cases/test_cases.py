"""Opening, reading and changing cases; every invalid request refused and without effect."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import GANJA, MARTUNI, Actor, DatabaseProbe, MakeUser, etag_version


def test_open_a_case_and_read_it_back(client: TestClient, make_user: MakeUser) -> None:
    amira = make_user("investigator")
    created = client.post("/api/v1/cases", json=MARTUNI, headers=amira.headers)
    assert created.status_code == 201, created.text
    case = created.json()
    assert created.headers["location"] == f"/api/v1/cases/{case['id']}"
    assert created.headers["etag"] == '"1"'
    assert case["title"] == MARTUNI["title"]
    assert case["occurred_at"] == "2020-09-27T06:00:00Z"
    assert case["status"] == "open"
    assert case["location"] == {**MARTUNI["location"], "country": None}
    assert case["casualties"] == MARTUNI["casualties"]
    assert case["tags"] == ["missile", "residential-area"]
    assert case["created_by"] == amira.id
    assert case["version"] == 1

    read = client.get(f"/api/v1/cases/{case['id']}", headers=amira.headers)
    assert read.status_code == 200
    assert read.json() == case
    assert etag_version(read.headers["etag"]) == created.headers["etag"]


def test_creator_becomes_lead_who_may_identify_witnesses(
    client: TestClient, make_user: MakeUser
) -> None:
    amira = make_user("investigator")
    case = client.post("/api/v1/cases", json=MARTUNI, headers=amira.headers).json()
    members = client.get(f"/api/v1/cases/{case['id']}/members", headers=amira.headers).json()
    assert [(m["user_id"], m["role"], m["can_identify_witnesses"]) for m in members["items"]] == [
        (amira.id, "lead", True)
    ]


def test_smallest_valid_body(client: TestClient, admin: Actor) -> None:
    answer = client.post(
        "/api/v1/cases",
        json={"title": "Strike on Stepanakert", "occurred_at": "2020-10-04T08:00:00+04:00"},
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text
    case = answer.json()
    assert case["occurred_at"] == "2020-10-04T04:00:00Z"  # stored and shown in UTC
    assert case["location"] is None
    assert case["casualties"] == {
        "killed": None,
        "injured": None,
        "children_killed": None,
        "children_injured": None,
    }
    assert case["tags"] == []


def test_text_is_kept_exactly_in_any_script(client: TestClient, admin: Actor) -> None:
    title = "Հրթիռային հարված Մարտունիին — Gəncəyə raket zərbəsi — Удар по Гяндже"
    summary = "Line one.\nLine two,\ttabbed."
    answer = client.post(
        "/api/v1/cases",
        json={"title": title, "summary": summary, "occurred_at": "2020-09-27T06:00:00Z"},
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["title"] == title
    assert answer.json()["summary"] == summary


def _with(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(MARTUNI)
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target.setdefault(parent, {})
        if value is _DROP:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return body


_DROP = object()

INVALID_CASES = {
    "missing title": (_with(title=_DROP), "title"),
    "blank title": (_with(title="   "), "title"),
    "title too long": (_with(title="x" * 301), "title"),
    "NUL in title": (_with(title="Martuni\x00"), "title"),
    "control char in title": (_with(title="Mar\x1btuni"), "title"),
    "missing occurred_at": (_with(occurred_at=_DROP), "occurred_at"),
    "naive occurred_at": (_with(occurred_at="2020-09-27T06:00:00"), "occurred_at"),
    "occurred_at in the future": (_with(occurred_at="2999-01-01T00:00:00Z"), "occurred_at"),
    "occurred_at not a date": (_with(occurred_at="yesterday"), "occurred_at"),
    "unknown status": (_with(status="archived"), "status"),
    "latitude above 90": (_with(location__lat=90.5), "location.lat"),
    "latitude below -90": (_with(location__lat=-91), "location.lat"),
    "longitude above 180": (_with(location__lon=180.01), "location.lon"),
    "longitude not a number": (_with(location__lon="east"), "location.lon"),
    "latitude without longitude": (_with(location__lon=_DROP), "location"),
    "negative killed": (_with(casualties__killed=-1), "casualties.killed"),
    "killed not an integer": (_with(casualties__killed=1.5), "casualties.killed"),
    "killed as text": (_with(casualties__killed="many"), "casualties.killed"),
    "children killed exceed killed": (
        _with(casualties__killed=1, casualties__children_killed=2),
        "casualties",
    ),
    "children injured without injured": (
        _with(casualties__injured=_DROP, casualties__children_injured=1),
        "casualties",
    ),
    "unknown field": (_with(severity="high"), "severity"),
    "unknown nested field": (_with(location__altitude=300), "location.altitude"),
    "tags not a list": (_with(tags="missile"), "tags"),
    "too many tags": (_with(tags=[f"t{i}" for i in range(33)]), "tags"),
    "empty tag": (_with(tags=[""]), "tags.0"),
    "tag too long": (_with(tags=["x" * 65]), "tags.0"),
    "title wrong type": (_with(title=42), "title"),
}


@pytest.mark.parametrize(("body", "field"), INVALID_CASES.values(), ids=INVALID_CASES.keys())
def test_invalid_case_is_refused_and_nothing_is_written(
    client: TestClient, admin: Actor, db: DatabaseProbe, body: dict[str, Any], field: str
) -> None:
    before = db.snapshot()
    answer = client.post("/api/v1/cases", json=body, headers=admin.headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]], problem["errors"]
    assert db.snapshot() == before


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b'{"title": "Martuni", ', "application/json", 400),
        (b"not json at all", "application/json", 400),
        (b"", "application/json", 422),
        (b"[]", "application/json", 422),
        (b'"a string"', "application/json", 422),
        (b"title=Martuni", "application/x-www-form-urlencoded", 422),
        # A surrogate encoded as bytes is not UTF-8 (RFC 3629): malformed, before any field.
        ('{"title": "Martuni\udcff"}'.encode("utf-8", "surrogatepass"), "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
    ],
    ids=["truncated", "not-json", "empty", "array", "string", "form", "lone-surrogate", "binary"],
)
def test_malformed_bodies_are_refused(
    client: TestClient,
    admin: Actor,
    db: DatabaseProbe,
    raw: bytes,
    content_type: str,
    status: int,
) -> None:
    before = db.snapshot()
    answer = client.post(
        "/api/v1/cases", content=raw, headers={**admin.headers, "Content-Type": content_type}
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert db.snapshot() == before


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_coordinates_are_refused(
    client: TestClient, admin: Actor, db: DatabaseProbe, number: bytes
) -> None:
    before = db.snapshot()
    raw = (
        b'{"title": "Martuni", "occurred_at": "2020-09-27T06:00:00Z", '
        b'"location": {"lat": ' + number + b', "lon": 47.1}}'
    )
    answer = client.post(
        "/api/v1/cases", content=raw, headers={**admin.headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "location.lat"
    assert db.snapshot() == before


def test_oversized_body_is_refused_with_413(
    client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    before = db.snapshot()
    huge = {**MARTUNI, "summary": "x" * (2 * 1024 * 1024)}
    answer = client.post("/api/v1/cases", json=huge, headers=admin.headers)
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert db.snapshot() == before


def test_deeply_nested_json_is_refused(client: TestClient, admin: Actor, db: DatabaseProbe) -> None:
    before = db.snapshot()
    nested = b'{"title": "x", "occurred_at": "2020-09-27T06:00:00Z", "summary": ' + b"[" * 100_000
    nested += b"]" * 100_000 + b"}"
    answer = client.post(
        "/api/v1/cases",
        content=nested,
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert db.snapshot() == before


def test_error_messages_do_not_echo_submitted_values(client: TestClient, admin: Actor) -> None:
    secret = "Anahit Gevorgyan lives at 12 Tigran Mets Street"
    for body in (
        _with(title=secret + "\x00"),
        _with(status=secret),
        _with(casualties__killed=secret),
        _with(location__name=secret * 10),
    ):
        answer = client.post("/api/v1/cases", json=body, headers=admin.headers)
        assert answer.status_code == 422
        assert "Anahit" not in answer.text, answer.text


def test_unknown_field_is_named_so_typos_are_found(client: TestClient, admin: Actor) -> None:
    answer = client.post("/api/v1/cases", json=_with(titel="Martuni"), headers=admin.headers)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["titel"]


def test_unknown_case_is_404(client: TestClient, admin: Actor) -> None:
    answer = client.get("/api/v1/cases/00000000-0000-4000-8000-000000000000", headers=admin.headers)
    assert answer.status_code == 404
    assert answer.json()["type"] == "urn:casefile:problem:case-not-found"


def test_malformed_case_id_is_a_4xx(client: TestClient, admin: Actor) -> None:
    for bad in ("not-a-uuid", "..%2F..%2Fetc", "1' OR '1'='1"):
        answer = client.get(f"/api/v1/cases/{bad}", headers=admin.headers)
        assert 400 <= answer.status_code < 500
        assert answer.headers["content-type"] == "application/problem+json"


def test_two_cases_are_independent(client: TestClient, admin: Actor) -> None:
    martuni = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()
    ganja = client.post("/api/v1/cases", json=GANJA, headers=admin.headers).json()
    assert martuni["id"] != ganja["id"]
    assert (
        client.get(f"/api/v1/cases/{ganja['id']}", headers=admin.headers).json()["casualties"][
            "killed"
        ]
        == 21
    )
