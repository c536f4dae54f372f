"""The world every hostile-input test starts from, and probes into what the app stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.kit.server import uvicorn_options
from tests.evidence.support import StoreProbe, upload
from tests.fixtures.api import MARTUNI, Actor, DatabaseProbe, MakeUser
from tests.hostile.routes import World
from tests.hostile.support import Probes


@pytest.fixture
def probes(db: DatabaseProbe, settings: Settings) -> Iterator[Probes]:
    store = StoreProbe(settings)
    yield Probes(db=db, store=store)
    store.close()


def _created(client: TestClient, admin: Actor, path: str, body: object) -> str:
    answer = client.post(path, json=body, headers=admin.headers)
    assert answer.status_code == 201, answer.text
    created: str = answer.json()["id"]
    return created


@pytest.fixture
def world(client: TestClient, admin: Actor, make_user: MakeUser) -> World:
    user = make_user("investigator")
    case_id = _created(client, admin, "/api/v1/cases", MARTUNI)
    base = f"/api/v1/cases/{case_id}"
    witness_id = _created(client, admin, f"{base}/witnesses", {"full_name": "Anahit Gevorgyan"})
    testimony = {"witness_id": witness_id, "recorded_at": "2020-12-02T10:00:00Z", "statement": "…"}
    visit = {"visited_at": "2020-12-03T09:00:00Z", "observations": "A crater."}
    return World(
        admin=admin,
        user_id=user.id,
        case_id=case_id,
        witness_id=witness_id,
        testimony_id=_created(client, admin, f"{base}/testimonies", testimony),
        visit_id=_created(client, admin, f"{base}/site-visits", visit),
        evidence_id=upload(client, admin, case_id, b"a photograph", filename="p.jpg")["id"],
    )


@pytest.fixture
def live_server_options() -> dict[str, Any]:
    """`live_server` with the uvicorn options `casefile serve` uses (its HTTP protocol)."""
    return uvicorn_options()
