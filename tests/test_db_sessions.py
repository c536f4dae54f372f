"""The request session (app.db.get_session): read-only GETs cannot write, and a request that is
cancelled while its session ends still ends its transaction and gives back its connection.

Why it matters: GETs run on sessions that never commit (on PostgreSQL without a transaction at
all, bench/RESULTS.md: load). A GET that wrote without `@audited_read` would lose its write, or
in autocommit apply it half, outside any transaction and without its advisory locks: the
read-only session must refuse it loudly. And a client that disconnects while the commit runs
must not leave the connection checked out or a transaction half done.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session
from starlette.requests import Request

from app.auth.dependencies import CurrentPrincipal
from app.db import Database, DbSession, ReadOnlySessionError, audited_read, get_session
from app.models.user import AuthFailureWindow
from tests.fixtures.api import Actor

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _window(key: str) -> AuthFailureWindow:
    return AuthFailureWindow(client_key=key, window_start=NOW, failures=1)


def _stored(database: Database, key: str) -> bool:
    with database.read_sessions() as session:
        return session.get(AuthFailureWindow, key) is not None


# -- read-only sessions refuse to write --------------------------------------------------------
@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s: (s.add(_window("orm")), s.flush()), id="orm-flush"),
        pytest.param(lambda s: (s.add(_window("auto")), s.scalar(select(1))), id="autoflush"),
        pytest.param(
            lambda s: s.execute(
                insert(AuthFailureWindow).values(client_key="core", window_start=NOW, failures=1)
            ),
            id="core-insert",
        ),
        # As text: SQLite would drop FOR UPDATE from a compiled select.
        pytest.param(
            lambda s: s.execute(text("SELECT client_key FROM auth_failures FOR UPDATE")),
            id="row-lock",
        ),
        pytest.param(lambda s: s.commit(), id="commit"),
    ],
)
def test_a_read_only_request_session_refuses_writes_locks_and_commits(
    app: FastAPI, client: TestClient, write: Callable[[Session], Any]
) -> None:
    database: Database = app.state.database
    with database.request_reads() as session, pytest.raises(ReadOnlySessionError):
        write(session)
    for key in ("orm", "auto", "core"):
        assert not _stored(database, key)
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_read_only_request_session_refuses_advisory_locks(
    app: FastAPI, client: TestClient
) -> None:
    """In autocommit a transaction-scoped advisory lock would be released at once: refused
    before it reaches the database (SQLite has no such function: the text is what counts)."""
    with app.state.database.request_reads() as session, pytest.raises(ReadOnlySessionError):
        session.execute(text("SELECT pg_advisory_xact_lock(1)"))


def test_a_get_that_writes_without_audited_read_fails_loudly_and_writes_nothing(
    app: FastAPI, client: TestClient, make_user: Callable[..., Actor]
) -> None:
    """The guard on the request path itself: the same endpoint body fails as a plain GET and
    works as an `@audited_read` GET, in a write transaction."""
    reader = make_user("viewer")
    key = f"probe-{uuid.uuid4().hex[:8]}"

    def write_in_a_get(_principal: CurrentPrincipal, session: DbSession) -> dict[str, str]:
        session.add(_window(key))
        session.flush()
        return {"status": "written"}

    @audited_read
    def audited_write_in_a_get(principal: CurrentPrincipal, session: DbSession) -> dict[str, str]:
        return write_in_a_get(principal, session)

    app.add_api_route("/probe/plain-get-writes", write_in_a_get, methods=["GET"])
    app.add_api_route("/probe/audited-get-writes", audited_write_in_a_get, methods=["GET"])
    refused = TestClient(app, raise_server_exceptions=False).get(
        "/probe/plain-get-writes", headers=reader.headers
    )
    assert refused.status_code == 500
    assert not _stored(app.state.database, key)

    allowed = client.get("/probe/audited-get-writes", headers=reader.headers)
    assert allowed.status_code == 200, allowed.text
    assert _stored(app.state.database, key)


# -- cancellation while the session ends -------------------------------------------------------
def _request(app: FastAPI, method: str) -> Request:
    return Request({"type": "http", "method": method, "app": app, "headers": [], "route": None})


def _slow(session: Session, hook: str, started: threading.Event) -> None:
    """Make the session's commit or rollback take a while, so that a cancel lands inside it."""

    @event.listens_for(session, hook)
    def _hold(*_: Any) -> None:
        started.set()
        time.sleep(0.3)


async def _end_cancelled(app: FastAPI, key: str, *, fail: bool, hook: str) -> tuple[Session, bool]:
    """Open a write request's session, write, then end it (commit, or rollback after the
    endpoint failed) and cancel the request while that runs in its worker thread."""
    sessions = get_session(_request(app, "POST"))
    session = await sessions.__anext__()
    await asyncio.to_thread(lambda: (session.add(_window(key)), session.flush()))
    started = threading.Event()
    _slow(session, hook, started)

    async def end() -> None:
        if fail:
            await sessions.athrow(RuntimeError("the endpoint failed"))
        else:
            await sessions.__anext__()

    task = asyncio.create_task(end())
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        cancelled = True
    except (RuntimeError, StopAsyncIteration):
        cancelled = False
    return session, cancelled


@pytest.mark.parametrize(
    ("fail", "hook", "kept"),
    [(False, "before_commit", True), (True, "after_rollback", False)],
    ids=["cancelled-during-commit", "cancelled-during-rollback"],
)
def test_a_request_cancelled_while_its_session_ends_still_ends_it(
    app: FastAPI, client: TestClient, fail: bool, hook: str, kept: bool
) -> None:
    """The end is shielded: the commit (or rollback) finishes whole, the session is closed
    and its connection is back in the pool; then the cancellation goes on."""
    database: Database = app.state.database
    key = f"cancel-{uuid.uuid4().hex[:8]}"
    session, cancelled = asyncio.run(_end_cancelled(app, key, fail=fail, hook=hook))
    assert cancelled
    assert not session.in_transaction()
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert _stored(database, key) is kept


def test_a_cancelled_read_only_request_gives_back_its_connection(
    app: FastAPI, client: TestClient
) -> None:
    database: Database = app.state.database

    async def cancelled_read() -> Session:
        sessions = get_session(_request(app, "GET"))
        session = await sessions.__anext__()
        await asyncio.to_thread(lambda: session.scalar(select(AuthFailureWindow.client_key)))
        assert database.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        with pytest.raises(asyncio.CancelledError):
            await sessions.athrow(asyncio.CancelledError())
        return session

    session = asyncio.run(cancelled_read())
    assert not session.in_transaction()
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
