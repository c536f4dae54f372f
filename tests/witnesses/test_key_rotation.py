"""`casefile keys rotate-identity`: a new identity key, every witness identity re-encrypted.

An operator rotates when a key may have leaked or on a schedule, usually while the API keeps
serving. So the rotation must re-seal every row under the new key without changing any witness
(same version, same ETag: the same identity behind a new lock), keep the old key (backups and
stored replies stay readable), be audited on the system chain, and leave a running server able
to read the re-sealed rows. A broken key file must fail plainly, and a sealed identity must be
bound to its row: copied onto another witness it must not open.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text, update

from app import cli
from app.config import Settings
from app.main import create_app
from app.models.witness import Witness
from tests.fixtures.api import GANJA, MARTUNI, Actor, DatabaseProbe, MakeUser
from tests.fixtures.cli import casefile, environment

MakeCase = Callable[..., dict[str, Any]]
AddMember = Callable[..., None]

IDENTITIES: list[dict[str, Any]] = [
    {
        "full_name": "Anahit Gevorgyan",
        "contact": "via the Martuni community centre",
        "home_location": {"description": "Martuni, near the school", "lat": 39.79, "lon": 47.11},
        "identity_notes": "Mother of the two children.",
    },
    {"full_name": "Ramiz Gahramanov", "identity_notes": "64 years old."},
    {"full_name": "Մարիամ Սարգսյան", "contact": "+374 00 000000"},
]


@dataclass(frozen=True)
class Registered:
    id: str
    case_id: str
    pseudonym: str
    identity: dict[str, Any]
    etag: str
    version: int


def register(client: TestClient, admin: Actor, case_id: str, identity: dict[str, Any]) -> str:
    answer = client.post(f"/api/v1/cases/{case_id}/witnesses", json=identity, headers=admin.headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def read(client: TestClient, admin: Actor, witness_id: str) -> Registered:
    answer = client.get(f"/api/v1/witnesses/{witness_id}", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Registered(
        id=body["id"],
        case_id=body["case_ids"][0],
        pseudonym=body["pseudonym"],
        identity=body["identity"],
        etag=answer.headers["etag"],
        version=body["version"],
    )


def keyring(settings: Settings) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(settings.identity_key_file.read_text())
    return document


def stored_keys(db: DatabaseProbe) -> dict[str, tuple[str, bytes, int]]:
    """witness id → (key id, ciphertext, version), straight from the table."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, identity_key_id, identity_ciphertext, version FROM witnesses")
        ).all()
    return {str(uuid.UUID(str(r[0]))): (r[1], bytes(r[2]), r[3]) for r in rows}


def rotate(settings: Settings) -> str:
    result = casefile("keys", "rotate-identity", env=environment(settings))
    assert result.returncode == 0, result.stderr
    return result.stderr


def system_events(db: DatabaseProbe, action: str) -> list[dict[str, Any]]:
    with db.engine.connect() as connection:
        bodies = connection.execute(
            text("SELECT body FROM audit_events WHERE chain_id = 'system' ORDER BY seq")
        ).scalars()
        events = [json.loads(body) for body in bodies]
    return [event for event in events if event["action"] == action]


@pytest.fixture
def witnesses(client: TestClient, admin: Actor, make_case: MakeCase) -> list[Registered]:
    """Three witnesses in two cases, registered through the running API (old key)."""
    martuni = make_case(admin, MARTUNI)
    ganja = make_case(admin, GANJA)
    ids = [
        register(client, admin, martuni["id"], IDENTITIES[0]),
        register(client, admin, ganja["id"], IDENTITIES[1]),
        register(client, admin, martuni["id"], IDENTITIES[2]),
    ]
    return [read(client, admin, witness_id) for witness_id in ids]


def test_rotation_reseals_every_identity_and_changes_no_witness(
    settings: Settings,
    client: TestClient,
    admin: Actor,
    witnesses: list[Registered],
    db: DatabaseProbe,
) -> None:
    """After rotation every row is under the new key, nothing else about a witness changed,
    and both the server that was already running (holding the old keyring in memory: it must
    reload the file on meeting an unknown key id) and a freshly started one read every
    identity as it was."""
    before_file = keyring(settings)
    before_rows = stored_keys(db)
    assert {key for key, _, _ in before_rows.values()} == {before_file["current"]}

    report = rotate(settings)
    assert "3 identities re-encrypted" in report, report

    after_file = keyring(settings)
    new_key = after_file["current"]
    assert new_key != before_file["current"]
    assert set(after_file["keys"]) == set(before_file["keys"]) | {new_key}
    for key_id, material in before_file["keys"].items():
        assert after_file["keys"][key_id] == material  # old keys kept, unchanged
    assert os.stat(settings.identity_key_file).st_mode & 0o077 == 0  # still private

    after_rows = stored_keys(db)
    assert set(after_rows) == set(before_rows)
    for witness_id, (key_id, blob, version) in after_rows.items():
        assert key_id == new_key
        assert blob != before_rows[witness_id][1]
        assert version == before_rows[witness_id][2]

    # The server that was running all along, then a new one: same identities, same ETags.
    with TestClient(create_app(settings)) as fresh:
        for server in (client, fresh):
            for witness in witnesses:
                assert read(server, admin, witness.id) == witness
    listed = client.get(f"/api/v1/cases/{witnesses[0].case_id}/witnesses", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    assert {w["identity"]["full_name"] for w in listed.json()["items"]} == {
        IDENTITIES[0]["full_name"],
        IDENTITIES[2]["full_name"],
    }

    [event] = system_events(db, "identity_key.rotated")
    assert event["payload"]["key_id"] == new_key
    assert event["payload"]["identities_resealed"] == 3
    verify = casefile("audit", "verify", env=environment(settings))
    assert verify.returncode == 0, verify.stderr


def test_a_running_server_seals_with_the_new_key_after_rotation(
    settings: Settings,
    client: TestClient,
    admin: Actor,
    witnesses: list[Registered],
    db: DatabaseProbe,
    rotate_in_process: Callable[[], Outcome],
) -> None:
    """One rotates because the old key is suspect: once the command has finished, no new
    identity may be sealed with it, by whichever process. (The command runs in-process here,
    with its own keyring object, as in its own process; `casefile keys rotate-identity` in a
    shell while `casefile serve` runs shows the same.)"""
    assert rotate_in_process().code == 0
    new_key = keyring(settings)["current"]
    case = client.get("/api/v1/cases", headers=admin.headers).json()["items"][0]
    late = register(client, admin, case["id"], {"full_name": "Late Witness"})
    assert stored_keys(db)[late][0] == new_key


def _not_keyrings(settings: Settings) -> dict[str, bytes]:
    return {
        "the signing key (PEM)": settings.signing_key_file.read_bytes(),
        "an empty file": b"",
        "random bytes": os.urandom(64),
        "a JSON list": b"[]",
        "JSON null": b"null",
        "a JSON object without keys": b"{}",
        "a key that is not base64": b'{"current": "k", "keys": {"k": "not base64!"}}',
        "a key of the wrong length": b'{"current": "k", "keys": {"k": "AAAA"}}',
        "a current key that is absent": b'{"current": "x", "keys": {}}',
    }


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def rotate_in_process(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Callable[[], Outcome]:
    """`casefile keys rotate-identity` through the CLI's own `main`, with the same environment
    the subprocess gets: many broken files are tried, and a process start costs seconds. An
    exception escaping `main` is exactly what the real command would print as a traceback."""
    for name in list(os.environ):
        if name.startswith("CASEFILE_"):
            monkeypatch.delenv(name)
    for name, value in environment(settings).items():
        if name.startswith("CASEFILE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env

    def run() -> Outcome:
        capsys.readouterr()
        code = cli.main(["keys", "rotate-identity"])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


def _assert_fails_plainly(settings: Settings, outcome: Outcome) -> None:
    assert outcome.code == 1, outcome
    assert outcome.stdout == ""
    assert "Traceback" not in outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("casefile: ")
    assert str(settings.identity_key_file) in lines[0]


def test_a_key_file_that_is_not_a_keyring_fails_in_one_line(
    settings: Settings,
    witnesses: list[Registered],
    db: DatabaseProbe,
    rotate_in_process: Callable[[], Outcome],
) -> None:
    """A wrong path or a damaged file must stop the command before it touches any row or the
    file, with one line an operator can act on, not a traceback."""
    before = db.snapshot()
    for content in _not_keyrings(settings).values():
        settings.identity_key_file.write_bytes(content)
        _assert_fails_plainly(settings, rotate_in_process())
        assert settings.identity_key_file.read_bytes() == content  # not replaced or "repaired"
    # And once as the real command, in its own process.
    settings.identity_key_file.write_bytes(settings.signing_key_file.read_bytes())
    result = casefile("keys", "rotate-identity", env=environment(settings))
    _assert_fails_plainly(settings, Outcome(result.returncode, result.stdout, result.stderr))
    assert db.snapshot() == before


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_keyring_of_the_wrong_shape_fails_in_one_line(
    settings: Settings, rotate_in_process: Callable[[], Outcome]
) -> None:
    """JSON that looks almost like a keyring is still not one: the same plain one-line failure.
    (One backend: the command fails on the file before it opens the database.)"""
    settings.identity_key_file.parent.mkdir(parents=True, exist_ok=True)
    wrong_shapes = [
        b'{"current": "k", "keys": []}',
        b'{"current": "k", "keys": "abc"}',
        b'{"current": [], "keys": {"k": "' + b"A" * 43 + b'="}}',
    ]
    for content in wrong_shapes:
        settings.identity_key_file.write_bytes(content)
        _assert_fails_plainly(settings, rotate_in_process())


@pytest.fixture
def server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


def test_an_identity_moved_to_another_row_does_not_open(
    settings: Settings,
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    add_member: AddMember,
    witnesses: list[Registered],
    server_errors: pytest.LogCaptureFixture,
) -> None:
    """Whoever can write to the database but lacks the key must not be able to make one
    witness's identity appear as another's: the ciphertext is bound to its row (the row id is
    authenticated). The read fails as a server error that reveals neither identity — in the
    answer or in the logs — while the untouched witnesses and pseudonym-only readers carry on."""
    anahit, ramiz, mariam = witnesses
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            source = connection.execute(
                select(Witness.identity_ciphertext, Witness.identity_key_id).where(
                    Witness.id == uuid.UUID(anahit.id)
                )
            ).one()
            connection.execute(
                update(Witness)
                .where(Witness.id == uuid.UUID(ramiz.id))
                .values(identity_ciphertext=source[0], identity_key_id=source[1])
            )
    finally:
        engine.dispose()

    answers = [
        client.get(f"/api/v1/witnesses/{ramiz.id}", headers=admin.headers),
        client.get(f"/api/v1/cases/{ramiz.case_id}/witnesses", headers=admin.headers),
    ]
    for answer in answers:
        assert 500 <= answer.status_code < 600, (answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        for identity in (anahit.identity, ramiz.identity):
            assert identity["full_name"] not in answer.text
        assert "Traceback" not in answer.text
    errors = [r for r in server_errors.records if r.name == "casefile.errors"]
    assert errors, "the failure was not logged"
    formatter = logging.Formatter()
    logged = "\n".join(
        f"{r.getMessage()} {formatter.formatException(r.exc_info) if r.exc_info else ''} "
        f"{r.__dict__}"
        for r in server_errors.records
    )
    assert "does not decrypt" in logged  # the operator learns what happened …
    for identity in (anahit.identity, ramiz.identity):  # … but not whose identity it was
        assert identity["full_name"] not in logged
        assert str(identity.get("identity_notes")) not in logged

    # The others still read; a member who may not identify still sees the pseudonym.
    assert read(client, admin, anahit.id) == anahit
    assert read(client, admin, mariam.id) == mariam
    viewer = make_user("viewer")
    add_member(ramiz.case_id, viewer, "viewer")
    plain = client.get(f"/api/v1/witnesses/{ramiz.id}", headers=viewer.headers)
    assert plain.status_code == 200, plain.text
    assert plain.json()["pseudonym"] == ramiz.pseudonym
    assert "identity" not in plain.json()
