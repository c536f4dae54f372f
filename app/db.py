"""Database engine, declarative base and the one-session-per-request dependency."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import DateTime, Dialect, Engine, MetaData, Uuid, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.kit.text import fold

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Sessions carry the audit trail's signer in their `info`, so that an append can sign a
# checkpoint in the same transaction (see app.audit.service).
SIGNER_INFO_KEY = "audit_signer"
# ... and the witness-identity keyring, so that a write can withhold protected strings from its
# texts in the same transaction (see app.protection).
KEYRING_INFO_KEY = "identity_keyring"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite stores no offset; PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT that takes the dialect's ON CONFLICT clauses (PostgreSQL and SQLite spell
    `on_conflict_do_nothing/do_update` alike; the generic INSERT has neither)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def utcnow() -> datetime:
    return datetime.now(UTC)


def same_as_created(context: Any) -> datetime:
    """Default for updated_at: exactly the row's created_at, not a microsecond later."""
    created: datetime = context.get_current_parameters()["created_at"]
    return created


def one_of(column: str, values: type[StrEnum]) -> str:
    """SQL for a CHECK constraint that keeps `column` within an enum's values."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


@dataclass(frozen=True)
class Database:
    """An engine with its session factories: reads, writes (which lock early on SQLite), and
    the read-only sessions of requests that change nothing (see `request_reads`)."""

    engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]
    # Sessions of GETs that write nothing. On PostgreSQL in autocommit: no BEGIN and no COMMIT
    # round trip, which were a third of a case read's round trips. Each statement then runs in
    # its own transaction, which changes nothing under READ COMMITTED (every statement already
    # took a fresh snapshot). Guarded: any write, lock or flush through them raises
    # ReadOnlySessionError instead of committing on the spot (see guard_read_only).
    request_reads: sessionmaker[Session]
    # True when request_reads sessions hold no transaction, so ending one does no I/O.
    request_reads_autocommit: bool = False

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


# Connections each server process keeps open to PostgreSQL (more, up to 20, are opened when
# needed and closed again when given back).
POOL_SIZE = 10


def create_database(
    url: str,
    *,
    signer: object | None = None,
    keyring: object | None = None,
    pool_size: int = POOL_SIZE,
) -> Database:
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url)
        # SQLite allows one writer: take the write lock at BEGIN so a request that read first
        # never fails to upgrade its lock (SQLITE_BUSY_SNAPSHOT) half way through.
        writer: Engine = engine.execution_options(casefile_sqlite_begin="BEGIN IMMEDIATE")
    else:
        engine = create_engine(
            url, pool_pre_ping=True, pool_size=pool_size, max_overflow=20, pool_timeout=30
        )
        event.listen(engine, "connect", _plan_every_statement_with_its_values)
        writer = engine
    autocommit = engine.dialect.name == "postgresql"
    # Shares the engine's pool: the isolation level is set on checkout and reset on return,
    # both attributes of the psycopg connection (no round trip).
    reader = engine.execution_options(
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}), **{READ_ONLY_OPTION: True}
    )
    guard_read_only_connections(reader)
    options: dict[str, Any] = {
        "expire_on_commit": False,
        "autoflush": True,
        "info": {SIGNER_INFO_KEY: signer, KEYRING_INFO_KEY: keyring},
    }
    request_reads = sessionmaker(
        reader, **{**options, "info": {**options["info"], NO_TRANSACTION_INFO_KEY: autocommit}}
    )
    guard_read_only_sessions(request_reads)
    return Database(
        engine=engine,
        read_sessions=sessionmaker(engine, **options),
        write_sessions=sessionmaker(writer, **options),
        request_reads=request_reads,
        request_reads_autocommit=autocommit,
    )


def _plan_every_statement_with_its_values(connection: Any, _record: Any) -> None:
    """psycopg prepares a statement run five times on a connection, and PostgreSQL then
    plans it once for any values (a generic plan) when that looks no costlier. A search's best
    plan depends on its words and on who asks (app/cases/repository.py); its generic plan read
    a member of 10,000 cases' search in 2.5 s instead of 50 ms (bench.protection_search).
    Planning each run costs well under a millisecond; a wrong plan, seconds."""
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    connection.commit()


READ_ONLY_OPTION = "casefile_read_only"
# True in the `info` of sessions that hold no transaction (`request_reads` on PostgreSQL).
NO_TRANSACTION_INFO_KEY = "casefile_no_transaction"


def release_connection(session: Session) -> None:
    """Give the connection of a session that holds no transaction back to the pool now, not
    when the request ends: while a request waits its turn on the event loop to render, its
    connection is idle, and under load the held ones outnumbered the pool, whose overflow
    connections were then closed and opened again (on PostgreSQL a new backend process each:
    bench/RESULTS.md, load). What the session loaded stays readable (detached, not expired);
    a later statement takes a connection again.

    Any other session is left alone: ending its transaction early would change what its
    later statements see (on SQLite, the snapshot of the request)."""
    if session.info.get(NO_TRANSACTION_INFO_KEY):
        session.close()


class ReadOnlySessionError(RuntimeError):
    """A request served read-only tried to write, lock or flush. A bug, not a client error:
    the endpoint must be marked `@audited_read` (or not be a GET)."""


# What a read-only session may send: plain SELECTs (and WITH … SELECT, SHOW; SQLite's plain
# deferred BEGIN, which takes no lock), but no row locks,
# no advisory locks (transaction-scoped ones would be released at once in autocommit), no
# sequence changes, no data-modifying CTEs.
_READ_STATEMENT = re.compile(r"\s*(SELECT|WITH|SHOW)\b|\s*BEGIN\s*$", re.IGNORECASE)
_NOT_A_READ = re.compile(
    r"\bFOR\s+(UPDATE|SHARE|NO\s+KEY|KEY)\b|\b(INSERT|UPDATE|DELETE|MERGE)\b|pg_\w*advisory|"
    r"\b(nextval|setval)\s*\(",
    re.IGNORECASE,
)


@lru_cache(maxsize=1024)
def is_read_statement(statement: str) -> bool:
    """Whether SQL text only reads. Cached: compiled statements are the same few strings."""
    return _READ_STATEMENT.match(statement) is not None and not _NOT_A_READ.search(statement)


def guard_read_only_connections(engine: Engine) -> None:
    """Refuse, before it reaches the database, any statement that is not a plain read."""

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse_writes(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        if not is_read_statement(statement):
            raise ReadOnlySessionError(f"a read-only request sent: {statement[:200]}")


def guard_read_only_sessions(factory: sessionmaker[Session]) -> None:
    """Refuse ORM changes in a read-only session at flush, and commits of anything: the
    session's writes would otherwise be lost (or, in autocommit, half applied)."""

    @event.listens_for(factory, "before_flush")
    def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
        if session.new or session.dirty or session.deleted:
            raise ReadOnlySessionError("a read-only request changed ORM objects")

    @event.listens_for(factory, "before_commit")
    def _refuse_commit(session: Session) -> None:
        raise ReadOnlySessionError("a read-only request tried to commit")


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its directory; the embedded default must just work."""
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: str) -> Engine:
    ensure_sqlite_directory(url)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a committed evidence record survives power loss, not just a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's lower() folds ASCII only; searches fold Unicode with this instead.
        dbapi_connection.create_function("casefile_fold", 1, fold, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        statement = connection.get_execution_options().get("casefile_sqlite_begin", "BEGIN")
        connection.exec_driver_sql(statement)

    return engine


_AUDITED_READ_MARK = "__casefile_audited_read__"
F = TypeVar("F", bound=Callable[..., Any])


_OWN_TRANSACTIONS_MARK = "__casefile_own_transactions__"


def audited_read(endpoint: F) -> F:
    """Mark a GET that appends audit events (sensitive reads): it runs in a write transaction."""
    setattr(endpoint, _AUDITED_READ_MARK, True)
    return endpoint


def own_transactions(endpoint: F) -> F:
    """Mark an endpoint that streams for long (uploads, re-hashing): the request's session only
    authorises (read-only, released early); the endpoint opens its own short write
    transaction at the end, so no lock is held while bytes flow."""
    setattr(endpoint, _OWN_TRANSACTIONS_MARK, True)
    return endpoint


def release_early(session: Session) -> None:
    """Give the request session's connection back before a long stream (`@own_transactions`).

    Closed, not rolled back: closing detaches its objects, keeping what was loaded, where a
    rollback expires them, and the next attribute read quietly took a connection again, idle
    in a transaction, for the whole stream (under load, uploads held the entire pool and
    other requests failed after 30 s). Reading something that was never loaded now fails
    loudly instead. (`release_connection` does the same, only for sessions that hold no
    transaction: this one ends the request's reading transaction on purpose.)"""
    session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield the request's session; commit if the endpoint succeeded, else roll back.

    Declared with scope="function" so the commit happens before the response is sent: a client
    never sees a success for a change that then failed to commit.

    An async generator: making a session does no I/O (it connects on its first query), so only
    the end, which talks to the database, goes to a worker thread. A sync generator would cost
    two thread-pool hops per request, start and end.

    A GET, HEAD or OPTIONS that is not an `@audited_read` gets a read-only session
    (`Database.request_reads`): it never commits, and refuses writes loudly. On PostgreSQL that
    session holds no transaction, so ending it does no I/O and needs no thread at all.
    """
    database: Database = request.app.state.database
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    if request.method in SAFE_METHODS and not getattr(endpoint, _AUDITED_READ_MARK, False):
        session = database.request_reads()
        try:
            yield session
        finally:
            if database.request_reads_autocommit:
                session.close()  # no transaction: returns the connection without a round trip
            else:
                await _end(session, commit=False)
        return
    own = getattr(endpoint, _OWN_TRANSACTIONS_MARK, False)
    session = (database.read_sessions if own else database.write_sessions)()
    try:
        yield session
    except BaseException:
        await _end(session, commit=False)
        raise
    await _end(session, commit=True)


async def _end(session: Session, *, commit: bool) -> None:
    """Commit or roll back in a worker thread, and wait for it even if the request is
    cancelled meanwhile: the transaction ends whole and the connection is back in the pool
    before the request's task does. A cancel scope shields from anyio's cancellation (a
    client gone during a streamed answer); asyncio's own `task.cancel()` (server shutdown)
    goes through it, so the thread's future is shielded too, and the cancellation re-raised
    once it is done."""
    with anyio.CancelScope(shield=True):
        ending = asyncio.ensure_future(run_in_threadpool(_finish, session, commit=commit))
        cancelled = False
        while True:
            try:
                await asyncio.shield(ending)
                break
            except asyncio.CancelledError:
                if ending.done():
                    raise
                cancelled = True
    if cancelled:
        raise asyncio.CancelledError


def _finish(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session, scope="function")]
