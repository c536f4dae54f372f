"""Case membership: roles and the witness-identity flag, managed by leads and admins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.api import Actor, DatabaseProbe, MakeUser

MakeCase = Callable[..., dict[str, Any]]


def members_of(client: TestClient, actor: Actor, case_id: str) -> dict[str, tuple[str, bool]]:
    answer = client.get(f"/api/v1/cases/{case_id}/members", headers=actor.headers)
    assert answer.status_code == 200, answer.text
    return {
        m["user_name"]: (m["role"], m["can_identify_witnesses"]) for m in answer.json()["items"]
    }


def test_lead_adds_changes_and_removes_members(
    client: TestClient, make_user: MakeUser, make_case: MakeCase
) -> None:
    lead = make_user("investigator", name="lead")
    lawyer = make_user("legal", name="lawyer")
    case = make_case(lead)
    url = f"/api/v1/cases/{case['id']}/members/{lawyer.id}"

    added = client.put(url, json={"role": "legal"}, headers=lead.headers)
    assert added.status_code == 200, added.text
    assert added.json()["role"] == "legal"
    assert added.json()["can_identify_witnesses"] is False
    assert added.json()["added_by"] == lead.id
    assert members_of(client, lawyer, case["id"]) == {
        "lead": ("lead", True),
        "lawyer": ("legal", False),
    }

    flagged = client.put(
        url, json={"role": "legal", "can_identify_witnesses": True}, headers=lead.headers
    )
    assert flagged.json()["can_identify_witnesses"] is True
    assert flagged.json()["created_at"] == added.json()["created_at"]

    same_again = client.put(
        url, json={"role": "legal", "can_identify_witnesses": True}, headers=lead.headers
    )
    assert same_again.json() == flagged.json()  # PUT is idempotent

    removed = client.delete(url, headers=lead.headers)
    assert removed.status_code == 204
    assert client.get(f"/api/v1/cases/{case['id']}", headers=lawyer.headers).status_code == 404
    assert client.delete(url, headers=lead.headers).status_code == 404


def test_case_needs_a_lead(
    client: TestClient, admin: Actor, make_user: MakeUser, make_case: MakeCase, db: DatabaseProbe
) -> None:
    lead = make_user("investigator")
    case = make_case(lead)
    url = f"/api/v1/cases/{case['id']}/members/{lead.id}"
    before = db.snapshot()
    demote = client.put(url, json={"role": "investigator"}, headers=lead.headers)
    assert demote.status_code == 409
    assert demote.json()["type"] == "urn:casefile:problem:last-lead"
    assert client.delete(url, headers=admin.headers).status_code == 409
    assert db.snapshot() == before

    second = make_user("investigator")
    client.put(
        f"/api/v1/cases/{case['id']}/members/{second.id}",
        json={"role": "lead"},
        headers=lead.headers,
    )
    assert client.put(url, json={"role": "viewer"}, headers=lead.headers).status_code == 200
    # The demoted former lead can no longer manage members.
    third = make_user("viewer")
    refused = client.put(
        f"/api/v1/cases/{case['id']}/members/{third.id}",
        json={"role": "viewer"},
        headers=lead.headers,
    )
    assert refused.status_code == 403


def test_unknown_or_inactive_users_cannot_be_added(
    client: TestClient, admin: Actor, make_user: MakeUser, make_case: MakeCase, db: DatabaseProbe
) -> None:
    case = make_case(admin)
    gone = make_user("viewer")
    client.patch(
        f"/api/v1/users/{gone.id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": '"1"'},
    )
    before = db.snapshot()
    for user_id in ("00000000-0000-4000-8000-000000000000", gone.id):
        answer = client.put(
            f"/api/v1/cases/{case['id']}/members/{user_id}",
            json={"role": "viewer"},
            headers=admin.headers,
        )
        assert answer.status_code == 404
        assert answer.json()["type"] == "urn:casefile:problem:user-not-found"
    assert db.snapshot() == before


def test_invalid_membership_bodies(
    client: TestClient, admin: Actor, make_user: MakeUser, make_case: MakeCase, db: DatabaseProbe
) -> None:
    case = make_case(admin)
    viewer = make_user("viewer")
    url = f"/api/v1/cases/{case['id']}/members/{viewer.id}"
    before = db.snapshot()
    for body in (
        {},
        {"role": "owner"},
        {"role": "viewer", "can_identify_witnesses": "maybe"},
        {"role": "viewer", "extra": 1},
    ):
        assert client.put(url, json=body, headers=admin.headers).status_code == 422, body
    assert db.snapshot() == before


def test_members_list_pages(
    client: TestClient, admin: Actor, make_user: MakeUser, make_case: MakeCase
) -> None:
    case = make_case(admin)
    for _ in range(4):
        viewer = make_user("viewer")
        client.put(
            f"/api/v1/cases/{case['id']}/members/{viewer.id}",
            json={"role": "viewer"},
            headers=admin.headers,
        )
    url = f"/api/v1/cases/{case['id']}/members"
    first = client.get(url, params={"limit": 3}, headers=admin.headers).json()
    rest = client.get(
        url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin.headers
    ).json()
    names = [m["user_name"] for m in first["items"] + rest["items"]]
    assert len(names) == len(set(names)) == 5  # the admin (creator, lead) and four viewers
    assert rest["next_cursor"] is None
