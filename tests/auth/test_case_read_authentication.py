"""A safe-method read of a case looks up the token and the path's case in one statement
(app.auth.dependencies.authenticate): the case side of that row must count for nothing unless
the token side passed every check. So: a bad token gets its 401, and an over-limit address
its 429 for an unknown token, even when the case exists; a member's valid token from that
address still reads the case (only unknown tokens are throttled); a non-member gets the
very 404 of a case that does not exist, and every change (revocation, deactivation, leaving
the case) takes effect on the next request. Each answer is checked not to hold the case's data.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.auth.dependencies import CurrentPrincipal, public
from app.auth.throttle import MAX_FAILURES
from app.models import ApiToken
from tests.fixtures.api import Actor, DatabaseProbe, MakeUser

MakeCase = Callable[..., dict[str, Any]]
SECRET_TITLE = "Strike on the ward of Qarabagh hospital"


def _read(client: TestClient, case_id: str, headers: dict[str, str]) -> Response:
    return client.get(f"/api/v1/cases/{case_id}", headers=headers)


def _refused(answer: Response, status: int, problem: str, case: dict[str, Any]) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == f"urn:casefile:problem:{problem}"
    assert "etag" not in answer.headers
    assert case["id"] not in answer.text
    assert case["title"] not in answer.text


@pytest.fixture
def member_and_case(make_user: MakeUser, make_case: MakeCase) -> tuple[Actor, dict[str, Any]]:
    lead = make_user("investigator")
    return lead, make_case(lead, title=SECRET_TITLE)


def test_an_unknown_token_gets_401_for_an_existing_case(
    client: TestClient, member_and_case: tuple[Actor, dict[str, Any]], db: DatabaseProbe
) -> None:
    _, case = member_and_case
    forged = {"Authorization": "Bearer cf_" + "A" * 43}
    _refused(_read(client, case["id"], forged), 401, "not-authenticated", case)
    assert db.scalar("SELECT failures FROM auth_failures") == 1  # counted like any guess


def test_a_revoked_token_of_a_member_gets_401(
    client: TestClient, admin: Actor, member_and_case: tuple[Actor, dict[str, Any]]
) -> None:
    lead, case = member_and_case
    assert _read(client, case["id"], lead.headers).status_code == 200
    tokens = client.get(f"/api/v1/users/{lead.id}/tokens", headers=admin.headers).json()["items"]
    revoked = client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=admin.headers)
    assert revoked.status_code == 204
    answer = _read(client, case["id"], lead.headers)
    _refused(answer, 401, "not-authenticated", case)
    assert "revoked" in answer.json()["detail"]


def test_an_expired_token_of_a_member_gets_401(
    client: TestClient, member_and_case: tuple[Actor, dict[str, Any]], db: DatabaseProbe
) -> None:
    lead, case = member_and_case
    with Session(db.engine) as session, session.begin():
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == uuid.UUID(lead.id))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    answer = _read(client, case["id"], lead.headers)
    _refused(answer, 401, "not-authenticated", case)
    assert "expired" in answer.json()["detail"]


def test_a_deactivated_member_gets_401(
    client: TestClient, admin: Actor, member_and_case: tuple[Actor, dict[str, Any]]
) -> None:
    lead, case = member_and_case
    etag = client.get(f"/api/v1/users/{lead.id}", headers=admin.headers).headers["etag"]
    changed = client.patch(
        f"/api/v1/users/{lead.id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    answer = _read(client, case["id"], lead.headers)
    _refused(answer, 401, "not-authenticated", case)
    assert "deactivated" in answer.json()["detail"]


@pytest.mark.parametrize("token", ["member", "unknown"])
def test_a_throttled_address_gets_429_for_an_existing_case_unless_its_token_is_good(
    client: TestClient,
    member_and_case: tuple[Actor, dict[str, Any]],
    db: DatabaseProbe,
    token: str,
) -> None:
    lead, case = member_and_case
    for _ in range(MAX_FAILURES):
        guess = {"Authorization": "Bearer cf_" + secrets.token_urlsafe(32)[:43]}
        assert _read(client, case["id"], guess).status_code == 401
    counted = db.scalar("SELECT failures FROM auth_failures")
    if token == "member":
        answer = _read(client, case["id"], lead.headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["title"] == SECRET_TITLE
    else:
        unknown = {"Authorization": "Bearer cf_" + "B" * 43}
        _refused(_read(client, case["id"], unknown), 429, "too-many-failed-authentications", case)
    assert db.scalar("SELECT failures FROM auth_failures") == counted


def _without_request_id(answer: Response) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    body.pop("request_id", None)
    return body


def test_a_non_member_gets_the_404_of_a_case_that_does_not_exist(
    client: TestClient, make_user: MakeUser, member_and_case: tuple[Actor, dict[str, Any]]
) -> None:
    _, case = member_and_case
    outsider = make_user("investigator")
    hidden = _read(client, case["id"], outsider.headers)
    missing = _read(client, str(uuid.uuid4()), outsider.headers)
    _refused(hidden, 404, "case-not-found", case)
    assert _without_request_id(hidden) == _without_request_id(missing)
    assert hidden.headers.keys() - {"x-request-id"} == missing.headers.keys() - {"x-request-id"}


def test_leaving_a_case_hides_it_on_the_next_read(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    add_member: Callable[..., None],
    member_and_case: tuple[Actor, dict[str, Any]],
) -> None:
    _, case = member_and_case
    viewer = make_user("viewer")
    add_member(case["id"], viewer, "viewer")
    assert _read(client, case["id"], viewer.headers).status_code == 200
    removed = client.delete(
        f"/api/v1/cases/{case['id']}/members/{viewer.id}", headers=admin.headers
    )
    assert removed.status_code == 204, removed.text
    _refused(_read(client, case["id"], viewer.headers), 404, "case-not-found", case)


def test_an_admin_who_is_not_a_member_reads_the_case(
    client: TestClient, admin: Actor, member_and_case: tuple[Actor, dict[str, Any]]
) -> None:
    _, case = member_and_case
    answer = _read(client, case["id"], admin.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["title"] == SECRET_TITLE


def test_a_public_endpoint_asking_for_the_principal_fails_loudly(app: FastAPI) -> None:
    """The principal is read from what authentication left on the request: where it left
    nothing, the request fails (500), it never passes unauthenticated."""

    @public
    def who(principal: CurrentPrincipal) -> dict[str, str]:
        return {"name": principal.name}

    app.add_api_route("/probe/public-who", who, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/probe/public-who").status_code == 500


def test_an_app_without_authentication_cannot_have_a_principal() -> None:
    """Without the app-wide `authenticate`, nothing sets the principal: a route asking for
    it fails rather than serve anyone."""
    bare = FastAPI()

    @bare.get("/who")
    def who(principal: CurrentPrincipal) -> dict[str, str]:
        return {"name": principal.name}

    with TestClient(bare, raise_server_exceptions=False) as client:
        assert (
            client.get("/who", headers={"Authorization": "Bearer cf_" + "A" * 43}).status_code
            == 500
        )
