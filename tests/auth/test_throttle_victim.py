"""The throttle cannot lock out a victim: whoever fails from an address (a neighbour behind the
same NAT or proxy, an attacker spoofing it), a valid token from that address authenticates,
for reads, case reads and writes alike, and does not count. Only unknown tokens are throttled.
"""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient

from app.auth.throttle import MAX_FAILURES
from tests.fixtures.api import MARTUNI, Actor, DatabaseProbe, MakeUser

CASES = "/api/v1/cases"


def _guess() -> dict[str, str]:
    return {"Authorization": "Bearer cf_" + secrets.token_urlsafe(32)[:43]}


def _exhaust(client: TestClient) -> None:
    for attempt in range(MAX_FAILURES + 3):
        answer = client.get(CASES, headers=_guess())
        assert answer.status_code == (401 if attempt < MAX_FAILURES else 429), attempt


def test_a_valid_token_works_from_a_throttled_address(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    lead = make_user("investigator")
    _exhaust(client)
    counted = db.scalar("SELECT failures FROM auth_failures")
    created = client.post(CASES, json=MARTUNI, headers=lead.headers)
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    assert client.get(f"{CASES}/{case_id}", headers=lead.headers).status_code == 200
    assert client.get(CASES, headers=admin.headers).status_code == 200
    assert db.scalar("SELECT failures FROM auth_failures") == counted  # nothing counted
    assert client.get(CASES, headers=_guess()).status_code == 429  # guesses still refused


def test_a_known_but_unusable_token_is_401_not_counted_nor_throttled(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    """A revoked token was issued: not a guess. Its 401 says why, even past the limit."""
    gone = make_user("viewer")
    tokens = client.get(f"/api/v1/users/{gone.id}/tokens", headers=admin.headers).json()["items"]
    assert client.delete(f"/api/v1/tokens/{tokens[0]['id']}", headers=admin.headers).status_code
    for _ in range(MAX_FAILURES + 2):
        answer = client.get(CASES, headers=gone.headers)
        assert answer.status_code == 401
        assert "revoked" in answer.json()["detail"]
    assert db.scalar("SELECT count(*) FROM auth_failures") == 0
    _exhaust(client)
    answer = client.get(CASES, headers=gone.headers)
    assert answer.status_code == 401, answer.text
