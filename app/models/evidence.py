"""Evidence items (originals in the object store, never changed) and resumable uploads."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, one_of, same_as_created, utcnow
from app.models.protected_text import ProtectedTextColumns


class EvidenceKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    OTHER = "other"


class EvidenceItem(ProtectedTextColumns, Base):
    """One original file: fingerprinted at ingest, stored immutably, withdrawn but never deleted."""

    __tablename__ = "evidence_items"
    __table_args__ = (
        UniqueConstraint("case_id", "exhibit_seq"),
        UniqueConstraint("case_id", "exhibit_number"),
        # The same bytes are one exhibit per case (checked first, enforced here).
        Index("uq_evidence_items_case_sha256", "case_id", "sha256", unique=True),
        Index("ix_evidence_items_case_uploaded", "case_id", "uploaded_at", "id"),
        CheckConstraint(one_of("kind", EvidenceKind), name="kind_known"),
        CheckConstraint("size >= 0", name="size_non_negative"),
        CheckConstraint(
            "(withdrawn_at IS NULL) = (withdrawal_reason IS NULL)", name="withdrawal_has_reason"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    exhibit_seq: Mapped[int] = mapped_column()
    exhibit_number: Mapped[str] = mapped_column(String(32))
    # The original: where it is, and what it is, as measured while it arrived.
    object_key: Mapped[str] = mapped_column(String(512))
    object_version: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    crc32: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200))  # sniffed from the content
    declared_media_type: Mapped[str | None] = mapped_column(String(200))  # as the client said
    original_filename: Mapped[str] = mapped_column(String(255))  # sanitised
    # What the investigator says about it.
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    captured_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(Text)
    # Provenance (Berkeley Protocol): collected online, or in the field.
    source_url: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str | None] = mapped_column(String(300))
    collected_by: Mapped[str | None] = mapped_column(String(300))
    collected_at: Mapped[datetime | None]
    collection_method: Mapped[str | None] = mapped_column(Text)
    online_identity: Mapped[str | None] = mapped_column(String(300))
    captured_by: Mapped[str | None] = mapped_column(String(300))
    device: Mapped[str | None] = mapped_column(String(300))
    site_visit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("site_visits.id", ondelete="RESTRICT")
    )
    testimony_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("testimonies.id", ondelete="RESTRICT")
    )
    # What the file says about itself (EXIF), kept apart from what the investigator entered.
    extracted_metadata: Mapped[str | None] = mapped_column(Text)
    uploaded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    retained_until: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Upload(Base):
    """A resumable (tus) upload in progress: how far it got, and where its bytes are."""

    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_expires_at", "expires_at"),
        CheckConstraint("received >= 0 AND received <= length", name="received_within_length"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    length: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    metadata_json: Mapped[str] = mapped_column(Text)  # the Upload-Metadata pairs, decoded
    storage_state: Mapped[str] = mapped_column(Text)  # the object store's resumable state
    lease_until: Mapped[datetime | None]  # a PATCH in progress holds the upload until then
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=same_as_created)
    expires_at: Mapped[datetime]
    evidence_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("evidence_items.id", ondelete="RESTRICT")
    )
