"""Authentication decided before a request body is read.

FastAPI reads (and our routes bound and time) a JSON body before it solves any dependency,
the app-wide `authenticate` included: a client with no token or a guessed one could make the
server receive a megabyte, or hold a connection for the whole stall timeout, before hearing
its 401 (or 429). Routes that read a body call this first; `authenticate` then finds the
principal on the request and does not look again.
"""

from __future__ import annotations

import anyio
from anyio.to_thread import run_sync
from fastapi import Request

from app.auth.dependencies import authenticate
from app.db import POOL_SIZE, Database

_limiter: anyio.CapacityLimiter | None = None


def _hop_limiter() -> anyio.CapacityLimiter:
    """No more of these hops at once than the pool keeps connections (as for `authenticate`'s
    own hop, app.main): past that they wait on the event loop, not for a connection."""
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(POOL_SIZE)
    return _limiter


async def authenticate_before_body(request: Request) -> None:
    """401/429 now, or the principal left on the request for `authenticate`."""
    await run_sync(_authenticate, request, limiter=_hop_limiter())


def _authenticate(request: Request) -> None:
    database: Database = request.app.state.database
    with database.read_sessions() as session:
        authenticate(request, session)
