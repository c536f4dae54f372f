"""The throttle's bookkeeping is bounded, whatever an attacker sends: IPv6 is counted per /64
(rotating the interface id of one block does not escape it), ended windows are pruned, and
past MAX_KEYS tracked addresses new ones share one overflow window (which throttles them
together; tracked addresses and valid tokens are unaffected)."""

from __future__ import annotations

import secrets

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth import throttle
from app.auth.throttle import MAX_FAILURES, OVERFLOW_KEY
from tests.fixtures.api import Actor, DatabaseProbe

CASES = "/api/v1/cases"


def _guess() -> dict[str, str]:
    return {"Authorization": "Bearer cf_" + secrets.token_urlsafe(32)[:43]}


def _guess_from(app: FastAPI, address: str, headers: dict[str, str] | None = None) -> int:
    with TestClient(app, client=(address, 40000)) as elsewhere:
        return elsewhere.get(CASES, headers=headers or _guess()).status_code


def _age_windows(db: DatabaseProbe) -> None:
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE auth_failures SET window_start = window_start - interval '6 minutes'"
            if db.engine.dialect.name == "postgresql"
            else "UPDATE auth_failures SET window_start = datetime(window_start, '-6 minutes')"
        )


def test_ipv6_addresses_of_one_64_share_a_window(
    app: FastAPI, client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    for attempt in range(MAX_FAILURES):
        assert _guess_from(app, f"2001:db8:1:2:{attempt:x}::{attempt + 1:x}") == 401
    assert _guess_from(app, "2001:db8:1:2:ffff:ffff:ffff:ffff") == 429
    assert _guess_from(app, "2001:db8:1:3::1") == 401  # the next /64 is someone else
    keys = {db.scalar("SELECT client_key FROM auth_failures WHERE failures = :n", n=MAX_FAILURES)}
    assert keys == {"2001:db8:1:2::/64"}
    assert _guess_from(app, "2001:db8:1:2::7", admin.headers) == 200


def test_past_the_cap_new_addresses_share_one_window(
    app: FastAPI,
    client: TestClient,
    admin: Actor,
    db: DatabaseProbe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(throttle, "MAX_KEYS", 3)
    for n in range(3):
        assert _guess_from(app, f"192.0.2.{n + 1}") == 401
    for n in range(MAX_FAILURES):
        assert _guess_from(app, f"198.51.100.{n + 1}") == 401, n
    assert db.scalar("SELECT count(*) FROM auth_failures") == 4  # three, and the overflow
    overflow = "SELECT failures FROM auth_failures WHERE client_key = :k"
    assert db.scalar(overflow, k=OVERFLOW_KEY) == MAX_FAILURES
    assert _guess_from(app, "203.0.113.200") == 429  # a new address: the shared window
    assert _guess_from(app, "192.0.2.1") == 401  # a tracked address keeps its own
    assert _guess_from(app, "203.0.113.201", admin.headers) == 200


def test_ended_windows_are_pruned_when_the_cap_is_reached(
    app: FastAPI, client: TestClient, db: DatabaseProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "MAX_KEYS", 3)
    for n in range(3):
        assert _guess_from(app, f"192.0.2.{n + 1}") == 401
    _age_windows(db)
    assert _guess_from(app, "198.51.100.1") == 401
    keys = db.engine.connect().exec_driver_sql("SELECT client_key FROM auth_failures").scalars()
    assert set(keys) == {"198.51.100.1"}  # the ended windows went; no overflow was needed


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("testclient", "testclient"),
        (None, "unknown"),
        ("x" * 500, "x" * 100),
    ],
)
def test_client_keys(address: str | None, key: str) -> None:
    assert throttle.client_key(address) == key
