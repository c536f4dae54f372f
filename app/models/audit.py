"""The audit trail: hash-chained events, chain heads, signed checkpoints, published keys.

Events, checkpoints and keys are append-only; database triggers refuse UPDATE, DELETE and
TRUNCATE on them (migration 0002). Only a chain's head row is ever updated, under a row lock,
and it is itself checked against the events by the verifier.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow

# Chain ids are compared bytewise in PostgreSQL too, so that every ordered scan of chains
# agrees with Python's string order (the verifier merges several ordered streams).
ChainId = String(80).with_variant(String(80, collation="C"), "postgresql")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("chain_id", "seq"),
        Index("ix_audit_events_resource", "resource_type", "resource_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    chain_id: Mapped[str] = mapped_column(ChainId)
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(100))
    resource_id: Mapped[str] = mapped_column(String(100))
    # RFC 8785 canonical JSON: at, actor_id, action, case_id, request_id, client_address, payload.
    body: Mapped[str] = mapped_column(Text)


class AuditChain(Base):
    """The head of one chain: its length and last hash. Locked to append."""

    __tablename__ = "audit_chains"

    chain_id: Mapped[str] = mapped_column(ChainId, primary_key=True)
    length: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    checkpoint_length: Mapped[int] = mapped_column(BigInteger, default=0)
    checkpoint_at: Mapped[datetime | None]


class SigningKey(Base):
    """Every public key that has signed checkpoints, so that old signatures stay verifiable."""

    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"
    __table_args__ = (UniqueConstraint("chain_id", "length"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    chain_id: Mapped[str] = mapped_column(ChainId)
    length: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[str] = mapped_column(String(40))  # exactly as signed
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.key_id", ondelete="RESTRICT"))
    signature: Mapped[str] = mapped_column(String(200))


class AuditText(Base):
    """A free text an audit event refers to instead of holding it (`{"$text": ref}`), so that
    what the event says can be shown through witness protection without breaking its hash.
    `ref` = SHA-256 of the salt's bytes and the text's UTF-8, in hex: the event binds the text,
    and the salt keeps a reader who has the event alone from testing guesses. Append-only."""

    __tablename__ = "audit_texts"

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    salt: Mapped[str] = mapped_column(String(32))  # 16 random bytes, hex
    text: Mapped[str] = mapped_column(Text)
