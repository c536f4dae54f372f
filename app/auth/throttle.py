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

from sqlalchemy import case, literal
from sqlalchemy.orm import Session

from app.db import Database, dialect_insert, utcnow
from app.errors import TooManyFailedAuthentications
from app.models.user import AuthFailureWindow

MAX_FAILURES = 20
WINDOW = timedelta(minutes=5)
MAX_KEY = 100


def client_key(address: str | None) -> str:
    return (address or "unknown")[:MAX_KEY]


def refuse_if_throttled(session: Session, key: str, now: datetime | None = None) -> None:
    row = session.get(AuthFailureWindow, key)
    now = now or utcnow()
    if row is None or row.failures < MAX_FAILURES:
        return
    ends = row.window_start + WINDOW
    if ends > now:
        raise TooManyFailedAuthentications(max(1, math.ceil((ends - now).total_seconds())))


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
