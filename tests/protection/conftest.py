"""The shared world (built once per backend for the whole package), and log capture.

The walk, search and audit tests only read the world (or change fields that hold no text), so
they share one: building it is some two hundred requests, too many to repeat per test. Its
settings are made here the way tests/fixtures/backends.py makes a test's (a copy of the
migrated template database; a directory, or a prefix of the session's bucket), at package
scope. Tests that write texts of their own (guessing, refresh) use the ordinary per-test
fixtures instead.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.logs import JsonFormatter
from app.main import create_app
from tests.fixtures.api import Actor, DatabaseProbe, bootstrap_admin
from tests.fixtures.backends import BACKENDS, Dropper, PostgresServer, _unique_db_name
from tests.protection.guesses import Guesses, build_guesses
from tests.protection.world import World, build_world

# The server's loggers (its own, `app.*` modules', uvicorn's and the framework's); not the
# test's HTTP client, whose request lines name the URLs the test itself chose.
APP_LOGGERS = frozenset({"casefile", "app", "uvicorn", "fastapi", "starlette"})


class LogCapture(logging.Handler):
    """Every record at INFO or above from every logger, formatted as `casefile serve` logs
    it (JSON, with the `extra=` fields), so a name passed as a log field shows too."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in APP_LOGGERS:
            self.lines.append(self.format(record))


@contextmanager
def capturing_logs() -> Iterator[LogCapture]:
    root = logging.getLogger()
    handler, level = LogCapture(), root.level
    root.addHandler(handler)
    if level == logging.NOTSET or level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def captured_logs() -> Iterator[LogCapture]:
    with capturing_logs() as capture:
        yield capture


def _settings(
    backend: str, request: pytest.FixtureRequest, home: Path, stack: ExitStack
) -> Settings:
    """Settings of a world's own database and store, made as tests/fixtures/backends.py
    makes a test's (a copy of the migrated template; a directory or a bucket prefix)."""
    keys = {"signing_key_file": home / "signing-key.pem", "identity_key_file": home / "id-key"}
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, home / "casefile.db")
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{home / 'casefile.db'}",
            storage_url=f"file://{home / 'objects'}",
            **keys,  # type: ignore[arg-type]
        )
    server: PostgresServer = request.getfixturevalue("postgres")
    template_name: str = request.getfixturevalue("postgres_template")
    dropper: Dropper = request.getfixturevalue("dropper")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket: str = request.getfixturevalue("s3_bucket")
    name = _unique_db_name("prot")
    server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    stack.callback(dropper.drop, name)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=server.url_for(name),
        storage_url=f"s3://{bucket}/prot-{uuid.uuid4().hex[:12]}",
        s3_endpoint_url=endpoint.url,
        **keys,  # type: ignore[arg-type]
    )


@dataclass
class Shared:
    settings: Settings
    app: FastAPI
    world: World
    build_logs: list[str]  # what the app logged while the world was written
    db: DatabaseProbe
    guesses: Guesses | None = None


class Worlds:
    """Each backend's world, built the first time a test asks for it and kept to the end of
    the package. (A package-scoped fixture parametrised by backend would be torn down and
    built again each time a worker's tests switch backend, as xdist hands them out.)"""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.built: dict[str, Shared] = {}
        self.stack = ExitStack()

    def get(self, backend: str, request: pytest.FixtureRequest) -> Shared:
        if backend not in self.built:
            self.built[backend] = self._build(backend, request)
        return self.built[backend]

    def _build(self, backend: str, request: pytest.FixtureRequest) -> Shared:
        settings = _settings(backend, request, self.tmp.mktemp(f"protection-{backend}"), self.stack)
        admin = bootstrap_admin(settings)[0]
        app = create_app(settings)
        client = self.stack.enter_context(TestClient(app))
        with capturing_logs() as logs:
            world = build_world(client, admin, _user_maker(client, admin))
        probe = DatabaseProbe(settings.database_url)
        self.stack.callback(probe.engine.dispose)
        return Shared(settings, app, world, logs.lines, probe)


@pytest.fixture(scope="package")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worlds]:
    built = Worlds(tmp_path_factory)
    with built.stack:
        yield built


@pytest.fixture(params=BACKENDS)
def shared(request: pytest.FixtureRequest, worlds: Worlds) -> Shared:
    return worlds.get(request.param, request)


@pytest.fixture
def guesses(shared: Shared) -> Guesses:
    """The guessing scenario, in a case of its own beside the shared world (built once)."""
    if shared.guesses is None:
        world = shared.world
        maker = _user_maker(world.client, world.admin)
        shared.guesses = build_guesses(world.client, world.admin, maker)
    return shared.guesses


def _user_maker(client: TestClient, admin: Actor):  # type: ignore[no-untyped-def]
    def make(role: str) -> Actor:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        user = client.post(
            "/api/v1/users", json={"name": name, "role": role}, headers=admin.headers
        )
        assert user.status_code == 201, user.text
        token = client.post(
            f"/api/v1/users/{user.json()['id']}/tokens", json={}, headers=admin.headers
        )
        assert token.status_code == 201, token.text
        return Actor(id=user.json()["id"], name=name, role=role, token=token.json()["token"])

    return make
