"""Tampering with the stored trail is detected by `casefile audit verify`, which names the place.

The tampering is done as someone with full database access would: bypassing the append-only
triggers (PostgreSQL: session_replication_role = replica, a superuser's power; SQLite: dropping
the triggers and putting them back).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from app.audit import canonical
from app.audit import service as audit_service
from app.audit.signing import load_or_create_signer
from app.audit.verify import verify_all
from app.config import Settings
from app.db import create_database
from tests.fixtures.api import MARTUNI, Actor, DatabaseProbe
from tests.fixtures.cli import casefile, environment


@dataclass
class Trail:
    settings: Settings
    db: DatabaseProbe
    case_id: str
    chain: str
    tmp_path: Path

    def tamper(self, *statements: str, **params: Any) -> None:
        with self.db.engine.begin() as connection:
            with bypassed_triggers(connection):
                for statement in statements:
                    connection.execute(text(statement), params)

    def event(self, seq: int) -> dict[str, Any]:
        with self.db.engine.connect() as connection:
            row = connection.execute(
                text("SELECT * FROM audit_events WHERE chain_id = :c AND seq = :s"),
                {"c": self.chain, "s": seq},
            ).one()
        return dict(row._mapping)

    def verify(self, *args: str) -> tuple[int, str]:
        result = casefile("audit", "verify", *args, env=environment(self.settings))
        # The verdict (`BROKEN: …`) is on stdout, a refusal to run on stderr.
        return result.returncode, result.stdout + result.stderr


class bypassed_triggers:  # noqa: N801 - used as a context manager
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.saved: list[str] = []

    def __enter__(self) -> None:
        if self.connection.dialect.name == "postgresql":
            self.connection.execute(text("SET LOCAL session_replication_role = replica"))
            return
        rows = self.connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        for name, sql in rows:
            self.saved.append(sql)
            self.connection.execute(text(f'DROP TRIGGER "{name}"'))

    def __exit__(self, *exc: object) -> None:
        for sql in self.saved:
            self.connection.execute(text(sql))


@pytest.fixture
def trail(
    client: TestClient, admin: Actor, db: DatabaseProbe, settings: Settings, tmp_path: Path
) -> Trail:
    """A case whose chain holds 6 events (created, 5 edits), signed at 1 and at 6."""
    case_id = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()["id"]
    path = f"/api/v1/cases/{case_id}"
    for number in range(5):
        etag = client.get(path, headers=admin.headers).headers["etag"]
        answer = client.patch(
            path,
            json={"summary": f"Edit number {number}", "status": "under_review"},
            headers={**admin.headers, "If-Match": etag},
        )
        assert answer.status_code == 200
    signer = load_or_create_signer(settings.signing_key_file)
    database = create_database(settings.database_url, signer=signer)
    try:
        with database.write_sessions.begin() as session:
            assert audit_service.checkpoint(session, f"case:{case_id}") is not None
        assert verify_all(database.engine).ok  # intact before each tampering
    finally:
        database.dispose()
    return Trail(settings, db, case_id, f"case:{case_id}", tmp_path)


def expect_broken(trail: Trail, seq: int | None, kind: str, *args: str) -> str:
    code, report = trail.verify(*args)
    assert code == 1, report
    first = next(line for line in report.splitlines() if line.startswith("BROKEN"))
    assert "BROKEN" not in casefile("audit", "verify", env=environment(trail.settings)).stderr
    where = f"chain {trail.chain}" + (f" seq {seq}" if seq is not None else "")
    assert first.startswith(f"BROKEN: {where}: {kind}"), first
    return first


def test_changed_payload_byte(trail: Trail) -> None:
    body = trail.event(3)["body"]
    trail.tamper(
        "UPDATE audit_events SET body = :body WHERE chain_id = :c AND seq = 3",
        body=body.replace('"version":3', '"version":7'),
        c=trail.chain,
    )
    expect_broken(trail, 3, "hash (content altered)")


def test_deleted_event(trail: Trail) -> None:
    trail.tamper("DELETE FROM audit_events WHERE chain_id = :c AND seq = 3", c=trail.chain)
    line = expect_broken(trail, 3, "sequence")
    assert "expected 3, found 4" in line


def test_deleted_last_event(trail: Trail) -> None:
    trail.tamper("DELETE FROM audit_events WHERE chain_id = :c AND seq = 6", c=trail.chain)
    expect_broken(trail, 6, "checkpoint beyond the last event")


def test_reordered_events(trail: Trail) -> None:
    trail.tamper(
        "UPDATE audit_events SET seq = -3 WHERE chain_id = :c AND seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE chain_id = :c AND seq = 4",
        "UPDATE audit_events SET seq = 4 WHERE chain_id = :c AND seq = -3",
        c=trail.chain,
    )
    expect_broken(trail, 3, "link (prev_hash)")


def _forge(trail: Trail, seq: int, prev_hash: str, summary: str) -> dict[str, Any]:
    """An event that hashes correctly: whoever forges it knows the published format."""
    body = canonical.event_body(
        at="2020-12-01T09:00:00.000000Z",
        actor_id=None,
        action="case.updated",
        case_id=trail.case_id,
        request_id=None,
        client_address=None,
        payload={"changes": {"summary": {"from": None, "to": summary}}},
    )
    return {
        "c": trail.chain,
        "s": seq,
        "p": prev_hash,
        "h": canonical.event_hash(
            chain=trail.chain,
            seq=seq,
            prev_hash=prev_hash,
            resource_type="case",
            resource_id=trail.case_id,
            body=body,
        ),
        "r": trail.case_id,
        "b": body.decode(),
    }


INSERT = (
    "INSERT INTO audit_events (chain_id, seq, prev_hash, hash, resource_type, resource_id, body) "
    "VALUES (:c, :s, :p, :h, 'case', :r, :b)"
)


def test_forged_event_appended(trail: Trail) -> None:
    trail.tamper(INSERT, **_forge(trail, 7, trail.event(6)["hash"], "forged"))
    line = expect_broken(trail, 6, "chain head")
    assert "length 7" in line


def test_forged_event_replacing_one_in_the_middle(trail: Trail) -> None:
    forged = _forge(trail, 3, trail.event(2)["hash"], "forged")
    trail.tamper("DELETE FROM audit_events WHERE chain_id = :c AND seq = 3", INSERT, **forged)
    expect_broken(trail, 4, "link (prev_hash)")


def test_altered_checkpoint(trail: Trail) -> None:
    trail.tamper(
        "UPDATE audit_checkpoints SET signed_at = '2020-01-01T00:00:00.000000Z' "
        "WHERE chain_id = :c AND length = 6",
        c=trail.chain,
    )
    expect_broken(trail, 6, "checkpoint signature")


def test_checkpoint_pointing_elsewhere(trail: Trail) -> None:
    trail.tamper(
        "UPDATE audit_checkpoints SET head_hash = :h WHERE chain_id = :c AND length = 1",
        h="f" * 64,
        c=trail.chain,
    )
    expect_broken(trail, 1, "checkpoint head_hash")


def test_moved_chain_head(trail: Trail) -> None:
    trail.tamper("UPDATE audit_chains SET length = 5 WHERE chain_id = :c", c=trail.chain)
    expect_broken(trail, 5, "chain head")


def test_history_rewritten_and_resigned_with_another_key(trail: Trail) -> None:
    """A full rewrite of the chain, re-signed with the forger's own key published beside ours,
    passes the hash checks; pinning the server's public key exposes it."""
    forger = load_or_create_signer(trail.tmp_path / "forger.pem")
    events: list[dict[str, Any]] = []
    prev = canonical.GENESIS_HASH
    for seq in range(1, 7):
        forged = _forge(trail, seq, prev, f"rewritten {seq}")
        events.append(forged)
        prev = forged["h"]
    signed_at = "2020-12-01T09:00:00.000000Z"
    message = canonical.checkpoint_message(
        chain=trail.chain, length=6, head_hash=prev, signed_at=signed_at, key_id=forger.key_id
    )
    statements = [
        "DELETE FROM audit_events WHERE chain_id = :c",
        "DELETE FROM audit_checkpoints WHERE chain_id = :c",
        "INSERT INTO signing_keys (key_id, algorithm, public_key_pem, created_at) "
        "VALUES (:kid, 'ed25519', :pem, CURRENT_TIMESTAMP)",
        "UPDATE audit_chains SET length = 6, head_hash = :head, checkpoint_length = 6 "
        "WHERE chain_id = :c",
        "INSERT INTO audit_checkpoints (chain_id, length, head_hash, signed_at, key_id, signature) "
        "VALUES (:c, 6, :head, :at, :kid, :sig)",
    ]
    with trail.db.engine.begin() as connection, bypassed_triggers(connection):
        params = {
            "c": trail.chain,
            "kid": forger.key_id,
            "pem": forger.public_pem,
            "head": prev,
            "at": signed_at,
            "sig": forger.sign(message),
        }
        for statement in statements[:3]:
            connection.execute(text(statement), params)
        for event in events:
            connection.execute(text(INSERT), event)
        for statement in statements[3:]:
            connection.execute(text(statement), params)
    code, _ = trail.verify()
    assert code == 0  # consistent with the keys the database itself publishes…
    ours = load_or_create_signer(trail.settings.signing_key_file)
    pem = trail.tmp_path / "casefile-public.pem"
    pem.write_text(ours.public_pem)
    line = expect_broken(trail, 6, "checkpoint key", "--public-key", str(pem))
    assert forger.key_id in line


def test_verify_endpoint_names_the_same_place(
    trail: Trail, client: TestClient, admin: Actor
) -> None:
    trail.tamper("DELETE FROM audit_events WHERE chain_id = :c AND seq = 2", c=trail.chain)
    report = client.get("/api/v1/audit/verify", headers=admin.headers).json()
    assert report["ok"] is False
    assert report["broken_chains"] == 1
    problem = report["first_problem"]
    assert (problem["chain"], problem["seq"], problem["kind"]) == (trail.chain, 2, "sequence")
    assert (problem["expected"], problem["found"]) == ("2", "3")


def test_json_report(trail: Trail) -> None:
    code, _ = trail.verify()
    result = casefile("audit", "verify", "--json", env=environment(trail.settings))
    assert code == result.returncode == 0
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["chains"] == 2
    assert report["checkpoints"] >= 3


def test_pinning_a_non_ed25519_key_is_refused(trail: Trail) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = trail.tmp_path / "ec.pem"
    pem.write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    code, report = trail.verify("--public-key", str(pem))
    assert code == 1
    assert "not an Ed25519 public key" in report
