"""The client generated from the served document, once per test process."""

from __future__ import annotations

import pytest

from tests.client.generation import ClientGenerator, GeneratedClient
from tests.fixtures.api import LiveServer


@pytest.fixture(scope="session")
def client_generator(tmp_path_factory: pytest.TempPathFactory) -> ClientGenerator:
    return ClientGenerator(tmp_path_factory.mktemp("generated-client"))


@pytest.fixture
def served_document(live_server: LiveServer) -> bytes:
    """`/openapi.json` exactly as the running server serves it, without credentials."""
    with live_server.client() as http:
        answer = http.get("/openapi.json")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.content


@pytest.fixture
def generated(client_generator: ClientGenerator, served_document: bytes) -> GeneratedClient:
    return client_generator(served_document)
