"""`Idempotency-Key` on creating POSTs: a retried request gets the first response, not a twin.

The record of a response is written in the same transaction as the thing it created, so either
both exist or neither does. A retry that arrives while the first request is still running gets
409: on PostgreSQL a transaction-scoped advisory lock on the key marks the request in flight (it
vanishes with the transaction, even if the process dies); on SQLite writers are serialised, so a
retry simply waits for the first to finish and then replays it.

A route whose answer depends on what the caller may see (a witness's identity, protected
texts) is marked `@replayed_as_read`: its retry is not the first answer byte for byte but its
resource read again as the caller is allowed *now* — a flag revoked since then shows no
identity — and what that read audits (an identity shown) is committed like any other read.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Protocol, TypeVar, cast

from fastapi import Depends, Header, Request
from pydantic import BaseModel
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from app.auth.dependencies import CurrentPrincipal, Principal
from app.db import DbSession, utcnow
from app.errors import (
    IdempotencyInFlight,
    IdempotencyKeyReused,
    IdempotencyNotReplayable,
    InvalidParameter,
)
from app.kit.responses import json_response
from app.models.idempotency import IdempotencyRecord

RETENTION = timedelta(hours=24)
IDEMPOTENCY_DOC = (
    "Makes a retry safe: the same key and body within 24 h returns the first response; the "
    "same key with another body is refused (422); while the first is running, 409."
)
_KEY_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


class IdempotentReplay(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the guard to answer with a remembered response instead of running the route."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent replay")
        self.response = response


class Sealer(Protocol):
    """Encrypts a stored response that holds protected data (the witness identity keyring)."""

    def seal(self, plaintext: bytes, context: str) -> tuple[str, bytes]: ...

    def open(self, key_id: str, blob: bytes, context: str) -> bytes: ...


# Reads a created resource again for a replay: (session, caller, request, resource id) →
# (the body the caller may see now, its current ETag). It may audit in the session.
ReplayRead = Callable[[Session, Principal, Request, uuid.UUID], tuple[BaseModel, str | None]]
_REPLAY_READ_MARK = "__casefile_replayed_as_read__"
F = TypeVar("F", bound=Callable[..., Any])


def replayed_as_read(reader: ReplayRead) -> Callable[[F], F]:
    """Mark a creating route whose replay re-reads its resource through `reader` (see above)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _REPLAY_READ_MARK, reader)
        return endpoint

    return mark


def _replay_reader(request: Request) -> ReplayRead | None:
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    reader: ReplayRead | None = getattr(endpoint, _REPLAY_READ_MARK, None)
    return reader


def _seal_context(user_id: uuid.UUID, key: str) -> str:
    return f"casefile-idempotent-response-v1:{user_id}:{key}"


@dataclass(frozen=True)
class IdempotencyClaim:
    user_id: uuid.UUID
    key: str
    request_sha256: str

    def remember(
        self,
        session: Session,
        body: BaseModel,
        *,
        status_code: int,
        location: str | None = None,
        etag: str | None = None,
        replayable: bool = True,
        sealer: Sealer | None = None,
    ) -> None:
        """Record the response in the caller's transaction. `replayable=False` for secrets
        that must never be stored; `sealer` for protected data, stored only encrypted."""
        stored: bytes | None = body.model_dump_json().encode() if replayable else None
        key_id = None
        if stored is not None and sealer is not None:
            key_id, stored = sealer.seal(stored, _seal_context(self.user_id, self.key))
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.user_id == self.user_id, IdempotencyRecord.key == self.key
            )
        )
        session.add(
            IdempotencyRecord(
                user_id=self.user_id,
                key=self.key,
                request_sha256=self.request_sha256,
                status_code=status_code,
                response_body=stored,
                response_key_id=key_id,
                location=location,
                etag=etag,
            )
        )


def created(
    session: Session,
    claim: IdempotencyClaim | None,
    body: BaseModel,
    *,
    location: str,
    etag: str | None = None,
    replayable: bool = True,
    sealer: Sealer | None = None,
) -> Response:
    """The 201 answer of a creating POST, remembered under its Idempotency-Key if it has one."""
    if claim is not None:
        claim.remember(
            session,
            body,
            status_code=201,
            location=location,
            etag=etag,
            replayable=replayable,
            sealer=sealer,
        )
    return json_response(body, status_code=201, location=location, etag=etag)


def fingerprint(method: str, path: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _lock_id(user_id: uuid.UUID, key: str) -> int:
    raw = hashlib.sha256(f"idempotency:{user_id}:{key}".encode()).digest()[:8]
    return int.from_bytes(raw, "big", signed=True)


def claim_or_replay(
    session: Session,
    claim: IdempotencyClaim,
    sealer: Sealer | None,
    reread: Callable[[uuid.UUID], tuple[BaseModel, str | None]] | None = None,
) -> IdempotencyClaim:
    """The claim, if the key is new; else raise the replay (or 409/422)."""
    if session.get_bind().dialect.name == "postgresql":
        locked = session.execute(
            text("SELECT pg_try_advisory_xact_lock(:id)"),
            {"id": _lock_id(claim.user_id, claim.key)},
        ).scalar_one()
        if not locked:
            raise IdempotencyInFlight()
    record = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == claim.user_id,
            IdempotencyRecord.key == claim.key,
            IdempotencyRecord.created_at > utcnow() - RETENTION,
        )
    ).first()
    if record is None:
        return claim
    if record.request_sha256 != claim.request_sha256:
        raise IdempotencyKeyReused()
    if reread is not None and record.location:
        raise _replay_as_read(session, record.status_code, record.location, reread)
    if record.response_body is None:
        raise IdempotencyNotReplayable(
            "The first request with this key created a secret that is shown only once. "
            f"It is at {record.location}; revoke it and create another if it was lost."
        )
    body = record.response_body
    if record.response_key_id is not None:
        if sealer is None:
            raise RuntimeError("a sealed idempotent response, and no keyring to open it")
        body = sealer.open(record.response_key_id, body, _seal_context(claim.user_id, claim.key))
    headers = {"Idempotent-Replayed": "true"}
    if record.location:
        headers["Location"] = record.location
    if record.etag:
        headers["ETag"] = record.etag
    raise IdempotentReplay(
        Response(
            content=body,
            status_code=record.status_code,
            media_type="application/json",
            headers=headers,
        )
    )


def _replay_as_read(
    session: Session,
    status_code: int,
    location: str,
    reread: Callable[[uuid.UUID], tuple[BaseModel, str | None]],
) -> IdempotentReplay:
    """The created resource as the caller may see it now; what the read audited is committed
    here, since the replay ends the request as an exception (whose session rolls back)."""
    body, etag = reread(uuid.UUID(location.rstrip("/").rsplit("/", 1)[-1]))
    session.commit()
    headers = {"Idempotent-Replayed": "true", "Location": location}
    if etag:
        headers["ETag"] = etag
    return IdempotentReplay(
        Response(
            content=body.model_dump_json(),
            status_code=status_code,
            media_type="application/json",
            headers=headers,
        )
    )


def valid_idempotency_key(value: str | None) -> str | None:
    """The header's key, checked: 1 to 255 visible ASCII characters."""
    if value is None:
        return None
    if not 1 <= len(value) <= 255 or not set(value) <= _KEY_CHARS:
        raise InvalidParameter("Idempotency-Key must be 1 to 255 visible ASCII characters.")
    return value


async def idempotency_guard(
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description=IDEMPOTENCY_DOC,
        ),
    ] = None,
) -> IdempotencyClaim | None:
    key = valid_idempotency_key(idempotency_key)
    if key is None:
        return None
    body = await request.body()
    claim = IdempotencyClaim(
        user_id=principal.user_id,
        key=key,
        request_sha256=fingerprint(request.method, request.url.path, body),
    )
    sealer: Sealer | None = getattr(request.app.state, "identity_keyring", None)
    reader = _replay_reader(request)
    reread = None
    if reader is not None:

        def reread(resource_id: uuid.UUID) -> tuple[BaseModel, str | None]:
            return reader(session, principal, request, resource_id)

    return await run_in_threadpool(claim_or_replay, session, claim, sealer, reread)


Idempotency = Annotated[IdempotencyClaim | None, Depends(idempotency_guard)]


async def on_idempotent_replay(_request: Request, exc: Exception) -> Response:
    return cast(IdempotentReplay, exc).response
