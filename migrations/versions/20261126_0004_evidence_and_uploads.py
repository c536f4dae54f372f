"""Evidence items (originals fingerprinted at ingest, never changed) and resumable uploads.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:30:46.918283
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("exhibit_seq", sa.Integer(), nullable=False),
        sa.Column("exhibit_number", sa.String(length=32), nullable=False),
        sa.Column("object_key", sa.String(length=512), nullable=False),
        sa.Column("object_version", sa.String(length=200), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("crc32", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=200), nullable=False),
        sa.Column("declared_media_type", sa.String(length=200), nullable=True),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("platform", sa.String(length=200), nullable=True),
        sa.Column("collected_by", sa.String(length=200), nullable=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collection_method", sa.Text(), nullable=True),
        sa.Column("online_identity", sa.String(length=300), nullable=True),
        sa.Column("captured_by", sa.String(length=200), nullable=True),
        sa.Column("device", sa.String(length=300), nullable=True),
        sa.Column("site_visit_id", sa.Uuid(), nullable=True),
        sa.Column("testimony_id", sa.Uuid(), nullable=True),
        sa.Column("extracted_metadata", sa.Text(), nullable=True),
        sa.Column("uploaded_by_id", sa.Uuid(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retained_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by_id", sa.Uuid(), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('photo', 'video', 'audio', 'document', 'other')",
            name=op.f("ck_evidence_items_kind_known"),
        ),
        sa.CheckConstraint(
            "(withdrawn_at IS NULL) = (withdrawal_reason IS NULL)",
            name=op.f("ck_evidence_items_withdrawal_has_reason"),
        ),
        sa.CheckConstraint("size >= 0", name=op.f("ck_evidence_items_size_non_negative")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_evidence_items_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_visit_id"],
            ["site_visits.id"],
            name=op.f("fk_evidence_items_site_visit_id_site_visits"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["testimony_id"],
            ["testimonies.id"],
            name=op.f("fk_evidence_items_testimony_id_testimonies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_evidence_items_uploaded_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"],
            ["users.id"],
            name=op.f("fk_evidence_items_withdrawn_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_items")),
        sa.UniqueConstraint(
            "case_id", "exhibit_number", name=op.f("uq_evidence_items_case_id_exhibit_number")
        ),
        sa.UniqueConstraint(
            "case_id", "exhibit_seq", name=op.f("uq_evidence_items_case_id_exhibit_seq")
        ),
    )
    op.create_index(
        "ix_evidence_items_case_sha256", "evidence_items", ["case_id", "sha256"], unique=False
    )
    op.create_index(
        "ix_evidence_items_case_uploaded",
        "evidence_items",
        ["case_id", "uploaded_at", "id"],
        unique=False,
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        sa.Column("storage_state", sa.Text(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "received >= 0 AND received <= length", name=op.f("ck_uploads_received_within_length")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_uploads_case_id_cases"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence_items.id"],
            name=op.f("fk_uploads_evidence_id_evidence_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_uploads_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    op.create_index("ix_uploads_expires_at", "uploads", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_uploads_expires_at", table_name="uploads")
    op.drop_table("uploads")
    op.drop_index("ix_evidence_items_case_uploaded", table_name="evidence_items")
    op.drop_index("ix_evidence_items_case_sha256", table_name="evidence_items")
    op.drop_table("evidence_items")
