"""Fixtures for the bundle tests: the Martuni dossier, exported by its lead."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.bundles.support import Dossier, build_dossier
from tests.evidence.support import StoreProbe
from tests.fixtures.api import MakeUser


@pytest.fixture
def dossier(client: TestClient, make_user: MakeUser) -> Dossier:
    return build_dossier(client, make_user("investigator"))


@pytest.fixture
def store_probe(settings: Settings) -> Iterator[StoreProbe]:
    probe = StoreProbe(settings)
    yield probe
    probe.close()
