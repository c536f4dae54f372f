"""The database itself refuses to change audit records, whatever code or client asks."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from tests.fixtures.api import MARTUNI, Actor, DatabaseProbe
from tests.fixtures.cli import casefile, environment

APPEND_ONLY = ("audit_events", "audit_checkpoints", "signing_keys")


@pytest.fixture
def trail(client: TestClient, admin: Actor) -> str:
    case_id: str = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()["id"]
    return case_id


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize(
    "statement",
    ["UPDATE {table} SET key_id = key_id", "DELETE FROM {table}"],
    ids=["update", "delete"],
)
def test_application_role_cannot_update_or_delete(
    settings: Settings, trail: str, db: DatabaseProbe, table: str, statement: str
) -> None:
    before = db.snapshot()
    column = {"audit_events": "body", "audit_checkpoints": "signature", "signing_keys": "key_id"}
    sql = statement.format(table=table).replace("key_id = key_id", f"{column[table]} = 'x'")
    engine = create_engine(settings.database_url)  # exactly what the application connects as
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()
    assert db.snapshot() == before


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("table", APPEND_ONLY)
def test_application_role_cannot_truncate(
    settings: Settings, trail: str, db: DatabaseProbe, table: str
) -> None:
    before = db.snapshot()
    engine = create_engine(settings.database_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {table} CASCADE"))
    finally:
        engine.dispose()
    assert db.snapshot() == before


def test_appending_is_still_allowed(client: TestClient, admin: Actor, trail: str) -> None:
    path = f"/api/v1/cases/{trail}"
    answer = client.patch(
        path, json={"status": "closed"}, headers={**admin.headers, "If-Match": '"1"'}
    )
    assert answer.status_code == 200


def test_checkpoint_command_signs_unsigned_heads(
    client: TestClient, admin: Actor, settings: Settings, trail: str
) -> None:
    path = f"/api/v1/cases/{trail}"
    client.patch(path, json={"status": "closed"}, headers={**admin.headers, "If-Match": '"1"'})
    first = casefile("audit", "checkpoint", env=environment(settings))
    assert first.returncode == 0, first.stderr
    assert "signed 2 chain head(s)" in first.stderr  # the case's and the system chain's
    audit = client.get(f"{path}/audit", headers=admin.headers).json()
    assert audit["latest_checkpoint"]["length"] == audit["chain_head"]["length"] == 2
    again = casefile("audit", "checkpoint", env=environment(settings))
    assert "signed 0 chain head(s)" in again.stderr
