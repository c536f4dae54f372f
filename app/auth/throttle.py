"""Slowing down token guessing: requests with an unknown token are counted per client address
in a fixed window, in the database (so every server process counts the same); past the limit,
the address's unknown tokens get 429 with Retry-After instead of 401.

Only unknown tokens are throttled and counted (malformed ones too: they are guesses as well).
A token that exists always authenticates, whatever its address sent before: an attacker who
shares the victim's address (a NAT, a proxy, a spoofed header) must not be able to lock the
victim out by failing on purpose. A revoked, expired or deactivated token is not a guess (it
was issued) and gets its 401 uncounted. A failure is recorded in its own short transaction,
since the request's own is rolled back with the 401.

The bookkeeping an attacker can create is bounded: IPv6 clients are counted per /64 (one
customer's block; an attacker has 2^64 addresses in it), windows that ended are pruned, and
past MAX_KEYS tracked addresses every new one shares a single overflow window.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, literal, select
from sqlalchemy.orm import Session

from app.db import Database, dialect_insert, utcnow
from app.errors import TooManyFailedAuthentications
from app.models.user import AuthFailureWindow

MAX_FAILURES = 20
WINDOW = timedelta(minutes=5)
MAX_KEY = 100
MAX_KEYS = 10_000  # tracked addresses (rows) before new ones share OVERFLOW_KEY's window
OVERFLOW_KEY = "*overflow*"  # no address looks like this
IPV6_PREFIX = 64


def client_key(address: str | None) -> str:
    """The throttle's key for an address: itself, or its /64 for IPv6."""
    address = address or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:MAX_KEY]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)


def refuse_if_throttled(session: Session, key: str, now: datetime | None = None) -> None:
    """429 if `key`'s window (or, for a key without one, the overflow window) is over the
    limit. One round trip: both rows are read at once."""
    rows = {
        row.client_key: row
        for row in session.scalars(
            select(AuthFailureWindow).where(AuthFailureWindow.client_key.in_([key, OVERFLOW_KEY]))
        )
    }
    row = rows.get(key) or rows.get(OVERFLOW_KEY)
    if row is not None:
        refuse_if_over(row.failures, row.window_start, now)


def refuse_if_over(
    failures: int | None, window_start: datetime | None, now: datetime | None = None
) -> None:
    """429 if `failures` in the window starting at `window_start` reach the limit."""
    if failures is None or window_start is None or failures < MAX_FAILURES:
        return
    now = now or utcnow()
    ends = window_start + WINDOW
    if ends > now:
        raise TooManyFailedAuthentications(max(1, math.ceil((ends - now).total_seconds())))


def record_failure(database: Database, key: str, now: datetime | None = None) -> None:
    """Count one failure: in the current window, or as the first of a new one. A key not yet
    tracked when MAX_KEYS are (after pruning the ended windows) is counted in the overflow
    window instead."""
    now = now or utcnow()
    with database.write_sessions.begin() as session:
        if session.get(AuthFailureWindow, key) is None and _full(session, now):
            key = OVERFLOW_KEY
        _count(session, key, now)


def _full(session: Session, now: datetime) -> bool:
    """Whether MAX_KEYS addresses are tracked; if so, ended windows are pruned first. Only
    asked for a new key (its first failure), so the prune runs only while the table is full."""
    tracked = session.scalar(select(func.count()).select_from(AuthFailureWindow)) or 0
    if tracked < MAX_KEYS:
        return False
    pruned = session.execute(
        delete(AuthFailureWindow).where(AuthFailureWindow.window_start <= now - WINDOW)
    )
    return tracked - int(pruned.rowcount or 0) >= MAX_KEYS  # type: ignore[attr-defined]


def _count(session: Session, key: str, now: datetime) -> None:
    stale = AuthFailureWindow.window_start <= now - WINDOW
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
