"""Authentication is decided before a request body is read: a client without a valid token
hears its 401 (or 429) at once, however much body it announces and however slowly it sends
it. FastAPI reads a JSON body before solving any dependency, authentication included, so a
stranger could make the server wait for (or receive) a body before being refused.

On a real socket: the bodies announced here are never sent.
"""

from __future__ import annotations

import secrets
import socket
import time

import pytest

from app.auth.throttle import MAX_FAILURES
from tests.evidence.support import PROBLEM
from tests.fixtures.api import Actor, DatabaseProbe, LiveServer
from tests.hostile.routes import JSON_WRITES, World
from tests.hostile.support import Probes, read_answer

CASES = "/api/v1/cases"
NO_TOKEN = ""
UNKNOWN = "Authorization: Bearer cf_" + "Q" * 43


def _announce(port: int, method: str, path: str, authorization: str, *extra: str) -> tuple[
    int, str | None, float
]:
    """Send a head announcing a body, and none of it: (status, content type, seconds)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [line for line in (authorization, *extra) if line]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n")
        answer = read_answer(sock)
        return answer.status, answer.headers.get("content-type"), time.monotonic() - started


@pytest.mark.parametrize("authorization", [NO_TOKEN, UNKNOWN], ids=["no token", "unknown"])
def test_every_json_write_refuses_a_stranger_before_the_body(
    live_server: LiveServer,
    world: World,
    probes: Probes,
    subtests: pytest.Subtests,
    authorization: str,
) -> None:
    before = probes.state()
    for route in JSON_WRITES:
        with subtests.test(route.name):
            status, content_type, seconds = _announce(
                live_server.port, route.method, route.path(world), authorization,
                "Content-Length: 1000",
            )  # fmt: skip
            assert (status, content_type) == (401, PROBLEM)
            assert seconds < 5
    rows, objects, temporary = probes.state()
    assert {k: v for k, v in rows.items() if k != "auth_failures"} == {
        k: v for k, v in before[0].items() if k != "auth_failures"
    }
    assert (objects, temporary) == before[1:]


@pytest.mark.parametrize(
    "framing",
    ["Content-Length: 1000", f"Content-Length: {10 * 1024**3}", "Transfer-Encoding: chunked"],
    ids=["1000 bytes", "10 GB", "chunked"],
)
def test_an_announced_body_does_not_delay_the_401(
    live_server: LiveServer, db: DatabaseProbe, framing: str
) -> None:
    """Not a 413 either: the body's size is a stranger's business only once authenticated."""
    status, content_type, seconds = _announce(live_server.port, "POST", CASES, UNKNOWN, framing)
    assert (status, content_type) == (401, PROBLEM)
    assert seconds < 5
    assert db.scalar("SELECT failures FROM auth_failures") == 1  # counted like any guess


def test_a_throttled_address_gets_429_before_the_body(live_server: LiveServer) -> None:
    with live_server.client() as http:
        for _ in range(MAX_FAILURES):
            guess = {"Authorization": "Bearer cf_" + secrets.token_urlsafe(32)[:43]}
            assert http.get(CASES, headers=guess).status_code == 401
    status, content_type, seconds = _announce(
        live_server.port, "POST", CASES, UNKNOWN, "Content-Length: 1000"
    )
    assert (status, content_type) == (429, PROBLEM)
    assert seconds < 5


def test_a_valid_token_is_still_read_in_full(live_server: LiveServer, admin: Actor) -> None:
    """Authenticating first changes nothing for a client that is who it says: its body is read
    (a 201), and one request is one authentication (the second look is skipped)."""
    with live_server.client() as http:
        answer = http.post(
            CASES, content=b'{"title": "T", "occurred_at": "2020-09-27T06:00:00Z"}',
            headers={**admin.headers, "Content-Type": "application/json"},
        )  # fmt: skip
    assert answer.status_code == 201, answer.text
