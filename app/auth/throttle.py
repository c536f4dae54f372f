"""Slowing down token guessing: failed authentications are counted per client address in a
fixed window, in the database (so every server process counts the same); past the limit, the
address gets 429 with Retry-After, and its tokens are not even looked at, right or wrong.

Only requests that present a token count: a client that forgot its token is told 401, not
throttled. A failure is recorded in its own short transaction, since the request's own is
rolled back with the 401.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import ScalarSelect, String, bindparam, case, literal, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.db import Database, dialect_insert, utcnow
from app.errors import TooManyFailedAuthentications
from app.models.user import AuthFailureWindow

MAX_FAILURES = 20
WINDOW = timedelta(minutes=5)
MAX_KEY = 100
T = TypeVar("T")


def client_key(address: str | None) -> str:
    return (address or "unknown")[:MAX_KEY]


def refuse_if_throttled(session: Session, key: str, now: datetime | None = None) -> None:
    row = session.get(AuthFailureWindow, key)
    if row is not None:
        refuse_if_over(row.failures, row.window_start, now)


def refuse_if_over(
    failures: int | None, window_start: datetime | None, now: datetime | None = None
) -> None:
    """429 if `failures` in the window starting at `window_start` reach the limit. Takes the
    window's values rather than a session so that authentication can read them in the same
    query as the token (one round trip on every request instead of two)."""
    if failures is None or window_start is None or failures < MAX_FAILURES:
        return
    now = now or utcnow()
    ends = window_start + WINDOW
    if ends > now:
        raise TooManyFailedAuthentications(max(1, math.ceil((ends - now).total_seconds())))


def _window_column(column: InstrumentedAttribute[T]) -> ScalarSelect[T]:
    return (
        select(column)
        .where(AuthFailureWindow.client_key == bindparam("throttle_key", type_=String()))
        .scalar_subquery()
    )


# The failure count and window start of the `throttle_key` parameter's address, as scalar
# subqueries (NULL if none) for authentication's query. Built once: a statement's cache key
# is computed once per statement object, and this one runs on every request.
WINDOW_FAILURES = _window_column(AuthFailureWindow.failures)
WINDOW_START = _window_column(AuthFailureWindow.window_start)


def record_failure(database: Database, key: str, now: datetime | None = None) -> None:
    """Count one failure: in the current window, or as the first of a new one."""
    now = now or utcnow()
    stale = AuthFailureWindow.window_start <= now - WINDOW
    with database.write_sessions.begin() as session:
        statement = dialect_insert(session, AuthFailureWindow).values(
            client_key=key, window_start=now, failures=1
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["client_key"],
                set_={
                    "failures": case((stale, literal(1)), else_=AuthFailureWindow.failures + 1),
                    "window_start": case(
                        (stale, literal(now, type_=AuthFailureWindow.window_start.type)),
                        else_=AuthFailureWindow.window_start,
                    ),
                },
            )
        )
