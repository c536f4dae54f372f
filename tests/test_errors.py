"""Every error is RFC 9457 problem+json with the request id; failures reveal nothing."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth.dependencies import CurrentPrincipal
from app.config import Settings
from app.db import create_database
from app.main import create_app
from tests.fixtures.api import Actor

UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"


def assert_problem(answer: object, status: int) -> dict[str, object]:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    assert answer.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = answer.json()  # type: ignore[attr-defined]
    assert {"type", "title", "status", "detail", "request_id"} <= set(body)
    assert body["status"] == status
    assert body["request_id"] == answer.headers["x-request-id"]  # type: ignore[attr-defined]
    return body


def test_unknown_path_is_a_404_problem(client: TestClient, admin: Actor) -> None:
    assert_problem(client.get("/api/v1/nothing-here", headers=admin.headers), 404)
    assert_problem(client.get("/nothing-here"), 404)


def test_wrong_method_is_a_405_problem_with_allow(client: TestClient, admin: Actor) -> None:
    answer = client.delete("/api/v1/cases", headers=admin.headers)
    assert_problem(answer, 405)
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


@pytest.fixture
def boom_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.get("/boom")
    def boom(principal: CurrentPrincipal) -> None:
        raise RuntimeError("internal detail: Anahit Gevorgyan, /srv/casefile/secret.py line 3")

    return app


def test_unhandled_error_is_a_generic_500_and_is_logged(
    boom_app: FastAPI, admin: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(boom_app) as client, caplog.at_level(logging.ERROR, "casefile.errors"):
        answer = client.get("/boom", headers={**admin.headers, "X-Request-ID": "trace-500"})
    body = assert_problem(answer, 500)
    assert body["detail"] == "An unexpected error occurred; it was logged."
    assert "Anahit" not in answer.text
    assert "Traceback" not in answer.text
    assert answer.headers["x-request-id"] == "trace-500"
    logged = [r for r in caplog.records if r.name == "casefile.errors"]
    assert logged, "the traceback must be logged"
    assert logged[0].exc_info is not None
    assert "RuntimeError" in caplog.text


def test_a_request_without_token_never_reaches_the_failing_route(boom_app: FastAPI) -> None:
    with TestClient(boom_app) as client:
        # Without a token the auth layer answers first: no stack trace either way.
        assert_problem(client.get("/boom"), 401)


@pytest.mark.parametrize(
    ("supplied", "echoed"),
    [
        ("abc-123", True),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("evil\u2028id", False),
        ("has space", False),
        ("<script>", False),
    ],
)
def test_request_id_is_echoed_only_if_harmless(
    client: TestClient, admin: Actor, supplied: str, echoed: bool
) -> None:
    answer = client.get(
        "/api/v1/cases",
        headers={**admin.headers, "X-Request-ID": supplied.encode()},  # type: ignore[dict-item]
    )
    assert answer.status_code == 200
    returned = answer.headers["x-request-id"]
    if echoed:
        assert returned == supplied
    else:
        assert returned != supplied
        assert len(returned) == 32
        int(returned, 16)


def test_every_response_has_a_request_id_and_is_never_cached(
    client: TestClient, admin: Actor
) -> None:
    ids = set()
    for answer in (
        client.get("/healthz"),
        client.get("/api/v1/cases"),
        client.get("/api/v1/cases", headers=admin.headers),
        client.get("/nothing"),
    ):
        ids.add(answer.headers["x-request-id"])
        assert answer.headers["cache-control"] == "private, no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert len(ids) == 4


def test_database_outage_is_a_503_not_a_500(settings: Settings, admin: Actor) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        healthy = app.state.database
        app.state.database = create_database(UNREACHABLE_DB)
        try:
            answer = client.get("/api/v1/cases", headers=admin.headers)
        finally:
            app.state.database.dispose()
            app.state.database = healthy
        body = assert_problem(answer, 503)
        assert body["type"] == "urn:casefile:problem:database-unavailable"
        assert answer.headers["retry-after"] == "5"
        assert "127.0.0.1:1" not in answer.text
        # Back to normal once the database is back.
        assert client.get("/api/v1/cases", headers=admin.headers).status_code == 200


def test_problem_bodies_are_valid_json_in_utf8(client: TestClient, admin: Actor) -> None:
    answer = client.get("/api/v1/cases/Մարտունի", headers=admin.headers)
    assert 400 <= answer.status_code < 500
    json.loads(answer.content.decode("utf-8"))
