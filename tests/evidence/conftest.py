"""The `scene` every evidence test starts from: a Martuni case, its lead, and probes into the
database and the object store to prove what an upload did or did not leave behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.evidence.support import Scene, StoreProbe
from tests.fixtures.api import DatabaseProbe, MakeUser


@pytest.fixture
def store_probe(settings: Settings) -> Iterator[StoreProbe]:
    probe = StoreProbe(settings)
    yield probe
    probe.close()


@pytest.fixture
def scene(
    client: TestClient,
    make_user: MakeUser,
    make_case: Callable[..., dict[str, Any]],
    db: DatabaseProbe,
    store_probe: StoreProbe,
    settings: Settings,
    backend: str,
) -> Scene:
    lead = make_user("investigator")
    case_id = make_case(lead)["id"]
    return Scene(
        client=client,
        lead=lead,
        case_id=case_id,
        db=db,
        store=store_probe,
        settings=settings,
        backend=backend,
    )
