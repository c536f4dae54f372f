"""Fixtures for the upload tests: a case with its lead, the API on a real socket (tus clients
speak HTTP, and restarts and concurrent PATCHes need a real server), and a probe of the store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.fixtures.api import LiveServer, MakeUser
from tests.uploads.support import StoreProbe, Team, Tus


@pytest.fixture
def team(make_user: MakeUser, make_case: Callable[..., dict[str, Any]]) -> Team:
    lead = make_user("investigator")
    return Team(lead=lead, case_id=make_case(lead)["id"])


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        yield client


@pytest.fixture
def tus(http: httpx.Client) -> Tus:
    return Tus(http)


@pytest.fixture
def store_probe(settings: Settings, backend: str, request: pytest.FixtureRequest) -> StoreProbe:
    s3 = request.getfixturevalue("s3_endpoint").client() if backend == "postgres" else None
    return StoreProbe(settings=settings, s3=s3)


@pytest.fixture
def start_server(settings: Settings) -> Iterator[Callable[[], LiveServer]]:
    """Start further servers on the same settings (a restart); each is stopped at the end."""
    started: list[LiveServer] = []

    def start() -> LiveServer:
        server = LiveServer(create_app(settings))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
