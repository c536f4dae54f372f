"""Probes and metrics: public, honest about dependencies, and free of case data."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from app.config import Settings
from app.db import create_database
from app.main import create_app
from app.storage import LocalObjectStore, S3ObjectStore
from app.storage.s3 import make_s3_client
from tests.fixtures.api import MARTUNI, Actor

UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"


def test_liveness_needs_no_token(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_ready_when_database_and_storage_answer(client: TestClient) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "database": "ok", "storage": "ok"}


def test_not_ready_while_the_database_is_down(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        healthy = app.state.database
        app.state.database = create_database(UNREACHABLE_DB)
        try:
            answer = client.get("/readyz")
        finally:
            app.state.database.dispose()
            app.state.database = healthy
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["database"] == "unavailable"
        assert answer.json()["storage"] == "ok"
        assert client.get("/readyz").status_code == 200


def test_not_ready_while_storage_is_unusable(settings: Settings, backend: str) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        healthy = app.state.object_store
        if backend == "sqlite":
            assert isinstance(healthy, LocalObjectStore)
            shutil.rmtree(healthy.incoming)  # e.g. the volume was unmounted
            broken = healthy
        else:
            broken = S3ObjectStore(make_s3_client("http://127.0.0.1:1"), "casefile")
            app.state.object_store = broken
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["storage"] == "unavailable"
        assert answer.json()["database"] == "ok"
        if backend == "sqlite":
            healthy.incoming.mkdir()
        else:
            app.state.object_store = healthy
        assert client.get("/readyz").status_code == 200


def test_metrics_count_requests_by_route_template_without_case_data(
    client: TestClient, admin: Actor
) -> None:
    case = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()
    for _ in range(3):
        client.get(f"/api/v1/cases/{case['id']}", headers=admin.headers)
    client.get("/api/v1/cases", params={"q": "Anahit Gevorgyan"}, headers=admin.headers)
    client.get("/not-a-route")
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    labels = 'method="GET",route="/api/v1/cases/{case_id}",status="200"'
    assert f"casefile_http_requests_total{{{labels}}} 3.0" in text
    assert 'route="unmatched",status="404"' in text
    assert "casefile_http_request_duration_seconds_bucket" in text
    assert "process_resident_memory_bytes" in text
    for private in (case["id"], "Martuni", "Anahit", admin.token):
        assert private not in text


def test_probes_and_docs_are_public(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path
