"""Witness protection: an identity reaches nobody who may not see it — not in responses,
searches, errors, headers, logs or audit payloads — and is stored only encrypted."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.config import Settings
from app.logs import JsonFormatter
from tests.fixtures.api import GANJA, MARTUNI, Actor, DatabaseProbe, MakeUser

ANAHIT = {
    "full_name": "Anahit Gevorgyan",
    "contact": "+374 77 123456, Tigran Mets street",
    "home_location": {"description": "Near the Martuni bakery", "lat": 39.7953, "lon": 47.1136},
    "identity_notes": "Mother of the two injured children",
    "consent": {"named_publicly": False, "share_identity_with_courts": True},
    "risk_level": "high",
}
RAMIZ = {
    "full_name": "Ramiz Gahramanov",
    "contact": "ramiz.g@example.org",
    "risk_level": "critical",
}
# Every string that identifies a witness, as it could leak (whole or in part).
IDENTITY_STRINGS = [
    "Anahit",
    "Gevorgyan",
    "123456",
    "Tigran Mets",
    "Martuni bakery",
    "Mother of the two injured",
    "Ramiz",
    "Gahramanov",
    "ramiz.g@example",
]


@dataclass
class World:
    client: TestClient
    admin: Actor
    lead: Actor
    identifier: Actor  # investigator member allowed to identify witnesses
    legal_with_flag: Actor
    legal: Actor  # legal member without the flag
    viewer: Actor
    outsider: Actor  # not a member at all
    martuni: str
    ganja: str
    anahit: str
    ramiz: str
    testimony: str
    visit: str
    people: dict[str, Actor] = field(default_factory=dict)


@pytest.fixture
def world(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    add_member: Callable[..., None],
) -> World:
    lead = make_user("investigator")
    martuni = client.post("/api/v1/cases", json=MARTUNI, headers=lead.headers).json()["id"]
    ganja = client.post("/api/v1/cases", json=GANJA, headers=lead.headers).json()["id"]
    roles = {
        "identifier": ("investigator", "investigator", True),
        "legal_with_flag": ("legal", "legal", True),
        "legal": ("legal", "legal", False),
        "viewer": ("viewer", "viewer", False),
    }
    people = {}
    for name, (global_role, case_role, flag) in roles.items():
        people[name] = make_user(global_role)
        add_member(martuni, people[name], case_role, can_identify_witnesses=flag)
    outsider = make_user("investigator")
    anahit = client.post(f"/api/v1/cases/{martuni}/witnesses", json=ANAHIT, headers=lead.headers)
    assert anahit.status_code == 201, anahit.text
    ramiz = client.post(f"/api/v1/cases/{ganja}/witnesses", json=RAMIZ, headers=lead.headers)
    testimony = client.post(
        f"/api/v1/cases/{martuni}/testimonies",
        json={
            "witness_id": anahit.json()["id"],
            "recorded_at": "2020-12-02T10:00:00Z",
            "statement": "My little boy now still wakes up saying there are planes bombing.",
            "language": "en",
        },
        headers=lead.headers,
    )
    visit = client.post(
        f"/api/v1/cases/{martuni}/site-visits",
        json={"visited_at": "2020-12-03T09:00:00Z", "observations": "Impact crater."},
        headers=lead.headers,
    )
    return World(
        client=client,
        admin=admin,
        lead=lead,
        outsider=outsider,
        martuni=martuni,
        ganja=ganja,
        anahit=anahit.json()["id"],
        ramiz=ramiz.json()["id"],
        testimony=testimony.json()["id"],
        visit=visit.json()["id"],
        **people,
    )


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """Every log line the server writes, as the JSON lines an operator would collect."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet = logging.getLogger("httpx2")  # the test's own client, not the server
    quiet_level = quiet.level
    quiet.setLevel(logging.WARNING)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)
    quiet.setLevel(quiet_level)


def workflow(world: World, actor: Actor) -> list[str]:
    """Everything a curious member could try; returns every status line, header and body."""
    c, h = world.client, actor.headers
    base = f"/api/v1/cases/{world.martuni}"
    answers = [
        c.get("/api/v1/cases", headers=h),
        c.get(base, headers=h),
        c.get(f"{base}/witnesses", headers=h),
        c.get(f"/api/v1/witnesses/{world.anahit}", headers=h),
        c.get(f"/api/v1/witnesses/{world.ramiz}", headers=h),
        c.get(f"{base}/testimonies", headers=h),
        c.get(f"/api/v1/testimonies/{world.testimony}", headers=h),
        c.get(f"{base}/site-visits", headers=h),
        c.get(f"/api/v1/site-visits/{world.visit}", headers=h),
        c.get(f"{base}/audit", headers=h),
        c.get(f"{base}/members", headers=h),
        c.get(f"/api/v1/cases/{world.ganja}/witnesses", headers=h),
        # Errors that carry identity strings in the request must not echo them.
        c.patch(
            f"/api/v1/witnesses/{world.anahit}",
            json={"full_name": "Anahit Gevorgyan-Bakery"},
            headers={**h, "If-Match": '"1"'},
        ),
        c.patch(
            f"/api/v1/witnesses/{world.anahit}",
            json={"full_name": "Ramiz Gahramanov\u0000"},
            headers={**h, "If-Match": '"1"'},
        ),
        c.post(f"{base}/witnesses", json={"witness_id": world.ramiz}, headers=h),
        c.post(f"{base}/witnesses", json={"full_name": "Anahit Gevorgyan", "oops": 1}, headers=h),
        c.post(
            f"{base}/testimonies",
            json={
                "witness_id": world.ramiz,
                "recorded_at": "2020-12-02T10:00:00Z",
                "statement": "x",
            },
            headers=h,
        ),
    ]
    for term in ("Anahit", "Gevorgyan", "Tigran Mets", "Ramiz Gahramanov", "bakery"):
        answers.append(c.get("/api/v1/cases", params={"q": term}, headers=h))
    captured = []
    for answer in answers:
        captured.append(f"{answer.status_code} {answer.request.method} {answer.request.url.path}")
        captured.extend(f"{k}: {v}" for k, v in answer.headers.items())
        captured.append(answer.text)
    return captured


@pytest.mark.parametrize("who", ["viewer", "legal", "outsider"])
def test_nothing_identifying_reaches_those_without_the_flag(
    world: World, server_log: io.StringIO, db: DatabaseProbe, who: str
) -> None:
    actor: Actor = getattr(world, who)
    captured = "\n".join(workflow(world, actor))
    logged = server_log.getvalue()
    for secret in IDENTITY_STRINGS:
        assert secret not in captured, f"{secret!r} reached the {who}"
        assert secret not in logged, f"{secret!r} was logged"
    # Searching for a name reveals nothing: the same (empty) answer as for gibberish.
    for term in ("Anahit", "Gahramanov"):
        found = world.client.get("/api/v1/cases", params={"q": term}, headers=actor.headers)
        assert found.json()["items"] == []
    # And the audit trail, which every member reads, holds no identity at all.
    bodies = " ".join(str(row) for row in db.snapshot()["audit_events"])
    for secret in IDENTITY_STRINGS:
        assert secret not in bodies


def test_the_identity_is_shown_to_those_allowed_and_each_view_is_audited(world: World) -> None:
    c = world.client
    for actor in (world.admin, world.lead, world.identifier, world.legal_with_flag):
        answer = c.get(f"/api/v1/witnesses/{world.anahit}", headers=actor.headers)
        assert answer.status_code == 200
        assert answer.json()["identity"]["full_name"] == "Anahit Gevorgyan"
        assert (
            answer.json()["identity"]["home_location"]["description"] == "Near the Martuni bakery"
        )
    listed = c.get(f"/api/v1/cases/{world.martuni}/witnesses", headers=world.identifier.headers)
    assert listed.json()["items"][0]["identity"]["contact"].startswith("+374")
    for actor in (world.viewer, world.legal):
        answer = c.get(f"/api/v1/witnesses/{world.anahit}", headers=actor.headers)
        assert answer.status_code == 200
        assert "identity" not in answer.json()  # absent, not null
        assert answer.json()["pseudonym"] == "W-0001"
    views = [
        e
        for e in c.get(f"/api/v1/cases/{world.martuni}/audit", headers=world.admin.headers).json()[
            "items"
        ]
        if e["action"] == "witness.identity_viewed"
    ]
    viewers = [e["actor_id"] for e in views]
    assert viewers == [
        world.admin.id,
        world.lead.id,
        world.identifier.id,
        world.legal_with_flag.id,
        world.identifier.id,  # the list
    ]
    assert all(e["payload"] == {"witness_ids": [world.anahit]} for e in views)


def test_removing_the_flag_takes_effect_at_once(world: World) -> None:
    c = world.client
    url = f"/api/v1/witnesses/{world.anahit}"
    assert "identity" in c.get(url, headers=world.identifier.headers).json()
    c.put(
        f"/api/v1/cases/{world.martuni}/members/{world.identifier.id}",
        json={"role": "investigator", "can_identify_witnesses": False},
        headers=world.lead.headers,
    )
    assert "identity" not in c.get(url, headers=world.identifier.headers).json()
    listed = c.get(f"/api/v1/cases/{world.martuni}/witnesses", headers=world.identifier.headers)
    assert "identity" not in listed.json()["items"][0]
    # …and without the flag, the identity can no longer be changed either.
    changed = c.patch(
        url, json={"contact": "new"}, headers={**world.identifier.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 403


def test_a_flag_on_any_linked_case_suffices(world: World, add_member: Callable[..., None]) -> None:
    """Ramiz is registered in Ganja; once linked to Martuni, Martuni's identifying members see
    him, while Ganja-only viewers still do not."""
    c = world.client
    linked = c.post(
        f"/api/v1/cases/{world.martuni}/witnesses",
        json={"witness_id": world.ramiz},
        headers=world.lead.headers,
    )
    assert linked.status_code == 201, linked.text
    assert set(linked.json()["case_ids"]) == {world.martuni, world.ganja}
    seen = c.get(f"/api/v1/witnesses/{world.ramiz}", headers=world.identifier.headers).json()
    assert seen["identity"]["full_name"] == "Ramiz Gahramanov"
    assert seen["case_ids"] == [world.martuni]  # Ganja is not theirs to know about
    assert (
        "identity"
        not in c.get(f"/api/v1/witnesses/{world.ramiz}", headers=world.viewer.headers).json()
    )


def test_linking_needs_the_right_to_identify(world: World) -> None:
    """Linking would show the identity to the new case's identifying members: only someone
    who may identify the witness already may do it; others learn nothing (404)."""
    c = world.client
    answer = c.post(
        f"/api/v1/cases/{world.martuni}/witnesses",
        json={"witness_id": world.ramiz},
        headers=world.identifier.headers,  # may edit Martuni, is no member of Ganja
    )
    assert answer.status_code == 404
    assert answer.json()["type"] == "urn:casefile:problem:witness-not-found"


def test_registering_with_an_idempotency_key_stores_no_identity_in_clear(
    world: World, db: DatabaseProbe
) -> None:
    c = world.client
    headers = {**world.lead.headers, "Idempotency-Key": "register-anahit-2"}
    body = {"full_name": "Anahit Gevorgyan", "contact": "+374 77 123456"}
    first = c.post(f"/api/v1/cases/{world.martuni}/witnesses", json=body, headers=headers)
    again = c.post(f"/api/v1/cases/{world.martuni}/witnesses", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # replayed, identity included, for the same caller
    assert again.headers["idempotent-replayed"] == "true"
    stored = str(db.snapshot()["idempotency_records"])
    assert "Gevorgyan" not in stored
    assert "123456" not in stored


def test_the_raw_database_holds_no_identity_in_clear(
    world: World, db: DatabaseProbe, settings: Settings, backend: str, tmp_path: Path
) -> None:
    """Every table, every column — and the database files (or a dump) as raw bytes."""
    everything = repr(db.snapshot())
    for secret in IDENTITY_STRINGS:
        assert secret not in everything
    raw = _raw_bytes(settings, backend, tmp_path)
    assert len(raw) > 10_000, "the raw dump is suspiciously small"
    for secret in IDENTITY_STRINGS:
        for encoding in ("utf-8", "utf-16-le"):
            assert secret.encode(encoding) not in raw, f"{secret!r} found in raw {backend} bytes"


def _raw_bytes(settings: Settings, backend: str, tmp_path: Path) -> bytes:
    url = make_url(settings.database_url)
    if backend == "sqlite":
        path = Path(str(url.database))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is needed to inspect a PostgreSQL dump")
    dump = subprocess.run(  # noqa: S603
        [
            pg_dump,
            "--no-owner",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            str(url.database),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return dump.stdout


def test_problem_details_never_carry_identity(world: World) -> None:
    """An invalid registration with a name in it: the 422 names fields, never values."""
    answer = world.client.post(
        f"/api/v1/cases/{world.martuni}/witnesses",
        json={"full_name": "Anahit Gevorgyan\u0007", "contact": "x" * 2000},
        headers=world.lead.headers,
    )
    assert answer.status_code == 422
    problem: dict[str, Any] = answer.json()
    assert {e["field"] for e in problem["errors"]} == {"full_name", "contact"}
    assert "Anahit" not in json.dumps(problem)
