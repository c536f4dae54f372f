"""Appending to the audit trail, in the caller's transaction, and reading it back.

Appends to one chain are serialised by a row lock on the chain's head (PostgreSQL: SELECT …
FOR UPDATE, held to commit; SQLite: writers are serialised by BEGIN IMMEDIATE), so a chain
never forks, skips or repeats a sequence number, however many server processes append.
Different chains (cases) do not wait for each other.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.audit import canonical
from app.audit.signing import ALGORITHM, Signer
from app.db import SIGNER_INFO_KEY, utcnow
from app.kit.request_context import current_client_address, current_request_id
from app.models.audit import AuditChain, AuditCheckpoint, AuditEvent, SigningKey

# A chain's head is signed on its first event, then at least every CHECKPOINT_EVENTS events
# or CHECKPOINT_INTERVAL, whichever comes first: the unsigned tail of a chain stays short.
CHECKPOINT_EVENTS = 500
CHECKPOINT_INTERVAL = timedelta(seconds=60)


def record(
    session: Session,
    *,
    chain: str,
    action: str,
    resource_type: str,
    resource_id: object,
    actor_id: uuid.UUID | None,
    payload: Mapping[str, Any],
    case_id: uuid.UUID | None = None,
) -> AuditEvent:
    """Append one event to `chain` in the current transaction (committed with the change)."""
    head = _locked_head(session, chain)
    now = utcnow()
    seq = head.length + 1
    body = canonical.event_body(
        at=canonical.timestamp(now),
        actor_id=str(actor_id) if actor_id else None,
        action=action,
        case_id=str(case_id) if case_id else None,
        request_id=current_request_id(),
        client_address=current_client_address(),
        payload=payload,
    )
    event = AuditEvent(
        chain_id=chain,
        seq=seq,
        prev_hash=head.head_hash,
        hash=canonical.event_hash(
            chain=chain,
            seq=seq,
            prev_hash=head.head_hash,
            resource_type=resource_type,
            resource_id=str(resource_id),
            body=body,
        ),
        resource_type=resource_type,
        resource_id=str(resource_id),
        body=body.decode(),
    )
    session.add(event)
    head.length, head.head_hash, head.updated_at = seq, event.hash, now
    if _checkpoint_due(head, now):
        _sign_head(session, head, now)
    session.flush()
    return event


def checkpoint(session: Session, chain: str) -> AuditCheckpoint | None:
    """Sign the chain's current head unless it is already signed (e.g. before an export)."""
    head = session.scalars(
        select(AuditChain).where(AuditChain.chain_id == chain).with_for_update()
    ).first()
    if head is None or head.length == 0 or head.checkpoint_length == head.length:
        return None
    signed = _sign_head(session, head, utcnow())
    session.flush()
    return signed


def register_signing_key(session: Session, signer: Signer) -> None:
    """Publish the key's public half (once), so its signatures can be checked forever."""
    statement = _insert(session, SigningKey).values(
        key_id=signer.key_id,
        algorithm=ALGORITHM,
        public_key_pem=signer.public_pem,
        created_at=utcnow(),
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["key_id"]))


def _locked_head(session: Session, chain: str) -> AuditChain:
    locked = (
        select(AuditChain)
        .where(AuditChain.chain_id == chain)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    head = session.scalars(locked).first()
    if head is None:
        # First event of the chain: create its head; a concurrent creator waits on ours.
        create = _insert(session, AuditChain).values(
            chain_id=chain,
            length=0,
            head_hash=canonical.GENESIS_HASH,
            updated_at=utcnow(),
            checkpoint_length=0,
        )
        session.execute(create.on_conflict_do_nothing(index_elements=["chain_id"]))
        head = session.scalars(locked).one()
    return head


def _checkpoint_due(head: AuditChain, now: datetime) -> bool:
    return (
        head.checkpoint_at is None
        or head.length - head.checkpoint_length >= CHECKPOINT_EVENTS
        or now - head.checkpoint_at >= CHECKPOINT_INTERVAL
    )


def _sign_head(session: Session, head: AuditChain, now: datetime) -> AuditCheckpoint:
    signer: Signer | None = session.info.get(SIGNER_INFO_KEY)
    if signer is None:
        raise RuntimeError("this database session has no audit signer configured")
    signed_at = canonical.timestamp(now)
    message = canonical.checkpoint_message(
        chain=head.chain_id,
        length=head.length,
        head_hash=head.head_hash,
        signed_at=signed_at,
        key_id=signer.key_id,
    )
    checkpoint_row = AuditCheckpoint(
        chain_id=head.chain_id,
        length=head.length,
        head_hash=head.head_hash,
        signed_at=signed_at,
        key_id=signer.key_id,
        signature=signer.sign(message),
    )
    session.add(checkpoint_row)
    head.checkpoint_length, head.checkpoint_at = head.length, now
    return checkpoint_row


def _insert(session: Session, table: type[Any]) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


# -- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventView:
    """An event as the API shows it: its chain position plus its parsed body."""

    event: AuditEvent
    body: dict[str, Any]


def view(event: AuditEvent) -> EventView:
    body: dict[str, Any] = json.loads(event.body)
    return EventView(event=event, body=body)


def chain_events(session: Session, *, chain: str, after_seq: int, limit: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.chain_id == chain, AuditEvent.seq > after_seq)
            .order_by(AuditEvent.seq)
            .limit(limit)
        )
    )


def resource_events(
    session: Session, *, resource_type: str, resource_id: str, after_id: int, limit: int
) -> list[AuditEvent]:
    """Every event about one resource, whatever chain it is in (chain of custody)."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.resource_type == resource_type,
                AuditEvent.resource_id == resource_id,
                AuditEvent.id > after_id,
            )
            .order_by(AuditEvent.id)
            .limit(limit)
        )
    )


def chain_head(session: Session, chain: str) -> AuditChain | None:
    return session.get(AuditChain, chain)


def checkpoints_within(
    session: Session, *, chain: str, first_seq: int, last_seq: int
) -> list[AuditCheckpoint]:
    return list(
        session.scalars(
            select(AuditCheckpoint)
            .where(
                AuditCheckpoint.chain_id == chain,
                AuditCheckpoint.length >= first_seq,
                AuditCheckpoint.length <= last_seq,
            )
            .order_by(AuditCheckpoint.length)
        )
    )


def latest_checkpoint(session: Session, chain: str) -> AuditCheckpoint | None:
    return session.scalars(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.chain_id == chain)
        .order_by(AuditCheckpoint.length.desc())
        .limit(1)
    ).first()


def signing_keys(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at)))


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """What changed between two JSON-able snapshots, as {"a.b": {"from": x, "to": y}}."""
    result: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            result.update(changes(old, new, f"{prefix}{key}."))
        elif old != new:
            result[f"{prefix}{key}"] = {"from": old, "to": new}
    return result
