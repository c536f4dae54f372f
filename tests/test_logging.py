"""Logs are JSON lines carrying the request id, and never carry search terms or secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.logs import JsonFormatter
from tests.fixtures.api import MARTUNI, Actor


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The test's own HTTP client logs the URLs it calls; only the server's logs are under test.
    client_logger = logging.getLogger("httpx2")
    client_level = client_logger.level
    client_logger.setLevel(logging.WARNING)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)
    client_logger.setLevel(client_level)


def test_access_lines_are_json_with_request_id_and_route_template(
    client: TestClient, admin: Actor, log_lines: io.StringIO
) -> None:
    case = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()
    client.get(
        f"/api/v1/cases/{case['id']}", headers={**admin.headers, "X-Request-ID": "look-for-me"}
    )
    client.get("/api/v1/cases", params={"q": "Anahit Gevorgyan"}, headers=admin.headers)
    client.get("/api/v1/cases", headers={"Authorization": "Bearer cf_" + "x" * 43})
    entries = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    access = [e for e in entries if e["logger"] == "casefile.access"]
    assert len(access) == 4
    mine = [e for e in access if e.get("request_id") == "look-for-me"]
    assert mine == [
        {
            "ts": mine[0]["ts"],
            "level": "info",
            "logger": "casefile.access",
            "msg": "request",
            "request_id": "look-for-me",
            "method": "GET",
            "route": "/api/v1/cases/{case_id}",
            "status": 200,
            "duration_ms": mine[0]["duration_ms"],
        }
    ]
    assert all("request_id" in e for e in access)
    everything = log_lines.getvalue()
    for private in ("Anahit", "Gevorgyan", admin.token, "x" * 43, case["id"]):
        assert private not in everything


def test_formatter_keeps_extra_fields_and_exceptions() -> None:
    record = logging.LogRecord(
        "casefile.test", logging.ERROR, __file__, 1, "failed %s", ("x",), None
    )
    record.case_count = 3
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "failed x"
    assert entry["case_count"] == 3
    assert "ValueError: boom" in entry["exc"]
