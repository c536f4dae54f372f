"""Registering, linking, listing and changing witnesses; every invalid request refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import GANJA, MARTUNI, Actor, DatabaseProbe, MakeUser


@pytest.fixture
def case_id(client: TestClient, admin: Actor) -> str:
    case: str = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()["id"]
    return case


def register(client: TestClient, actor: Actor, case_id: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/witnesses", json=body, headers=actor.headers)


def test_register_a_witness(client: TestClient, admin: Actor, case_id: str) -> None:
    answer = register(
        client,
        admin,
        case_id,
        {
            "full_name": "Anahit Gevorgyan",
            "consent": {
                "named_publicly": True,
                "use_testimony_in_reports": True,
                "obtained_at": "2020-12-02T13:30:00+04:00",
                "method": "oral_recorded",
            },
            "risk_level": "high",
        },
    )
    assert answer.status_code == 201, answer.text
    witness = answer.json()
    assert answer.headers["location"] == f"/api/v1/witnesses/{witness['id']}"
    assert answer.headers["etag"] == '"1"'
    assert witness["pseudonym"] == "W-0001"
    assert witness["consent"] == {
        "named_publicly": True,
        "share_identity_with_courts": False,
        "use_testimony_in_reports": True,
        "obtained_at": "2020-12-02T09:30:00Z",
        "method": "oral_recorded",
    }
    assert witness["risk_level"] == "high"
    assert witness["case_ids"] == [case_id]
    assert witness["identity"] == {
        "full_name": "Anahit Gevorgyan",
        "other_spellings": [],
        "contact": None,
        "home_location": None,
        "identity_notes": None,
    }
    read = client.get(f"/api/v1/cases/{case_id}", headers=admin.headers).json()
    assert read["counts"]["witnesses"] == 1


def test_pseudonyms_are_sequential_across_cases_and_never_reused(
    client: TestClient, admin: Actor, case_id: str, db: DatabaseProbe
) -> None:
    other = client.post("/api/v1/cases", json=GANJA, headers=admin.headers).json()["id"]
    first = register(client, admin, case_id, {"full_name": "A"}).json()["pseudonym"]
    failed = register(client, admin, case_id, {"full_name": "B", "risk_level": "unknown"})
    assert failed.status_code == 422
    second = register(client, admin, other, {"full_name": "C"}).json()["pseudonym"]
    linked = register(
        client,
        admin,
        other,
        {"witness_id": register(client, admin, case_id, {"full_name": "D"}).json()["id"]},
    )
    assert (first, second, linked.json()["pseudonym"]) == ("W-0001", "W-0002", "W-0003")
    assert db.scalar("SELECT count(DISTINCT pseudonym) FROM witnesses") == 3


INVALID = {
    "empty": ({}, ""),
    "blank name": ({"full_name": "   "}, "full_name"),
    "name too long": ({"full_name": "x" * 201}, "full_name"),
    "control character": ({"full_name": "Anahit\u0000"}, "full_name"),
    "link with fields": (
        {"witness_id": "00000000-0000-4000-8000-000000000000", "full_name": "x"},
        "",
    ),
    "unknown risk": ({"full_name": "x", "risk_level": "extreme"}, "risk_level"),
    "unknown consent method": (
        {"full_name": "x", "consent": {"method": "telepathy"}},
        "consent.method",
    ),
    "consent in the future": (
        {"full_name": "x", "consent": {"obtained_at": "2999-01-01T00:00:00Z"}},
        "consent.obtained_at",
    ),
    "naive consent time": (
        {"full_name": "x", "consent": {"obtained_at": "2020-12-02T10:00:00"}},
        "consent.obtained_at",
    ),
    "latitude out of range": (
        {"full_name": "x", "home_location": {"lat": 91, "lon": 0}},
        "home_location.lat",
    ),
    "half a coordinate": ({"full_name": "x", "home_location": {"lat": 39.7}}, "home_location"),
    "contact too long": ({"full_name": "x", "contact": "x" * 1001}, "contact"),
    "unknown field": ({"full_name": "x", "nickname": "y"}, "nickname"),
    "consent flag not a bool": (
        {"full_name": "x", "consent": {"named_publicly": "maybe"}},
        "consent.named_publicly",
    ),
}


@pytest.mark.parametrize(("body", "field"), INVALID.values(), ids=INVALID.keys())
def test_invalid_registrations_are_refused_and_nothing_is_written(
    client: TestClient,
    admin: Actor,
    case_id: str,
    db: DatabaseProbe,
    body: dict[str, Any],
    field: str,
) -> None:
    before = db.snapshot()
    answer = register(client, admin, case_id, body)
    assert answer.status_code == 422, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert db.snapshot() == before


def test_linking_unknown_or_twice(
    client: TestClient, admin: Actor, case_id: str, db: DatabaseProbe
) -> None:
    witness = register(client, admin, case_id, {"full_name": "A"}).json()
    before = db.snapshot()
    unknown = register(
        client, admin, case_id, {"witness_id": "00000000-0000-4000-8000-000000000000"}
    )
    assert unknown.status_code == 404
    twice = register(client, admin, case_id, {"witness_id": witness["id"]})
    assert twice.status_code == 409
    assert twice.json()["type"] == "urn:casefile:problem:witness-already-linked"
    assert db.snapshot() == before


def test_list_witnesses_pages(client: TestClient, admin: Actor, case_id: str) -> None:
    made = [
        register(client, admin, case_id, {"full_name": f"W {n}"}).json()["id"] for n in range(3)
    ]
    first = client.get(
        f"/api/v1/cases/{case_id}/witnesses", params={"limit": 2}, headers=admin.headers
    ).json()
    rest = client.get(
        f"/api/v1/cases/{case_id}/witnesses",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=admin.headers,
    ).json()
    assert [w["id"] for w in first["items"] + rest["items"]] == list(reversed(made))
    assert rest["next_cursor"] is None


def patch(client: TestClient, actor: Actor, witness_id: str, body: Any, etag: str | None) -> Any:
    headers = dict(actor.headers)
    if etag:
        headers["If-Match"] = etag
    return client.patch(f"/api/v1/witnesses/{witness_id}", json=body, headers=headers)


def test_patch_consent_risk_and_identity(client: TestClient, admin: Actor, case_id: str) -> None:
    witness = register(
        client, admin, case_id, {"full_name": "Anahit", "consent": {"named_publicly": True}}
    ).json()
    answer = patch(
        client,
        admin,
        witness["id"],
        {"consent": {"method": "written"}, "risk_level": "critical", "contact": "+374 00"},
        '"1"',
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert answer.headers["etag"] == '"2"'
    assert body["consent"]["named_publicly"] is True  # merged, not replaced
    assert body["consent"]["method"] == "written"
    assert body["risk_level"] == "critical"
    assert body["identity"]["contact"] == "+374 00"
    assert body["identity"]["full_name"] == "Anahit"


@pytest.mark.parametrize(
    ("body", "etag", "status"),
    [
        ({"risk_level": "low"}, None, 428),
        ({"risk_level": "low"}, '"7"', 412),
        ({"full_name": None}, '"1"', 422),
        ({"risk_level": "none"}, '"1"', 422),
        ({"consent": {"obtained_at": "2999-01-01T00:00:00Z"}}, '"1"', 422),
        ({"pseudonym": "W-9999"}, '"1"', 422),
    ],
)
def test_invalid_patches_change_nothing(
    client: TestClient,
    admin: Actor,
    case_id: str,
    db: DatabaseProbe,
    body: dict[str, Any],
    etag: str | None,
    status: int,
) -> None:
    witness = register(client, admin, case_id, {"full_name": "A"}).json()
    before = db.snapshot()
    assert patch(client, admin, witness["id"], body, etag).status_code == status
    assert db.snapshot() == before


def test_an_editor_without_the_flag_may_change_risk_but_not_identity(
    client: TestClient,
    admin: Actor,
    case_id: str,
    make_user: MakeUser,
    add_member: Callable[..., None],
    db: DatabaseProbe,
) -> None:
    investigator = make_user("investigator")
    add_member(case_id, investigator, "investigator", can_identify_witnesses=False)
    witness = register(client, admin, case_id, {"full_name": "Anahit"}).json()
    before = db.snapshot()
    refused = patch(client, investigator, witness["id"], {"full_name": "Someone else"}, '"1"')
    assert refused.status_code == 403
    assert db.snapshot() == before
    allowed = patch(client, investigator, witness["id"], {"risk_level": "critical"}, '"1"')
    assert allowed.status_code == 200
    assert "identity" not in allowed.json()
    # Registering is allowed without the flag; the answer then withholds what was sent.
    registered = register(client, investigator, case_id, {"full_name": "Ramiz"})
    assert registered.status_code == 201
    assert "identity" not in registered.json()


def test_a_patch_that_changes_nothing_keeps_the_version(
    client: TestClient, admin: Actor, case_id: str
) -> None:
    witness = register(client, admin, case_id, {"full_name": "A", "risk_level": "low"}).json()
    same = patch(client, admin, witness["id"], {"risk_level": "low", "full_name": "A"}, '"1"')
    assert same.status_code == 200
    assert same.headers["etag"] == '"1"'
