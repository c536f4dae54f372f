"""Probes, assertions and raw sockets shared by the hostile-input tests."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from tests.evidence.support import PROBLEM, StoreProbe
from tests.fixtures.api import Actor, DatabaseProbe
from tests.hostile.routes import JsonWrite, World


# -- probes ------------------------------------------------------------------------------------
@dataclass
class Probes:
    """Everything a refused request must leave as it was: every row, every object, no temps."""

    db: DatabaseProbe
    store: StoreProbe

    def state(self) -> tuple[dict[str, str], set[str], list[str]]:
        return self.db.fingerprint(), self.store.keys(), self.store.leftovers()


def assert_refused(answer: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx problem+json (one of `statuses` if given) that echoes nothing it was sent."""
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:500])
    if statuses:
        assert answer.status_code in statuses, (answer.status_code, answer.text[:500])
    assert answer.headers["content-type"] == PROBLEM, answer.headers
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == answer.status_code
    return problem


def write_headers(
    client: TestClient, actor: Actor, route: JsonWrite, world: World
) -> dict[str, str]:
    """Headers for the route, with its current ETag as If-Match where it wants one. Fetched
    before the "before" state is taken: reading a witness's identity is itself audited."""
    headers = dict(actor.headers)
    if route.read is not None:
        headers["If-Match"] = client.get(route.read_path(world), headers=actor.headers).headers[
            "etag"
        ]
    return headers


def send_json(
    client: TestClient,
    route: JsonWrite,
    world: World,
    headers: dict[str, str],
    raw: bytes,
    content_type: str = "application/json",
) -> httpx.Response:
    headers = {**headers, "Content-Type": content_type}
    return client.request(route.method, route.path(world), content=raw, headers=headers)


# -- raw HTTP/1.1 on a socket ------------------------------------------------------------------
@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(port: int, head: bytes, body: bytes = b"", *, timeout: float = 30.0) -> RawAnswer:
    """Send exactly these bytes (the request head without its final blank line, then `body`)
    and read one answer: for requests no HTTP client library will send."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + b"\r\n\r\n" + body)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> RawAnswer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return RawAnswer(int(lines[0].split()[1]), headers, rest[:length])


def request_head(method: str, path: str, actor: Actor, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {actor.token}"]
    return "\r\n".join([*lines, *extra]).encode()


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
