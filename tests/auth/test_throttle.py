"""Guessing tokens is throttled: past 20 unknown tokens from one address within 5 minutes, that
address's unknown tokens get 429 with Retry-After. A valid token still works (a victim sharing
the address is not locked out: test_throttle_victim.py). Counted in the database, so every
server process sees the same count."""

from __future__ import annotations

import secrets

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth.throttle import MAX_FAILURES
from tests.fixtures.api import Actor, DatabaseProbe

PROTECTED = "/api/v1/cases"


def _guess() -> dict[str, str]:
    return {"Authorization": "Bearer cf_" + secrets.token_urlsafe(32)[:43]}


def test_too_many_invalid_tokens_get_429_but_a_valid_one_works(
    client: TestClient, admin: Actor, app: FastAPI
) -> None:
    for attempt in range(MAX_FAILURES):
        method = "POST" if attempt % 2 else "GET"  # writes too: no lock held while counting
        answer = client.request(method, PROTECTED, headers=_guess(), json={})
        assert answer.status_code == 401, (attempt, answer.text)
    refused = client.get(PROTECTED, headers=_guess())
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:casefile:problem:too-many-failed-authentications"
    assert 1 <= int(refused.headers["retry-after"]) <= 300
    # A right token works: it is not a guess, and its owner may share the guesser's address.
    assert client.get(PROTECTED, headers=admin.headers).status_code == 200
    # Another address is not affected, and a second server process sees the same count.
    with TestClient(app, client=("192.0.2.7", 40000)) as elsewhere:
        assert elsewhere.get(PROTECTED, headers=_guess()).status_code == 401
    with TestClient(app) as same_address_other_process:
        assert same_address_other_process.get(PROTECTED, headers=_guess()).status_code == 429


def test_the_window_ends(client: TestClient, admin: Actor, db: DatabaseProbe) -> None:
    for _ in range(MAX_FAILURES + 1):
        client.get(PROTECTED, headers=_guess())
    assert client.get(PROTECTED, headers=_guess()).status_code == 429
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE auth_failures SET window_start = window_start - interval '6 minutes'"
            if db.engine.dialect.name == "postgresql"
            else "UPDATE auth_failures SET window_start = datetime(window_start, '-6 minutes')"
        )
    assert client.get(PROTECTED, headers=admin.headers).status_code == 200
    assert client.get(PROTECTED, headers=_guess()).status_code == 401  # a new window, count 1
    assert db.scalar("SELECT failures FROM auth_failures") == 1


def test_requests_without_a_token_are_not_counted(client: TestClient, admin: Actor) -> None:
    for _ in range(MAX_FAILURES + 5):
        assert client.get(PROTECTED).status_code == 401
    assert client.get(PROTECTED, headers=admin.headers).status_code == 200
