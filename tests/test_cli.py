"""The `casefile` command, run as a real subprocess as an operator would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.migrate import schema_is_current
from tests.fixtures.api import DatabaseProbe
from tests.fixtures.cli import CASEFILE, casefile, environment
from tests.fixtures.seaweed import free_port


def test_users_create_prints_the_token_alone(
    settings: Settings, client: TestClient, db: DatabaseProbe
) -> None:
    result = casefile(
        "users", "create", "Amira", "--role", "investigator", env=environment(settings)
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout
    assert token.endswith("\n")
    token = token.strip()
    assert "\n" not in token
    assert " " not in token
    assert token.startswith("cf_")
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["name"] == "amira"
    assert me.json()["role"] == "investigator"
    assert token not in db.all_text()


def test_users_create_refuses_bad_input_and_changes_nothing(
    settings: Settings, db: DatabaseProbe
) -> None:
    env = environment(settings)
    casefile("users", "create", "amira", "--role", "viewer", env=env)
    before = db.snapshot()
    unknown_role = casefile("users", "create", "bob", "--role", "superuser", env=env)
    assert unknown_role.returncode == 2
    assert "invalid choice" in unknown_role.stderr
    duplicate = casefile("users", "create", "AMIRA", "--role", "legal", env=env)
    assert duplicate.returncode == 1
    assert duplicate.stdout == ""
    assert "already exists" in duplicate.stderr
    bad_name = casefile("users", "create", "../etc", "--role", "legal", env=env)
    assert bad_name.returncode == 1
    assert bad_name.stdout == ""
    assert db.snapshot() == before


def test_invalid_configuration_is_named(settings: Settings) -> None:
    result = casefile(
        "migrate", env=environment(settings, CASEFILE_DATABASE_URL="mysql://root@localhost/x")
    )
    assert result.returncode == 2
    assert "CASEFILE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_then_users_create_on_a_fresh_database(tmp_path: Path, settings: Settings) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'casefile.db'}"
    env = environment(settings, CASEFILE_DATABASE_URL=url)
    before_migrate = casefile("users", "create", "amira", "--role", "viewer", env=env)
    assert before_migrate.returncode == 1
    assert "casefile migrate" in before_migrate.stderr
    assert casefile("migrate", env=env).returncode == 0
    from sqlalchemy import create_engine

    engine = create_engine(url)
    assert schema_is_current(engine)
    engine.dispose()
    assert casefile("users", "create", "amira", "--role", "viewer", env=env).returncode == 0


def test_unreachable_database_is_a_clear_error(settings: Settings) -> None:
    env = environment(
        settings,
        CASEFILE_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/x?connect_timeout=2",
    )
    result = casefile("migrate", env=env)
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_serve_refuses_to_start_without_its_bucket(settings: Settings) -> None:
    env = environment(settings, CASEFILE_STORAGE_URL="s3://no-such-bucket-for-casefile/evidence")
    result = casefile("serve", "--port", str(free_port()), env=env)
    assert result.returncode == 1
    assert "no-such-bucket-for-casefile" in result.stderr
    assert "does not exist" in result.stderr
    assert "Admin token" not in result.stdout


def test_serve_bootstraps_an_admin_once(settings: Settings, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve' / 'casefile.db'}"
    env = environment(settings, CASEFILE_DATABASE_URL=url)
    port = free_port()
    first = subprocess.Popen(  # noqa: S603
        [CASEFILE, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        token = _read_admin_token(first)
        _wait_ready(f"http://127.0.0.1:{port}")
        me = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.json()["role"] == "admin"
    finally:
        first.terminate()
        first.wait(timeout=30)
    second = subprocess.Popen(  # noqa: S603
        [CASEFILE, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert second.stdout is not None
        line = second.stdout.readline()
        assert line.startswith("Casefile is serving at"), line  # no second admin token
    finally:
        second.terminate()
        second.wait(timeout=30)


def test_serve_with_two_worker_processes(settings: Settings, tmp_path: Path) -> None:
    """Both worker processes start and serve. Their start lines are awaited (on a loaded CI
    machine the second may come up after the first has answered every request)."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as errors_file:
        server = subprocess.Popen(  # noqa: S603
            [CASEFILE, "serve", "--port", str(port), "--workers", "2"],
            env=environment(settings),
            stdout=subprocess.PIPE,
            stderr=errors_file,
            text=True,
            start_new_session=True,
        )

    def started() -> set[str]:
        return {line for line in log.read_text().splitlines() if "Started server process" in line}

    try:
        token = _read_admin_token(server)
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base)
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(6):  # spread over both workers by the kernel's accept queue
            assert httpx.get(f"{base}/api/v1/users/me", headers=headers).status_code == 200
        deadline = time.monotonic() + 60
        while len(started()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)
    assert len(started()) == 2, log.read_text()[-2000:]


def _read_admin_token(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("Admin token: "), line
    return line.split(": ", 1)[1].strip()


def _wait_ready(base_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base_url} never became ready")
