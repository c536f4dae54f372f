"""Forwarding headers are believed only from configured proxies (CASEFILE_TRUSTED_PROXIES).

On a real socket, under the uvicorn options `casefile serve` uses: uvicorn by default takes
`X-Forwarded-For` from any loopback peer, so a client behind a port forwarder (or any local
process) chose the address its audit events recorded and the throttle counted.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from app.auth.throttle import MAX_FAILURES
from app.config import Settings
from app.kit.forwarded import client_address, parse_networks
from app.kit.server import uvicorn_options
from app.main import create_app
from tests.fixtures.api import MARTUNI, Actor, DatabaseProbe, LiveServer

CASES = "/api/v1/cases"
# "both, several lines": two X-Forwarded-For lines and a Forwarded line.
SPOOFS = ["x-forwarded-for", "forwarded", "both, several lines"]


def _guess() -> dict[str, str]:
    return {"Authorization": "Bearer cf_" + secrets.token_urlsafe(32)[:43]}


def _spoofed(kind: str, address: str = "203.0.113.9") -> list[tuple[str, str]]:
    if kind == "x-forwarded-for":
        return [("X-Forwarded-For", address)]
    if kind == "forwarded":
        return [("Forwarded", f"for={address}")]
    return [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", address),
            ("Forwarded", f'for="{address}:4711"')]  # fmt: skip


def _last_recorded_address(db: DatabaseProbe) -> str | None:
    body = db.scalar("SELECT body FROM audit_events ORDER BY id DESC LIMIT 1")
    address: str | None = json.loads(body)["client_address"]
    return address


@pytest.fixture
def proxied_server(settings: Settings, admin: Actor) -> Iterator[LiveServer]:
    """The app behind a reverse proxy on loopback, as configured for one."""
    trusting = settings.model_copy(update={"trusted_proxies": "127.0.0.1, ::1"})
    server = LiveServer(create_app(trusting), **uvicorn_options())
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("kind", SPOOFS)
def test_a_spoofed_header_from_loopback_changes_no_recorded_address(
    live_server: LiveServer, admin: Actor, db: DatabaseProbe, kind: str
) -> None:
    with live_server.client() as http:
        headers = [*admin.headers.items(), *_spoofed(kind)]
        answer = http.post(CASES, json=MARTUNI, headers=headers)
    assert answer.status_code == 201, answer.text
    assert _last_recorded_address(db) == "127.0.0.1"


def test_spoofed_addresses_do_not_escape_the_throttle(
    live_server: LiveServer, admin: Actor
) -> None:
    """Every guess claims another address; all of them count against the real one. The
    address's valid token still works (only unknown tokens are throttled)."""
    with live_server.client() as http:
        for attempt in range(MAX_FAILURES):
            spoof = [("X-Forwarded-For", f"203.0.113.{attempt + 1}")]
            answer = http.get(CASES, headers=[*_guess().items(), *spoof])
            assert answer.status_code == 401, (attempt, answer.text)
        spoof = [("X-Forwarded-For", "198.51.100.77")]
        refused = http.get(CASES, headers=[*_guess().items(), *spoof])
        assert refused.status_code == 429, refused.text
        assert http.get(CASES, headers=[*admin.headers.items(), *spoof]).status_code == 200


@pytest.mark.parametrize("kind", ["x-forwarded-for", "forwarded"])
def test_a_trusted_proxys_header_is_honoured(
    settings: Settings, admin: Actor, db: DatabaseProbe, kind: str
) -> None:
    """The rightmost address the proxy did not itself append is the client: what the client
    wrote further left (here 198.51.100.1) is ignored."""
    trusting = settings.model_copy(update={"trusted_proxies": "127.0.0.0/8", "proxy_header": kind})
    server = LiveServer(create_app(trusting), **uvicorn_options())
    server.start()
    try:
        chain = (
            [("X-Forwarded-For", "198.51.100.1, 203.0.113.9")]
            if kind == "x-forwarded-for"
            else [("Forwarded", 'for=198.51.100.1, for="203.0.113.9:4711";proto=https')]
        )
        with server.client() as http:
            answer = http.post(CASES, json=MARTUNI, headers=[*admin.headers.items(), *chain])
        assert answer.status_code == 201, answer.text
        assert _last_recorded_address(db) == "203.0.113.9"
    finally:
        server.stop()


def test_behind_a_trusted_proxy_the_throttle_counts_the_forwarded_address(
    proxied_server: LiveServer, admin: Actor
) -> None:
    guesser = [("X-Forwarded-For", "203.0.113.9")]
    with proxied_server.client() as http:
        for attempt in range(MAX_FAILURES):
            answer = http.get(CASES, headers=[*_guess().items(), *guesser])
            assert answer.status_code == 401, attempt
        assert http.get(CASES, headers=[*_guess().items(), *guesser]).status_code == 429
        other = [("X-Forwarded-For", "198.51.100.2")]
        assert http.get(CASES, headers=[*_guess().items(), *other]).status_code == 401
        assert http.get(CASES, headers=[*admin.headers.items(), *guesser]).status_code == 200


# -- the resolution rules themselves --------------------------------------------------------------
TRUSTED = parse_networks("10.0.0.0/8, 2001:db8::/32")


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("192.0.2.5", [(b"x-forwarded-for", b"203.0.113.9")], "192.0.2.5"),  # not a proxy
        ("10.0.0.2", [], "10.0.0.2"),  # a proxy that forwarded nothing
        ("10.0.0.2", [(b"x-forwarded-for", b"203.0.113.9")], "203.0.113.9"),
        ("10.0.0.2", [(b"x-forwarded-for", b"1.1.1.1, 203.0.113.9, 10.0.0.7")], "203.0.113.9"),
        ("10.0.0.2", [(b"x-forwarded-for", b"1.1.1.1"), (b"x-forwarded-for", b"10.1.1.1")],
         "1.1.1.1"),  # fmt: skip
        ("10.0.0.2", [(b"x-forwarded-for", b"10.0.0.9, 10.0.0.8")], "10.0.0.9"),  # all proxies
        ("10.0.0.2", [(b"x-forwarded-for", b"1.1.1.1, unknown")], "10.0.0.2"),  # garbage hop
        ("10.0.0.2", [(b"x-forwarded-for", b"")], "10.0.0.2"),
        ("10.0.0.2", [(b"forwarded", b"for=203.0.113.9")], "10.0.0.2"),  # not the header used
        ("2001:db8::1", [(b"x-forwarded-for", b"[2001:db8:1::5]:80, 2a00::1")], "2a00::1"),
        ("::ffff:10.0.0.2", [(b"x-forwarded-for", b"203.0.113.9:1234")], "203.0.113.9"),
        ("testclient", [(b"x-forwarded-for", b"203.0.113.9")], "testclient"),
        (None, [(b"x-forwarded-for", b"203.0.113.9")], None),
    ],
)
def test_the_rightmost_untrusted_hop_is_the_client(
    peer: str | None, headers: list[tuple[bytes, bytes]], expected: str | None
) -> None:
    assert client_address(peer, headers, TRUSTED) == expected


def test_nothing_is_believed_by_default() -> None:
    headers = [(b"x-forwarded-for", b"203.0.113.9"), (b"forwarded", b"for=203.0.113.9")]
    assert client_address("127.0.0.1", headers, ()) == "127.0.0.1"
    assert client_address("127.0.0.1", headers, (), "forwarded") == "127.0.0.1"


def test_forwarded_elements_are_read_from_the_right() -> None:
    value = b'for=198.51.100.1;proto=http, For="[2a00::7]:4711";by=10.0.0.1, for=10.0.0.3'
    assert client_address("10.0.0.2", [(b"forwarded", value)], TRUSTED, "forwarded") == "2a00::7"
    hidden = b"for=198.51.100.1, for=_hidden"
    assert client_address("10.0.0.2", [(b"forwarded", hidden)], TRUSTED, "forwarded") == "10.0.0.2"
