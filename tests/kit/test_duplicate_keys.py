"""A JSON body that repeats a key is refused, naming the key, and changes nothing.

Python's parser keeps the last of two equal names, others keep the first: `{"role": "viewer",
"role": "lead"}` must not mean one thing to a reviewing proxy or log and another to Casefile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import Actor, DatabaseProbe, MakeUser

JSON = {"Content-Type": "application/json"}


def _assert_refused_naming(answer: Any, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == [field]
    assert field in problem["detail"]


def test_a_repeated_top_level_key_is_422_and_creates_nothing(
    client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    before = db.snapshot()
    answer = client.post(
        "/api/v1/cases",
        content=b'{"title": "Martuni", "occurred_at": "2020-09-27T06:00:00Z", "title": "Ganja"}',
        headers={**admin.headers, **JSON},
    )
    _assert_refused_naming(answer, "title")
    assert db.snapshot() == before


def test_a_repeated_nested_key_is_named_by_its_path(
    client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    before = db.snapshot()
    answer = client.post(
        "/api/v1/cases",
        content=b'{"title": "Martuni", "occurred_at": "2020-09-27T06:00:00Z",'
        b' "location": {"name": "Martuni", "lat": 39.79, "lon": 47.11, "lat": 40.68}}',
        headers={**admin.headers, **JSON},
    )
    _assert_refused_naming(answer, "location.lat")
    assert db.snapshot() == before


def test_a_repeated_key_inside_a_list_is_named_with_its_index(
    client: TestClient, admin: Actor
) -> None:
    answer = client.post(
        "/api/v1/cases",
        content=b'{"title": "Martuni", "occurred_at": "2020-09-27T06:00:00Z",'
        b' "tags": ["a"], "weapon": "x", "casualties": {"killed": 1}, "summary": "s",'
        b' "status": "open", "x": [{"k": 1}, {"k": 1, "k": 2}]}',
        headers={**admin.headers, **JSON},
    )
    _assert_refused_naming(answer, "x.1.k")


def test_a_membership_flag_given_twice_grants_nothing(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: Callable[..., dict[str, Any]],
    db: DatabaseProbe,
) -> None:
    lead = make_user("investigator")
    case_id = make_case(lead)["id"]
    viewer = make_user("viewer")
    before = db.snapshot()
    answer = client.put(
        f"/api/v1/cases/{case_id}/members/{viewer.id}",
        content=b'{"role": "viewer", "can_identify_witnesses": false,'
        b' "can_identify_witnesses": true}',
        headers={**lead.headers, **JSON},
    )
    _assert_refused_naming(answer, "can_identify_witnesses")
    assert db.snapshot() == before


@pytest.mark.parametrize(
    "content_type", [None, "application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_every_json_content_type_is_checked(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: Callable[..., dict[str, Any]],
    content_type: str | None,
) -> None:
    lead = make_user("investigator")
    case = make_case(lead)
    headers = {**lead.headers, "If-Match": '"1"'}
    if content_type:
        headers["Content-Type"] = content_type
    answer = client.patch(
        f"/api/v1/cases/{case['id']}",
        content=b'{"status": "closed", "status": "open"}',
        headers=headers,
    )
    _assert_refused_naming(answer, "status")


def test_equal_values_under_different_keys_and_malformed_json_are_as_before(
    client: TestClient, admin: Actor
) -> None:
    fine = client.post(
        "/api/v1/cases",
        content=b'{"title": "Martuni", "occurred_at": "2020-09-27T06:00:00Z",'
        b' "summary": "Martuni"}',
        headers={**admin.headers, **JSON},
    )
    assert fine.status_code == 201, fine.text
    broken = client.post(
        "/api/v1/cases", content=b'{"title": "Martuni",', headers={**admin.headers, **JSON}
    )
    assert broken.status_code == 400, broken.text
    assert broken.json()["type"] == "urn:casefile:problem:malformed-json"
