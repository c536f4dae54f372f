"""Witnesses: a protected identity (encrypted), a pseudonym, consent and risk; linked to cases."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, one_of, same_as_created, utcnow


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ConsentMethod(StrEnum):
    WRITTEN = "written"
    ORAL_RECORDED = "oral_recorded"
    ORAL_WITNESSED = "oral_witnessed"
    ELECTRONIC = "electronic"
    OTHER = "other"


class Witness(Base):
    __tablename__ = "witnesses"
    __table_args__ = (
        CheckConstraint(one_of("risk_level", RiskLevel), name="risk_known"),
        CheckConstraint(
            f"consent_method IS NULL OR {one_of('consent_method', ConsentMethod)}",
            name="consent_method_known",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    pseudonym: Mapped[str] = mapped_column(String(16), unique=True)
    # AES-GCM of the identity JSON (full name, contact, home location, notes); see crypto.py.
    identity_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    identity_key_id: Mapped[str] = mapped_column(String(64))
    consent_named_publicly: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_share_identity_with_courts: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_use_testimony_in_reports: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_obtained_at: Mapped[datetime | None]
    consent_method: Mapped[str | None] = mapped_column(String(32))
    risk_level: Mapped[str] = mapped_column(String(16), default=RiskLevel.MEDIUM.value)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=same_as_created)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class WitnessCase(Base):
    """A witness is registered in one case and may be linked to further ones."""

    __tablename__ = "witness_cases"
    __table_args__ = (Index("ix_witness_cases_case_linked", "case_id", "linked_at"),)

    witness_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("witnesses.id", ondelete="RESTRICT"), primary_key=True
    )
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), primary_key=True
    )
    linked_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class Counter(Base):
    """Monotonic counters (e.g. witness pseudonyms): incremented under a row lock, never reset."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
