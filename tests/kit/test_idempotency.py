"""Idempotency-Key: a retried create returns the first answer instead of creating a twin."""

from __future__ import annotations

import threading
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.kit.idempotency import _lock_id
from tests.fixtures.api import GANJA, MARTUNI, Actor, DatabaseProbe, LiveServer, MakeUser


def post_case(client: TestClient, actor: Actor, key: str, body: dict[str, object]) -> object:
    return client.post(
        "/api/v1/cases", json=body, headers={**actor.headers, "Idempotency-Key": key}
    )


def test_retry_with_same_key_and_body_returns_the_same_case(
    client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    key = str(uuid.uuid4())
    first = post_case(client, admin, key, MARTUNI)
    assert first.status_code == 201, first.text  # type: ignore[attr-defined]
    cases_after_first = db.scalar("SELECT count(*) FROM cases")
    again = post_case(client, admin, key, MARTUNI)
    assert again.status_code == 201  # type: ignore[attr-defined]
    assert again.json() == first.json()  # type: ignore[attr-defined]
    assert again.headers["location"] == first.headers["location"]  # type: ignore[attr-defined]
    assert again.headers["etag"] == first.headers["etag"]  # type: ignore[attr-defined]
    assert again.headers["idempotent-replayed"] == "true"  # type: ignore[attr-defined]
    assert db.scalar("SELECT count(*) FROM cases") == cases_after_first == 1


def test_same_json_in_another_key_order_is_the_same_request(
    client: TestClient, admin: Actor
) -> None:
    key = "retry-42"
    first = post_case(client, admin, key, {"title": "Ganja", "occurred_at": "2020-10-17T01:00:00Z"})
    again = post_case(client, admin, key, {"occurred_at": "2020-10-17T01:00:00Z", "title": "Ganja"})
    assert again.status_code == 201  # type: ignore[attr-defined]
    assert again.json()["id"] == first.json()["id"]  # type: ignore[attr-defined]


def test_same_key_with_another_body_is_422_and_creates_nothing(
    client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    post_case(client, admin, "k1", MARTUNI)
    before = db.snapshot()
    other = post_case(client, admin, "k1", GANJA)
    assert other.status_code == 422  # type: ignore[attr-defined]
    assert other.json()["type"] == "urn:casefile:problem:idempotency-key-reused"  # type: ignore[attr-defined]
    assert db.snapshot() == before


def test_same_key_on_another_path_is_422(client: TestClient, admin: Actor) -> None:
    post_case(client, admin, "shared", MARTUNI)
    answer = client.post(
        "/api/v1/users",
        json={"name": "amira", "role": "investigator"},
        headers={**admin.headers, "Idempotency-Key": "shared"},
    )
    assert answer.status_code == 422
    assert answer.json()["type"] == "urn:casefile:problem:idempotency-key-reused"


def test_keys_belong_to_their_user(client: TestClient, admin: Actor, make_user: MakeUser) -> None:
    amira = make_user("investigator")
    mine = post_case(client, admin, "same-key", MARTUNI)
    hers = post_case(client, amira, "same-key", MARTUNI)
    assert hers.status_code == 201  # type: ignore[attr-defined]
    assert hers.json()["id"] != mine.json()["id"]  # type: ignore[attr-defined]
    assert "idempotent-replayed" not in hers.headers  # type: ignore[attr-defined]


def test_without_a_key_each_post_creates(client: TestClient, admin: Actor) -> None:
    one = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()
    two = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()
    assert one["id"] != two["id"]


def test_a_failed_request_does_not_burn_the_key(
    client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    invalid = post_case(client, admin, "k-retry", {**MARTUNI, "status": "archived"})
    assert invalid.status_code == 422  # type: ignore[attr-defined]
    # The first attempt changed nothing, so its key is still free for the corrected request.
    fixed = post_case(client, admin, "k-retry", MARTUNI)
    assert fixed.status_code == 201  # type: ignore[attr-defined]


def test_user_creation_is_idempotent_too(client: TestClient, admin: Actor) -> None:
    headers = {**admin.headers, "Idempotency-Key": "new-user"}
    body = {"name": "amira", "role": "investigator"}
    first = client.post("/api/v1/users", json=body, headers=headers)
    again = client.post("/api/v1/users", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]


def test_token_creation_is_not_replayed_because_the_secret_is_not_kept(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    amira = make_user("investigator")
    headers = {**admin.headers, "Idempotency-Key": "token-1"}
    first = client.post(f"/api/v1/users/{amira.id}/tokens", json={}, headers=headers)
    assert first.status_code == 201
    again = client.post(f"/api/v1/users/{amira.id}/tokens", json={}, headers=headers)
    assert again.status_code == 409
    problem = again.json()
    assert problem["type"] == "urn:casefile:problem:idempotency-not-replayable"
    assert first.json()["id"] in problem["detail"]
    assert first.json()["token"] not in again.text
    assert first.json()["token"] not in db.all_text()
    tokens = client.get(f"/api/v1/users/{amira.id}/tokens", headers=admin.headers).json()
    assert len(tokens["items"]) == 2  # the one from make_user, and the first of this test


@pytest.mark.parametrize("key", ["", "a" * 256, "naïve", "with space", "tab\there"])
def test_malformed_keys_are_refused(client: TestClient, admin: Actor, key: str) -> None:
    answer = client.post(
        "/api/v1/cases",
        json=MARTUNI,
        headers={**admin.headers, "Idempotency-Key": key.encode()},  # type: ignore[dict-item]
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_concurrent_duplicates_create_exactly_one_case(
    live_server: LiveServer, admin: Actor, db: DatabaseProbe
) -> None:
    """Eight copies of one request at once (a client retrying aggressively): one case exists
    afterwards; every copy either got it (201, same id) or was told to retry (409)."""
    copies = 8
    barrier = threading.Barrier(copies)
    answers: list[tuple[int, str | None]] = []

    def send() -> None:
        with live_server.client(headers={**admin.headers, "Idempotency-Key": "burst"}) as http:
            barrier.wait()
            answer = http.post("/api/v1/cases", json=MARTUNI)
            answers.append((answer.status_code, answer.json().get("id")))

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == copies
    assert {status for status, _ in answers} <= {201, 409}, answers
    assert len({case_id for status, case_id in answers if status == 201}) == 1, answers
    assert db.scalar("SELECT count(*) FROM cases") == 1


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_retry_while_the_first_is_in_flight_is_409(
    client: TestClient, admin: Actor, settings: object, db: DatabaseProbe
) -> None:
    """On PostgreSQL a request in flight holds a transaction-scoped advisory lock on its key;
    hold that lock from another connection, as the first request would, and retry. (SQLite
    serialises writers, so there a retry waits for the first and replays it: tested above.)"""
    database_url: str = settings.database_url  # type: ignore[attr-defined]
    key = "in-flight"
    engine = create_engine(database_url)
    try:
        with engine.connect() as first_request:
            first_request.execute(
                text("SELECT pg_advisory_xact_lock(:id)"),
                {"id": _lock_id(uuid.UUID(admin.id), key)},
            )
            before = db.snapshot()
            retry = post_case(client, admin, key, MARTUNI)
            assert retry.status_code == 409  # type: ignore[attr-defined]
            assert retry.headers["retry-after"] == "1"  # type: ignore[attr-defined]
            assert db.snapshot() == before
            first_request.rollback()
        # The first request died without an answer: the lock went with it, the key is free.
        assert post_case(client, admin, key, MARTUNI).status_code == 201  # type: ignore[attr-defined]
    finally:
        engine.dispose()
