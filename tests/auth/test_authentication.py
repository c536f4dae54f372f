"""Bearer tokens: who gets in, who does not, and that no secret is ever stored in clear."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models import ApiToken
from tests.fixtures.api import Actor, DatabaseProbe, MakeUser

PROTECTED = "/api/v1/cases"


def assert_unauthorized(response: object, detail_fragment: str) -> None:
    assert response.status_code == 401, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.headers["www-authenticate"].startswith("Bearer")  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["type"] == "urn:casefile:problem:not-authenticated"
    assert detail_fragment in body["detail"]


def test_missing_token_is_refused(client: TestClient) -> None:
    assert_unauthorized(client.get(PROTECTED), "Send an API token")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token cf_" + "a" * 43,
        "Bearer cf_short",
        "Bearer " + "x" * 5000,
        "Bearer cf_" + "a" * 42 + "!",
    ],
    ids=["empty", "blank", "basic", "wrong-scheme", "short", "huge", "bad-char"],
)
def test_malformed_authorization_is_refused(client: TestClient, header: str) -> None:
    assert_unauthorized(client.get(PROTECTED, headers={"Authorization": header}), "")


def test_well_formed_but_unknown_token_is_refused(client: TestClient, admin: Actor) -> None:
    forged = "cf_" + "A" * 43
    assert_unauthorized(
        client.get(PROTECTED, headers={"Authorization": f"Bearer {forged}"}), "not valid"
    )


def test_scheme_is_case_insensitive(client: TestClient, admin: Actor) -> None:
    answer = client.get(PROTECTED, headers={"Authorization": f"bearer {admin.token}"})
    assert answer.status_code == 200


def test_revoked_token_is_refused_at_once(
    client: TestClient, admin: Actor, make_user: MakeUser
) -> None:
    amira = make_user("investigator", name="amira")
    assert client.get(PROTECTED, headers=amira.headers).status_code == 200
    tokens = client.get(f"/api/v1/users/{amira.id}/tokens", headers=admin.headers).json()["items"]
    assert len(tokens) == 1
    revoked = client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=admin.headers)
    assert revoked.status_code == 204
    assert_unauthorized(client.get(PROTECTED, headers=amira.headers), "revoked")
    # Revoking again changes nothing and is not an error.
    assert (
        client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=admin.headers).status_code == 204
    )
    listed = client.get(f"/api/v1/users/{amira.id}/tokens", headers=admin.headers).json()["items"]
    assert listed[0]["state"] == "revoked"


def test_other_tokens_of_the_user_keep_working(
    client: TestClient, admin: Actor, make_user: MakeUser
) -> None:
    amira = make_user("investigator")
    second = client.post(f"/api/v1/users/{amira.id}/tokens", json={}, headers=admin.headers)
    second_headers = {"Authorization": f"Bearer {second.json()['token']}"}
    client.delete(f"/api/v1/tokens/{second.json()['id']}", headers=admin.headers)
    assert client.get(PROTECTED, headers=second_headers).status_code == 401
    assert client.get(PROTECTED, headers=amira.headers).status_code == 200


def test_expired_token_is_refused(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    amira = make_user("investigator")
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    issued = client.post(
        f"/api/v1/users/{amira.id}/tokens", json={"expires_at": soon}, headers=admin.headers
    )
    assert issued.status_code == 201, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert client.get(PROTECTED, headers=headers).status_code == 200
    # Expiry is judged by the server clock; move the stored expiry into the past.
    with Session(db.engine) as session, session.begin():
        changed = session.execute(
            update(ApiToken)
            .where(ApiToken.id == uuid.UUID(issued.json()["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert changed.rowcount == 1  # type: ignore[attr-defined]
    assert_unauthorized(client.get(PROTECTED, headers=headers), "expired")


def test_token_expiry_must_be_in_the_future(
    client: TestClient, admin: Actor, make_user: MakeUser
) -> None:
    amira = make_user("investigator")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    answer = client.post(
        f"/api/v1/users/{amira.id}/tokens", json={"expires_at": past}, headers=admin.headers
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "expires_at"


def test_deactivated_user_is_locked_out(
    client: TestClient, admin: Actor, make_user: MakeUser
) -> None:
    amira = make_user("investigator")
    etag = client.get(f"/api/v1/users/{amira.id}", headers=admin.headers).headers["etag"]
    answer = client.patch(
        f"/api/v1/users/{amira.id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": etag},
    )
    assert answer.status_code == 200, answer.text
    assert_unauthorized(client.get(PROTECTED, headers=amira.headers), "deactivated")


def test_token_secret_is_never_stored_in_clear(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    amira = make_user("investigator")
    stored = db.all_text()
    for secret in (admin.token, amira.token):
        assert secret not in stored
        assert secret[3:] not in stored  # not even without its prefix
        assert hashlib.sha256(secret.encode()).hexdigest() in stored


def test_token_secret_is_shown_once(client: TestClient, admin: Actor, make_user: MakeUser) -> None:
    amira = make_user("investigator")
    listed = client.get(f"/api/v1/users/{amira.id}/tokens", headers=admin.headers)
    assert amira.token not in listed.text
    assert all("token" not in item for item in listed.json()["items"])
    me = client.get("/api/v1/users/me", headers=amira.headers)
    assert me.status_code == 200
    assert amira.token not in me.text
    assert me.json()["name"] == amira.name
