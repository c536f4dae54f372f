"""Reading a case costs a fixed, small number of statements: it runs on nearly every request,
and on PostgreSQL each statement is a round trip (bench/RESULTS.md: load). The token, the
case with its tags, the caller's membership and its four counts: one statement (the throttle
window is read only for unknown tokens), whatever the number of tags, members or items. These
tests count what the app's own engine executes, so that a change that brings back
per-request queries fails here.
(What that one statement must never give away: tests/auth/test_case_read_authentication.py.)
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import fastapi.dependencies.utils as fastapi_dependencies
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from starlette.requests import Request

import app.auth.dependencies as auth_dependencies
import app.db as db
from app.auth.dependencies import Principal
from app.cases import repository, service
from app.cases.counts import CASE_COUNTS
from app.models.user import GlobalRole
from tests.fixtures.api import MARTUNI, Actor, LiveServer

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SELECT 1")


@pytest.fixture
def statements(app: FastAPI, client: TestClient) -> Iterator[list[str]]:
    """Every statement the app's engine runs while the test reads, bar transaction control."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            seen.append(statement)

    engine = app.state.database.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_case_read_is_one_statement_however_much_it_holds(
    client: TestClient,
    make_user: Callable[..., Actor],
    make_case: Callable[..., dict[str, Any]],
    add_member: Callable[..., None],
    statements: list[str],
) -> None:
    lead = make_user("investigator")
    viewer = make_user("viewer")
    case = make_case(lead, tags=["missile", "school", "night", "shelter"])
    add_member(case["id"], viewer, "viewer")
    witness = client.post(
        f"/api/v1/cases/{case['id']}/witnesses", json={"full_name": "A"}, headers=lead.headers
    )
    assert witness.status_code == 201, witness.text

    for reader in (lead, viewer):
        statements.clear()
        answer = client.get(f"/api/v1/cases/{case['id']}", headers=reader.headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"] == {
            "witnesses": 1,
            "testimonies": 0,
            "site_visits": 0,
            "evidence": 0,
        }
        assert answer.json()["tags"] == ["missile", "night", "school", "shelter"]
        assert len(statements) == 1, "\n\n".join(statements)


def test_a_refused_case_read_is_the_same_one_statement(
    client: TestClient,
    make_user: Callable[..., Actor],
    make_case: Callable[..., dict[str, Any]],
    statements: list[str],
) -> None:
    lead = make_user("investigator")
    outsider = make_user("investigator")
    case = make_case(lead)
    statements.clear()
    answer = client.get(f"/api/v1/cases/{case['id']}", headers=outsider.headers)
    assert answer.status_code == 404
    assert len(statements) == 1, "\n\n".join(statements)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite keeps its deferred BEGIN
def test_on_postgresql_a_read_holds_no_transaction_and_an_audited_read_does(
    app: FastAPI,
    client: TestClient,
    make_user: Callable[..., Actor],
    make_case: Callable[..., dict[str, Any]],
) -> None:
    """A plain GET's statements run in autocommit (no BEGIN, no COMMIT round trip); a GET that
    appends audit events (`@audited_read`: a witness read) keeps its transaction."""
    lead = make_user("investigator")
    case = make_case(lead)
    witness = client.post(
        f"/api/v1/cases/{case['id']}/witnesses", json={"full_name": "A"}, headers=lead.headers
    )
    assert witness.status_code == 201, witness.text
    autocommit: list[bool] = []

    def record(conn: Any, *_: Any) -> None:
        autocommit.append(conn.connection.dbapi_connection.autocommit)

    engine = app.state.database.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(f"/api/v1/cases/{case['id']}", headers=lead.headers).status_code == 200
        plain, autocommit[:] = list(autocommit), []
        read = client.get(f"/api/v1/witnesses/{witness.json()['id']}", headers=lead.headers)
        assert read.status_code == 200, read.text
        audited = list(autocommit)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert plain
    assert all(plain)
    assert audited
    assert not any(audited)


def test_a_case_read_takes_one_thread_pool_hop(
    backend: str,
    client: TestClient,
    make_user: Callable[..., Actor],
    make_case: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each hop to the thread pool cost more than a query (bench/RESULTS.md: load): the token,
    the case access and the counts are read in authentication's one hop, the endpoint is async,
    and a read-only PostgreSQL session ends without one (SQLite still ends its BEGIN there)."""
    lead = make_user("investigator")
    case = make_case(lead)
    hops: list[str] = []

    def counting(real: Callable[..., Any]) -> Callable[..., Any]:
        async def run(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            hops.append(getattr(call, "__name__", repr(call)))
            return await real(call, *args, **kwargs)

        return run

    for module in (fastapi_dependencies, auth_dependencies, db):
        monkeypatch.setattr(module, "run_in_threadpool", counting(module.run_in_threadpool))
    answer = client.get(f"/api/v1/cases/{case['id']}", headers=lead.headers)
    assert answer.status_code == 200, answer.text
    assert hops == (["authenticate"] if backend == "postgres" else ["authenticate", "_finish"])


def test_counts_not_read_ahead_are_read_on_their_own(
    app: FastAPI,
    client: TestClient,
    make_user: Callable[..., Actor],
    make_case: Callable[..., dict[str, Any]],
) -> None:
    """`read_ahead` for an access that authentication did not read (here: no request state at
    all) reads the same columns in a statement of their own."""
    lead = make_user("investigator")
    case = make_case(lead)
    witness = client.post(
        f"/api/v1/cases/{case['id']}/witnesses", json={"full_name": "A"}, headers=lead.headers
    )
    assert witness.status_code == 201, witness.text
    principal = Principal(
        user_id=uuid.UUID(lead.id),
        name=lead.name,
        role=GlobalRole.INVESTIGATOR,
        token_id=uuid.uuid4(),
    )
    request = Request({"type": "http", "method": "GET", "app": app, "headers": []})
    with app.state.database.request_reads() as session:
        access = auth_dependencies.case_access(session, principal, uuid.UUID(case["id"]))
        counts = asyncio.run(auth_dependencies.read_ahead(request, access, session, CASE_COUNTS))
    assert counts == {"witnesses": 1, "testimonies": 0, "site_visits": 0, "evidence": 0}
    assert counts == case_counts_of(app, case["id"])


def case_counts_of(app: FastAPI, case_id: str) -> dict[str, int]:
    with app.state.database.request_reads() as session:
        return repository.case_counts(session, [uuid.UUID(case_id)])[uuid.UUID(case_id)]


def test_a_case_read_gives_its_connection_back_before_rendering(
    backend: str,
    app: FastAPI,
    client: TestClient,
    make_user: Callable[..., Actor],
    make_case: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL the read-only session holds no transaction: once authentication has read
    the token, the case and its counts, its connection goes back to the pool, and a request
    waiting its turn on the event loop to render holds none (under load the held ones
    outnumbered the pool, whose overflow connections were closed and opened again). SQLite
    keeps its read transaction, and so its connection, to the end."""
    lead = make_user("investigator")
    case = make_case(lead, tags=["missile", "school"])
    held: list[int] = []
    render = service.case_read

    def watching(*args: Any, **kwargs: Any) -> Any:
        held.append(app.state.database.engine.pool.checkedout())
        return render(*args, **kwargs)

    monkeypatch.setattr(service, "case_read", watching)
    answer = client.get(f"/api/v1/cases/{case['id']}", headers=lead.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["tags"] == ["missile", "school"]  # loaded before, readable after
    assert held == [0 if backend == "postgres" else 1]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite holds to the end
def test_concurrent_case_reads_hold_no_more_connections_than_the_pool_keeps(
    live_server: LiveServer, admin: Actor, client: TestClient
) -> None:
    """Authentication's hop runs at most POOL_SIZE at once, and a case read gives its
    connection back within it: however many clients read at once, no overflow connection is
    opened (each would be closed again when given back, and opened again for a later read: a
    new PostgreSQL backend every few reads under load)."""
    case = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()
    engine = live_server.server.config.app.state.database.engine
    peak = [0]
    lock = threading.Lock()

    def slow_token_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM api_tokens" in statement:
            with lock:
                peak[0] = max(peak[0], engine.pool.checkedout())
            time.sleep(0.02)  # others arrive meanwhile

    readers = 2 * db.POOL_SIZE + 5
    barrier = threading.Barrier(readers)
    statuses: list[int] = []

    def reader() -> None:
        with live_server.client(headers=admin.headers) as http:
            barrier.wait()
            statuses.extend(http.get(f"/api/v1/cases/{case['id']}").status_code for _ in range(4))

    event.listen(engine, "before_cursor_execute", slow_token_read)
    try:
        threads = [threading.Thread(target=reader) for _ in range(readers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        event.remove(engine, "before_cursor_execute", slow_token_read)
    assert statuses == [200] * readers * 4
    assert 2 <= peak[0] <= db.POOL_SIZE
