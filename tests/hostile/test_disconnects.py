"""Slow and abandoned bodies on a real socket: a body that stalls for
CASEFILE_BODY_STALL_SECONDS is ended with 408 within that time, and a client that goes away
is a disconnect (499 in the access log and the metrics), never an unhandled error with a
traceback, never a 500."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator

import pytest

from app.config import Settings
from app.kit.server import uvicorn_options
from app.main import create_app
from tests.evidence.support import PROBLEM
from tests.fixtures.api import MARTUNI, Actor, LiveServer
from tests.hostile.support import Probes, read_answer, request_head, wait_until

CASES = "/api/v1/cases"
STALL_S = 1.5


@pytest.fixture
def stalling_server(settings: Settings, admin: Actor) -> Iterator[LiveServer]:
    configured = settings.model_copy(update={"body_stall_seconds": STALL_S})
    server = LiveServer(create_app(configured), **uvicorn_options())
    server.start()
    yield server
    server.stop()


def _case_head(actor: Actor, length: int) -> bytes:
    return request_head(
        "POST", CASES, actor, "Content-Type: application/json", f"Content-Length: {length}"
    )


def _counted(server: LiveServer, status: int) -> bool:
    with server.client() as http:
        metrics = http.get("/metrics").text
    pattern = rf'casefile_http_requests_total{{method="POST",route="{CASES}",'
    pattern += rf'status="{status}"}} 1\.0'
    return re.search(pattern, metrics) is not None


def test_a_stalled_body_gets_408_within_the_configured_time(
    stalling_server: LiveServer, admin: Actor, probes: Probes
) -> None:
    before = probes.state()
    body = json.dumps(MARTUNI).encode()
    with socket.create_connection(("127.0.0.1", stalling_server.port), timeout=15) as sock:
        sock.sendall(_case_head(admin, len(body)) + b"\r\n\r\n" + body[:20])
        started = time.monotonic()
        answer = read_answer(sock)
        elapsed = time.monotonic() - started
    assert (answer.status, answer.headers.get("content-type")) == (408, PROBLEM)
    assert STALL_S - 0.1 < elapsed < STALL_S + 3
    assert "1.5 s" in json.loads(answer.body)["detail"]
    assert probes.state() == before


def test_bytes_that_keep_coming_are_not_a_stall(
    stalling_server: LiveServer, admin: Actor
) -> None:
    """The timeout is silence, not total time: a body trickled over longer succeeds."""
    body = json.dumps(MARTUNI).encode()
    with socket.create_connection(("127.0.0.1", stalling_server.port), timeout=15) as sock:
        sock.sendall(_case_head(admin, len(body)) + b"\r\n\r\n")
        pieces = [body[i : i + len(body) // 3 + 1] for i in range(0, len(body), len(body) // 3 + 1)]
        for piece in pieces:
            time.sleep(STALL_S * 0.6)
            sock.sendall(piece)
        answer = read_answer(sock)
    assert answer.status == 201, answer.body


@pytest.mark.parametrize("sent", [0, 20], ids=["before the body", "halfway through"])
def test_a_client_that_goes_away_is_a_disconnect_not_an_error(
    live_server: LiveServer,
    admin: Actor,
    probes: Probes,
    caplog: pytest.LogCaptureFixture,
    sent: int,
) -> None:
    before = probes.state()
    body = json.dumps(MARTUNI).encode()
    with caplog.at_level(logging.INFO):
        with socket.create_connection(("127.0.0.1", live_server.port), timeout=15) as sock:
            sock.sendall(_case_head(admin, len(body)) + b"\r\n\r\n" + body[:sent])
            time.sleep(0.3)  # the server is waiting for the rest
        wait_until(lambda: _counted(live_server, 499))
    assert not _counted(live_server, 500)
    access = [r for r in caplog.records if r.name == "casefile.access" and r.route == CASES]
    assert [(r.status, r.disconnected) for r in access] == [(499, True)]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert probes.state() == before


def test_a_401_before_the_body_is_answered_and_logged_without_error(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Authentication answers before the body: the unread body leaves no error behind."""
    with caplog.at_level(logging.INFO):
        with socket.create_connection(("127.0.0.1", live_server.port), timeout=15) as sock:
            head = f"POST {CASES} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
            sock.sendall(head.encode())
            answer = read_answer(sock)
        assert answer.status == 401
        wait_until(lambda: _counted(live_server, 401))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
