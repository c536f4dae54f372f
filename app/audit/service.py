"""Appending to the audit trail, in the caller's transaction, and reading it back.

Appends to one chain are serialised in the database, held to commit (PostgreSQL: a per-chain
advisory lock, then SELECT … FOR UPDATE on the chain's head; SQLite: writers are serialised by
BEGIN IMMEDIATE), so a chain never forks, skips or repeats a sequence number, however many
server processes append. Different chains (cases) do not wait for each other.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, text, update
from sqlalchemy.orm import Session

from app.audit import canonical
from app.audit.signing import ALGORITHM, Signer
from app.db import SIGNER_INFO_KEY, dialect_insert, utcnow
from app.kit.request_context import current_client_address, current_request_id
from app.models.audit import AuditChain, AuditCheckpoint, AuditEvent, SigningKey

PROTECTION = "protection:"  # the protection chains' prefix (canonical.protection_chain)
# A chain's head is signed on its first event, then at least every CHECKPOINT_EVENTS events
# or CHECKPOINT_INTERVAL, whichever comes first: the unsigned tail of a chain stays short.
CHECKPOINT_EVENTS = 500
CHECKPOINT_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class Head:
    """A chain's head as appends see it: where it ends, and when it was last signed."""

    chain: str
    length: int
    head_hash: str
    checkpoint_length: int
    checkpoint_at: datetime | None


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
) -> Head:
    """Append one event to `chain` in the current transaction (committed with the change);
    return the chain's new head."""
    now = utcnow()
    body = canonical.event_body(
        at=canonical.timestamp(now),
        actor_id=str(actor_id) if actor_id else None,
        action=action,
        case_id=str(case_id) if case_id else None,
        request_id=current_request_id(),
        client_address=current_client_address(),
        payload=payload,
    )
    append = _append_in_sql if session.get_bind().dialect.name == "postgresql" else _append
    head = append(session, chain, resource_type, str(resource_id), body, now)
    if head is None:  # the chain's first event: create its head, then append
        _create_head(session, chain)
        head = append(session, chain, resource_type, str(resource_id), body, now)
        if head is None:
            raise RuntimeError(f"audit chain {chain} has no head even after creating it")
    if _checkpoint_due(head, now):
        head = _sign_head(session, head, now)
    return head


def checkpoint(session: Session, chain: str) -> AuditCheckpoint | None:
    """Sign the chain's current head unless it is already signed (e.g. before an export)."""
    head = _locked_head(session, chain)
    if head is None or head.length == 0 or head.checkpoint_length == head.length:
        return None
    _sign_head(session, head, utcnow())
    return latest_checkpoint(session, chain)


def lock_chain(session: Session, chain: str) -> None:
    """Hold the chain as an append would, until the transaction ends: no change to the case
    (each appends to its chain in its own transaction) can commit meanwhile, so what is read
    now is consistent with the chain's head (a bundle's snapshot). SQLite: BEGIN IMMEDIATE
    already serialises writers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:chain))"),
            {"lock_class": _CHAIN_LOCK_CLASS, "chain": chain},
        )
    _locked_head(session, chain)


def register_signing_key(session: Session, signer: Signer) -> None:
    """Publish the key's public half (once), so its signatures can be checked forever."""
    statement = dialect_insert(session, SigningKey).values(
        key_id=signer.key_id,
        algorithm=ALGORITHM,
        public_key_pem=signer.public_pem,
        created_at=utcnow(),
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["key_id"]))


# PostgreSQL: lock the head, hash, insert the event and move the head in one round trip, so
# that the head stays locked for as short a time as possible (until the commit that follows).
# Appenders first queue on an advisory lock per chain: its waiters are woken one at a time,
# where a row lock's waiters all wake at each commit and fight for the row. FOR UPDATE then
# reads the head's latest committed version. The preimage is exactly canonical.event_hash's;
# the verifier recomputes it in Python.
_CHAIN_LOCK_CLASS = 0x0CA5
_APPEND_SQL = text(
    """
    WITH queued AS (
        SELECT pg_advisory_xact_lock(:lock_class, hashtext(:chain))
    ), head AS (
        SELECT length, head_hash FROM audit_chains, queued WHERE chain_id = :chain FOR UPDATE
    ), event AS (
        INSERT INTO audit_events (chain_id, seq, prev_hash, hash, resource_type, resource_id, body)
        SELECT :chain, head.length + 1, head.head_hash,
               encode(sha256(convert_to(
                   'casefile-audit-v1' || chr(10) || :chain || chr(10) || (head.length + 1)
                   || chr(10) || head.head_hash || chr(10) || :resource_type || chr(10)
                   || :resource_id || chr(10) || :body, 'UTF8')), 'hex'),
               :resource_type, :resource_id, :body
        FROM head
        RETURNING seq, hash
    )
    UPDATE audit_chains SET length = event.seq, head_hash = event.hash, updated_at = :now
    FROM event WHERE audit_chains.chain_id = :chain
    RETURNING audit_chains.length, audit_chains.head_hash,
              audit_chains.checkpoint_length, audit_chains.checkpoint_at
    """
)


def _append_in_sql(
    session: Session, chain: str, resource_type: str, resource_id: str, body: bytes, now: datetime
) -> Head | None:
    # Checked here because the SQL above does not: the same rules as canonical.event_hash.
    canonical.event_hash(
        chain=chain,
        seq=1,
        prev_hash=canonical.GENESIS_HASH,
        resource_type=resource_type,
        resource_id=resource_id,
        body=body,
    )
    row = session.execute(
        _APPEND_SQL,
        {
            "lock_class": _CHAIN_LOCK_CLASS,
            "chain": chain,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "body": body.decode(),
            "now": now,
        },
    ).first()
    if row is None:
        return None
    return Head(chain, row[0], row[1], row[2], _aware(row[3]))


def _append(
    session: Session, chain: str, resource_type: str, resource_id: str, body: bytes, now: datetime
) -> Head | None:
    """SQLite (one writer at a time under BEGIN IMMEDIATE): the same append in Python."""
    head = _locked_head(session, chain)
    if head is None:
        return None
    seq = head.length + 1
    event_hash = canonical.event_hash(
        chain=chain,
        seq=seq,
        prev_hash=head.head_hash,
        resource_type=resource_type,
        resource_id=resource_id,
        body=body,
    )
    session.execute(
        insert(AuditEvent).values(
            chain_id=chain,
            seq=seq,
            prev_hash=head.head_hash,
            hash=event_hash,
            resource_type=resource_type,
            resource_id=resource_id,
            body=body.decode(),
        )
    )
    session.execute(
        update(AuditChain)
        .where(AuditChain.chain_id == chain)
        .values(length=seq, head_hash=event_hash, updated_at=now)
    )
    return Head(chain, seq, event_hash, head.checkpoint_length, head.checkpoint_at)


def _locked_head(session: Session, chain: str) -> Head | None:
    row = session.execute(
        select(
            AuditChain.length,
            AuditChain.head_hash,
            AuditChain.checkpoint_length,
            AuditChain.checkpoint_at,
        )
        .where(AuditChain.chain_id == chain)
        .with_for_update()
    ).first()
    return Head(chain, row[0], row[1], row[2], row[3]) if row else None


def _create_head(session: Session, chain: str) -> None:
    # A concurrent creator of the same head waits on ours, then does nothing.
    create = dialect_insert(session, AuditChain).values(
        chain_id=chain,
        length=0,
        head_hash=canonical.GENESIS_HASH,
        updated_at=utcnow(),
        checkpoint_length=0,
    )
    session.execute(create.on_conflict_do_nothing(index_elements=["chain_id"]))


def _aware(moment: datetime | None) -> datetime | None:
    """Raw SQL bypasses the column type: make PostgreSQL's timestamptz plainly UTC."""
    return moment.astimezone(UTC) if moment is not None else None


def _checkpoint_due(head: Head, now: datetime) -> bool:
    return (
        head.checkpoint_at is None
        or head.length - head.checkpoint_length >= CHECKPOINT_EVENTS
        or now - head.checkpoint_at >= CHECKPOINT_INTERVAL
    )


def _sign_head(session: Session, head: Head, now: datetime) -> Head:
    signer: Signer | None = session.info.get(SIGNER_INFO_KEY)
    if signer is None:
        raise RuntimeError("this database session has no audit signer configured")
    signed_at = canonical.timestamp(now)
    message = canonical.checkpoint_message(
        chain=head.chain,
        length=head.length,
        head_hash=head.head_hash,
        signed_at=signed_at,
        key_id=signer.key_id,
    )
    session.execute(
        insert(AuditCheckpoint).values(
            chain_id=head.chain,
            length=head.length,
            head_hash=head.head_hash,
            signed_at=signed_at,
            key_id=signer.key_id,
            signature=signer.sign(message),
        )
    )
    session.execute(
        update(AuditChain)
        .where(AuditChain.chain_id == head.chain)
        .values(checkpoint_length=head.length, checkpoint_at=now)
    )
    return Head(head.chain, head.length, head.head_hash, head.length, now)


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
    session: Session, *, resources: Sequence[tuple[str, str]], after_id: int, limit: int
) -> list[AuditEvent]:
    """Every event about these (type, id) resources in the case and system chains, in order:
    the chain of custody of one item, with the upload that brought it in. Not the protection
    chains: where a text names a protected witness is not custody, and only identifiers may
    know it (a custody event appearing after a member's upload would answer their guess)."""
    about = or_(
        *(
            (AuditEvent.resource_type == kind) & (AuditEvent.resource_id == identifier)
            for kind, identifier in resources
        )
    )
    return list(
        session.scalars(
            select(AuditEvent)
            .where(about, AuditEvent.id > after_id, ~AuditEvent.chain_id.startswith(PROTECTION))
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
