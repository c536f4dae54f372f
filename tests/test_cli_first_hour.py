"""The `casefile` command as a new operator meets it (issue 15): its version, help on every
option, the user list, the demo users' tokens, and one data directory from any folder. Run as
real subprocesses."""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path

from fastapi.testclient import TestClient

from app import __version__
from app.cli import _parser
from app.config import Settings
from tests.fixtures.api import Actor, DatabaseProbe
from tests.fixtures.cli import casefile, environment


def _plain_environment(**values: str) -> dict[str, str]:
    """No CASEFILE_* at all, so defaults apply; `values` are added as given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEFILE_", "XDG_"))}
    env.update(values)
    return env


def test_version_is_printed_on_stdout() -> None:
    result = casefile("--version", env=_plain_environment())
    assert result.returncode == 0
    assert result.stdout == f"casefile {__version__}\n"


def _walk(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _walk(sub, f"{path} {name}")
        else:
            found.append((path, action))
    return found


def test_every_option_and_argument_has_help() -> None:
    actions = _walk(_parser(), "casefile")
    assert len(actions) > 30  # the walk reached the sub-commands
    missing = [
        f"{path} {action.dest}"
        for path, action in actions
        if not (action.help and action.help.strip() and action.help != argparse.SUPPRESS)
    ]
    assert missing == []


def test_every_command_answers_help_without_configuration() -> None:
    env = _plain_environment(CASEFILE_DATABASE_URL="nonsense://")
    for command in (["users", "list"], ["demo"], ["serve"], ["storage", "reconcile"]):
        result = casefile(*command, "--help", env=env)
        assert result.returncode == 0, command
        assert "usage: casefile" in result.stdout


def test_users_list_shows_everyone_and_no_secret(
    settings: Settings, client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    env = environment(settings)
    token = casefile("users", "create", "amira", "--role", "investigator", env=env).stdout.strip()
    gone = casefile("users", "create", "bob", "--role", "viewer", env=env).stdout.strip()
    assert gone.startswith("cf_")
    bob = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {gone}"}).json()
    current = client.get(f"/api/v1/users/{bob['id']}", headers=admin.headers)
    off = client.patch(
        f"/api/v1/users/{bob['id']}",
        json={"active": False},
        headers={**admin.headers, "If-Match": current.headers["etag"]},
    )
    assert off.status_code == 200, off.text
    before = db.snapshot()

    table = casefile("users", "list", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "id\tname\trole\tactive"
    rows = {line.split("\t")[1]: line.split("\t") for line in lines[1:]}
    assert set(rows) == {"admin", "amira", "bob"}
    assert rows["amira"][2:] == ["investigator", "yes"]
    assert rows["bob"] == [bob["id"], "bob", "viewer", "no"]
    assert rows["admin"][2:] == ["admin", "yes"]

    listed = casefile("users", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    users = json.loads(listed.stdout)
    assert {u["name"]: u["active"] for u in users} == {"admin": True, "amira": True, "bob": False}
    assert all(set(u) == {"id", "name", "role", "active"} for u in users)

    for output in (table.stdout, listed.stdout):
        assert "cf_" not in output
        assert token not in output
    assert db.snapshot() == before  # a listing records nothing


def test_demo_prints_tokens_that_work(settings: Settings, client: TestClient) -> None:
    result = casefile("demo", env=environment(settings))
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[:2] for row in rows] == [
        ["demo-investigator", "investigator"],
        ["demo-lawyer", "legal"],
        ["demo-viewer", "viewer"],
    ]
    for name, role, token in rows:
        me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert (me.json()["name"], me.json()["role"]) == (name, role)
    cases = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {rows[0][2]}"})
    assert len(cases.json()["items"]) == 2  # the lead of both demo cases


def test_demo_writes_tokens_to_a_private_new_file(
    settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    target = tmp_path / "demo-tokens.tsv"
    result = casefile("demo", "--tokens-file", str(target), env=environment(settings))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = [line.split("\t") for line in target.read_text().splitlines()]
    assert len(rows) == 3
    for _, _, token in rows:
        me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200

    written = target.read_bytes()
    again = casefile("demo", "--tokens-file", str(target), env=environment(settings))
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert "Traceback" not in again.stderr
    assert target.read_bytes() == written


def test_one_data_directory_from_any_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    env = _plain_environment(CASEFILE_DATA_DIR=str(data))
    migrated = casefile("migrate", env=env, cwd=here)
    assert migrated.returncode == 0, migrated.stderr
    assert f"new, empty database at {data / 'casefile.db'}" in migrated.stderr
    created = casefile("users", "create", "amira", "--role", "viewer", env=env, cwd=there)
    assert created.returncode == 0, created.stderr
    listed = casefile("users", "list", env=env, cwd=here)
    assert "amira" in listed.stdout
    assert sorted(p.name for p in data.iterdir()) == [
        "casefile.db",
        "identity-key",
        "signing-key.pem",
    ]
    assert list(here.iterdir()) == []
    assert list(there.iterdir()) == []


def test_the_default_data_directory_does_not_depend_on_the_folder(tmp_path: Path) -> None:
    home = tmp_path / "xdg"
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    env = _plain_environment(XDG_DATA_HOME=str(home))
    assert casefile("migrate", env=env, cwd=here).returncode == 0
    assert (
        casefile("users", "create", "amira", "--role", "viewer", env=env, cwd=there).returncode == 0
    )
    assert (home / "casefile" / "casefile.db").is_file()
    assert "amira" in casefile("users", "list", env=env, cwd=here).stdout
    assert list(here.iterdir()) == list(there.iterdir()) == []


def test_no_command_but_migrate_and_serve_starts_a_new_database(tmp_path: Path) -> None:
    data = tmp_path / "elsewhere"
    env = _plain_environment(CASEFILE_DATA_DIR=str(data))
    for command in (
        ["users", "list"],
        ["users", "create", "amira", "--role", "viewer"],
        ["demo"],
        ["audit", "verify"],
        ["audit", "checkpoint"],
        ["storage", "verify"],
    ):
        result = casefile(*command, env=env, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stderr)
        assert f"no database at {data / 'casefile.db'}" in result.stderr
        assert "CASEFILE_DATA_DIR" in result.stderr
        assert result.stdout == ""
        assert not (data / "casefile.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
