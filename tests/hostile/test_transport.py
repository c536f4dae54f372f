"""Hostile transfers on a real socket: lying Content-Length, stalled and abandoned bodies.

These need bytes no HTTP client library sends (a 10 GB Content-Length and then one byte, a body
that stops halfway), so they talk HTTP/1.1 by hand to the app under uvicorn (`live_server`).
Receive timeouts are shortened to a second here; their value is not what is tested.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import time

import pytest
from fastapi.testclient import TestClient

from app.auth.throttle import MAX_FAILURES
from app.config import Settings
from app.kit import server
from tests.evidence.support import BOUNDARY, MULTIPART, PROBLEM, Part, file_part
from tests.fixtures.api import LiveServer
from tests.hostile.routes import JSON_WRITES, JsonWrite, World, encode
from tests.hostile.support import (
    Probes,
    raw_request,
    read_answer,
    request_head,
    wait_until,
    write_headers,
)

TEN_GB = 10 * 1024**3
STALL_S = 1.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """CASEFILE_BODY_STALL_SECONDS shortened: its value is not what is tested here."""
    return settings.model_copy(update={"body_stall_seconds": STALL_S})
EVIDENCE = "/api/v1/cases/{case_id}/evidence"


def _head(route: JsonWrite, world: World, headers: dict[str, str], *extra: str) -> bytes:
    lines = [f"If-Match: {headers['If-Match']}"] if "If-Match" in headers else []
    return request_head(route.method, route.path(world), world.admin, *lines, *extra)


def _assert_problem(status: int, content_type: str | None, expected: int) -> None:
    assert status == expected
    assert content_type == PROBLEM


def test_a_10_gb_content_length_with_one_byte_is_refused_at_once(
    client: TestClient,
    live_server: LiveServer,
    world: World,
    probes: Probes,
    subtests: pytest.Subtests,
) -> None:
    """413 from the declared length alone, on every JSON write route: the server neither waits
    for 10 GB nor reads any."""
    for route in JSON_WRITES:
        with subtests.test(route.name):
            headers = write_headers(client, world.admin, route, world)
            before = probes.state()
            started = time.monotonic()
            extra = ("Content-Type: application/json", f"Content-Length: {TEN_GB}")
            answer = raw_request(
                live_server.port, _head(route, world, headers, *extra), b"{", timeout=10
            )
            _assert_problem(answer.status, answer.headers.get("content-type"), 413)
            assert time.monotonic() - started < 5
            assert probes.state() == before


def test_a_10_gb_upload_with_one_byte_ends_when_the_body_stalls(
    live_server: LiveServer, world: World, probes: Probes
) -> None:
    """10 GB is within the upload limit (20 GiB), so the server waits for it, but only as long
    as bytes keep coming: 408 once they stop, nothing stored. (Past the limit it is a 413 at
    once: tests/evidence/test_refusals.py.)"""
    before = probes.state()
    head = _upload_head(world, TEN_GB)
    answer = raw_request(live_server.port, head, b"-", timeout=15)
    _assert_problem(answer.status, answer.headers.get("content-type"), 408)
    wait_until(lambda: probes.state() == before)


def test_a_json_body_that_stalls_is_dropped_with_408(
    client: TestClient,
    live_server: LiveServer,
    world: World,
    probes: Probes,
) -> None:
    """A slow-loris client announces a body and sends part of it: after the receive timeout
    the request ends with 408, instead of holding its connection and coroutine for ever."""
    route = next(r for r in JSON_WRITES if r.read is not None)  # a PATCH, with its If-Match
    headers = write_headers(client, world.admin, route, world)
    before = probes.state()
    body = encode(route.body(world))
    head = _head(route, world, headers, "Content-Type: application/json")
    head += f"\r\nContent-Length: {len(body)}".encode()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=15) as sock:
        sock.sendall(head + b"\r\n\r\n" + body[:10])
        started = time.monotonic()
        answer = read_answer(sock)
    _assert_problem(answer.status, answer.headers.get("content-type"), 408)
    assert answer.headers.get("connection") == "close"
    assert 0.9 < time.monotonic() - started < 10
    assert probes.state() == before


def _upload_head(world: World, length: int) -> bytes:
    return request_head(
        "POST",
        EVIDENCE.format(case_id=world.case_id),
        world.admin,
        f"Content-Type: {MULTIPART}",
        f"Content-Length: {length}",
    )


def _upload_body(size: int) -> bytes:
    fields = Part("title", b"abandoned").head() + b"abandoned\r\n"
    parts = b"--" + BOUNDARY.encode() + b"\r\n" + fields + b"--" + BOUNDARY.encode() + b"\r\n"
    part = file_part(b"", "big.bin", "application/octet-stream")
    data = parts + part.head() + b"\0" * size
    return data + b"\r\n--" + BOUNDARY.encode() + b"--\r\n"


def test_an_upload_that_stalls_is_dropped_with_408_and_leaves_nothing(
    live_server: LiveServer, world: World, probes: Probes
) -> None:
    before = probes.state()
    body = _upload_body(3 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=15) as sock:
        sock.sendall(_upload_head(world, len(body)) + b"\r\n\r\n" + body[: 2 * 1024 * 1024])
        answer = read_answer(sock)
    _assert_problem(answer.status, answer.headers.get("content-type"), 408)
    wait_until(lambda: probes.state() == before)


def _answered(live_server: LiveServer, status: int) -> bool:
    with live_server.client() as http:
        metrics = http.get("/metrics").text
    pattern = rf'casefile_http_requests_total{{method="POST",route="{re.escape(EVIDENCE)}",'
    pattern += rf'status="{status}"}} 1\.0'
    return re.search(pattern, metrics) is not None


def test_an_upload_abandoned_halfway_leaves_nothing(
    live_server: LiveServer, world: World, probes: Probes
) -> None:
    """The client goes away after 2 MiB of 3: the app notices, removes what it had written
    (a temporary file, or an S3 multipart upload) and records nothing. It is counted as a
    disconnect (499), not as a 400 nobody received."""
    before = probes.state()
    body = _upload_body(3 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=15) as sock:
        sock.sendall(_upload_head(world, len(body)) + b"\r\n\r\n" + body[: 2 * 1024 * 1024])
        time.sleep(0.5)  # let the server start writing, so that there is something to undo
    wait_until(lambda: _answered(live_server, 499))
    assert probes.state() == before


def _guess() -> dict[str, str]:
    return {"Authorization": "Bearer cf_" + secrets.token_urlsafe(32)[:43]}


def test_token_guessing_is_throttled_on_every_kind_of_route(
    client: TestClient, world: World, probes: Probes
) -> None:
    """tests/auth/test_throttle.py counts guesses on /cases; here they are spread over an
    upload, a download, a bundle and a JSON write, and the 429 comes all the same; the count
    of failures is all that a guess may store."""
    guesses = [
        ("POST", "/api/v1/uploads"),
        ("GET", f"/api/v1/evidence/{world.evidence_id}/content"),
        ("GET", f"/api/v1/cases/{world.case_id}/bundle"),
        ("PATCH", f"/api/v1/cases/{world.case_id}"),
        ("POST", EVIDENCE.format(case_id=world.case_id)),
    ]
    before = probes.state()
    for attempt in range(MAX_FAILURES):
        method, path = guesses[attempt % len(guesses)]
        assert client.request(method, path, headers=_guess()).status_code == 401, path
    for method, path in guesses:
        refused = client.request(method, path, headers=_guess())
        assert refused.status_code == 429
        assert refused.headers["content-type"] == PROBLEM
        assert int(refused.headers["retry-after"]) >= 1
    rows, objects, temporary = probes.state()
    assert {k: v for k, v in rows.items() if k != "auth_failures"} == {
        k: v for k, v in before[0].items() if k != "auth_failures"
    }
    assert (objects, temporary) == before[1:]


@pytest.mark.parametrize(
    "trickle",
    [b"", b"GET /api/v1/cases HTTP/1.1\r\nHost: 127.0.0.1\r\nX-"],
    ids=["silent", "a byte at a time"],
)
def test_a_request_head_that_never_ends_is_dropped_with_408(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, trickle: bytes
) -> None:
    """Slow loris on the head: a connection that sends nothing, or a head a byte at a time,
    is answered 408 and closed once the head timeout has passed since it began; uvicorn
    alone held such connections for ever. Trickling bytes does not restart the clock."""
    monkeypatch.setattr(server, "HEAD_TIMEOUT_S", 1.0)
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(trickle)
        sock.setblocking(False)
        received = b""
        while b"\r\n\r\n" not in received and time.monotonic() - started < 8:
            if trickle:
                with contextlib.suppress(OSError):
                    sock.send(b"a")  # one more byte of an endless header value
            time.sleep(0.2)
            try:
                received += sock.recv(65536)
            except BlockingIOError:
                continue
        elapsed = time.monotonic() - started
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), received[:200]
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["status"] == 408
    assert json.loads(body)["type"].endswith(":request-timeout"), body
    assert 0.9 < elapsed < 5
