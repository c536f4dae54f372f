"""A throttled address gets 429 for whatever is not a known token: a malformed Authorization
header, another scheme, an unknown token; such a refusal is not counted again. A known token
is never throttled (tests/auth/test_throttle_victim.py)."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from app.auth.throttle import MAX_FAILURES
from tests.fixtures.api import Actor, DatabaseProbe

PROTECTED = "/api/v1/cases"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-casefile-token",
        "Basic dXNlcjpwYXNz",
        "Bearer cf_" + "A" * 43,
    ],
    ids=["malformed", "other-scheme", "unknown"],
)
def test_a_throttled_address_gets_429_whatever_its_header(
    client: TestClient, admin: Actor, db: DatabaseProbe, authorization: str
) -> None:
    for _ in range(MAX_FAILURES):
        guess = {"Authorization": "Bearer cf_" + secrets.token_urlsafe(32)[:43]}
        assert client.get(PROTECTED, headers=guess).status_code == 401
    counted = db.scalar("SELECT failures FROM auth_failures")
    refused = client.get(PROTECTED, headers={"Authorization": authorization})
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert db.scalar("SELECT failures FROM auth_failures") == counted  # refused, not counted
    assert client.get(PROTECTED, headers=admin.headers).status_code == 200
