"""Fixtures for contract fuzzing: one served, seeded app per test module.

The fuzzing runs on SQLite + local files by default (fast, and what CI runs);
CASEFILE_FUZZ_BACKEND=postgres runs the same tests on PostgreSQL + S3 (SeaweedFS) to catch
dialect-specific 5xx.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, create_engine

from app.config import Settings
from tests.fixtures.api import LiveServer, bootstrap_admin
from tests.fixtures.backends import Dropper, PostgresServer, _unique_db_name
from tests.fuzz.world import World, seed

FUZZ_BACKEND = os.environ.get("CASEFILE_FUZZ_BACKEND", "sqlite")


@pytest.fixture(scope="module")
def fuzz_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("fuzz")
    keys = {"signing_key_file": home / "signing-key.pem", "identity_key_file": home / "id-key"}
    if FUZZ_BACKEND == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, home / "casefile.db")
        yield Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{home / 'casefile.db'}",
            storage_url=f"file://{home / 'objects'}",
            **keys,  # type: ignore[arg-type]
        )
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    template_name: str = request.getfixturevalue("postgres_template")
    dropper: Dropper = request.getfixturevalue("dropper")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket: str = request.getfixturevalue("s3_bucket")
    name = _unique_db_name("fuzz")
    server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=server.url_for(name),
        storage_url=f"s3://{bucket}/fuzz-{uuid.uuid4().hex[:12]}",
        s3_endpoint_url=endpoint.url,
        **keys,  # type: ignore[arg-type]
    )
    dropper.drop(name)


@pytest.fixture(scope="module")
def world(fuzz_settings: Settings) -> Iterator[World]:
    from app.main import create_app

    admin, admin_token = bootstrap_admin(fuzz_settings)
    server = LiveServer(create_app(fuzz_settings))
    server.start()
    try:
        yield seed(server.url, admin, admin_token)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fuzz_db(fuzz_settings: Settings) -> Iterator[Engine]:
    engine = create_engine(fuzz_settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
