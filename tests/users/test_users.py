"""Users: created and changed by admins only, unique by name, never without an admin."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import Actor, DatabaseProbe, MakeUser, etag_version


def test_create_list_and_read_users(client: TestClient, admin: Actor) -> None:
    created = client.post(
        "/api/v1/users", json={"name": "Amira", "role": "investigator"}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["name"] == "amira"  # names are case-insensitive, stored lower-cased
    assert user["role"] == "investigator"
    assert user["active"] is True
    assert created.headers["location"] == f"/api/v1/users/{user['id']}"

    listed = client.get("/api/v1/users", headers=admin.headers).json()
    assert [u["name"] for u in listed["items"]] == ["amira", "admin"]
    read = client.get(f"/api/v1/users/{user['id']}", headers=admin.headers)
    assert read.json() == user
    assert etag_version(read.headers["etag"]) == '"1"'


def test_user_list_filters_and_pages(client: TestClient, admin: Actor, make_user: MakeUser) -> None:
    for role in ("investigator", "legal", "viewer", "legal"):
        make_user(role)
    legal = client.get("/api/v1/users", params={"role": "legal"}, headers=admin.headers).json()
    assert [u["role"] for u in legal["items"]] == ["legal", "legal"]
    first = client.get("/api/v1/users", params={"limit": 3}, headers=admin.headers).json()
    rest = client.get(
        "/api/v1/users", params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin.headers
    ).json()
    assert len(first["items"]) == 3
    assert len(rest["items"]) == 2
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("name", ["AMIRA", "amira", " amira "])
def test_names_are_unique_regardless_of_case(
    client: TestClient, admin: Actor, db: DatabaseProbe, name: str
) -> None:
    client.post("/api/v1/users", json={"name": "amira", "role": "viewer"}, headers=admin.headers)
    before = db.snapshot()
    answer = client.post(
        "/api/v1/users", json={"name": name, "role": "legal"}, headers=admin.headers
    )
    assert answer.status_code == 409
    assert answer.json()["type"] == "urn:casefile:problem:user-name-taken"
    assert db.snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"name": "amira"},
        {"name": "amira", "role": "superuser"},
        {"name": "", "role": "viewer"},
        {"name": "a" * 65, "role": "viewer"},
        {"name": "../admin", "role": "viewer"},
        {"name": "amira smith", "role": "viewer"},
        {"name": "amira\u0000", "role": "viewer"},
        {"name": "_amira", "role": "viewer"},
        {"name": "amira", "role": "viewer", "is_admin": True},
    ],
)
def test_invalid_users_are_refused(
    client: TestClient, admin: Actor, db: DatabaseProbe, body: dict[str, object]
) -> None:
    before = db.snapshot()
    answer = client.post("/api/v1/users", json=body, headers=admin.headers)
    assert answer.status_code == 422, answer.text
    assert db.snapshot() == before


def test_names_in_other_scripts_are_welcome(client: TestClient, admin: Actor) -> None:
    for name in ("անահիտ", "rəmiz", "сергей.б"):
        answer = client.post(
            "/api/v1/users", json={"name": name, "role": "viewer"}, headers=admin.headers
        )
        assert answer.status_code == 201, (name, answer.text)


def test_change_role_and_deactivate(client: TestClient, admin: Actor, make_user: MakeUser) -> None:
    amira = make_user("viewer")
    url = f"/api/v1/users/{amira.id}"
    promoted = client.patch(
        url, json={"role": "legal"}, headers={**admin.headers, "If-Match": '"1"'}
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "legal"
    assert promoted.headers["etag"] == '"2"'
    stale = client.patch(url, json={"active": False}, headers={**admin.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    unconditional = client.patch(url, json={"active": False}, headers=admin.headers)
    assert unconditional.status_code == 428
    off = client.patch(url, json={"active": False}, headers={**admin.headers, "If-Match": '"2"'})
    assert off.json()["active"] is False
    assert client.get("/api/v1/cases", headers=amira.headers).status_code == 401


def test_the_last_admin_cannot_be_demoted_or_deactivated(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    url = f"/api/v1/users/{admin.id}"
    headers = {**admin.headers, "If-Match": '"1"'}
    before = db.snapshot()
    for change in ({"role": "viewer"}, {"active": False}):
        answer = client.patch(url, json=change, headers=headers)
        assert answer.status_code == 409, answer.text
        assert answer.json()["type"] == "urn:casefile:problem:last-admin"
    assert db.snapshot() == before
    make_user("admin")
    assert client.patch(url, json={"role": "viewer"}, headers=headers).status_code == 200


def test_unknown_user_is_404(client: TestClient, admin: Actor) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/api/v1/users/{missing}", headers=admin.headers).status_code == 404
    answer = client.post(f"/api/v1/users/{missing}/tokens", json={}, headers=admin.headers)
    assert answer.status_code == 404
    assert client.delete(f"/api/v1/tokens/{missing}", headers=admin.headers).status_code == 404


def test_tokens_carry_labels_and_expiry(
    client: TestClient, admin: Actor, make_user: MakeUser
) -> None:
    amira = make_user("investigator")
    answer = client.post(
        f"/api/v1/users/{amira.id}/tokens",
        json={"label": "field laptop", "expires_at": "2099-01-01T00:00:00Z"},
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text
    token = answer.json()
    assert token["token"].startswith("cf_")
    assert token["label"] == "field laptop"
    assert token["expires_at"] == "2099-01-01T00:00:00Z"
    assert token["state"] == "active"
    assert answer.headers["location"] == f"/api/v1/tokens/{token['id']}"
    assert (
        client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token['token']}"}
        ).json()["id"]
        == amira.id
    )


def test_token_body_is_optional(client: TestClient, admin: Actor, make_user: MakeUser) -> None:
    amira = make_user("viewer")
    answer = client.post(f"/api/v1/users/{amira.id}/tokens", headers=admin.headers)
    assert answer.status_code == 201, answer.text
