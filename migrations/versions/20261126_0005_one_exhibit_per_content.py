"""The same bytes are one exhibit per case: (case_id, sha256) becomes unique.

The duplicate check before the insert is a read; two uploads of the same bytes at the same
moment could both pass it. The unique index makes the database the judge.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 13:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_evidence_items_case_sha256", table_name="evidence_items")
    op.create_index(
        "uq_evidence_items_case_sha256", "evidence_items", ["case_id", "sha256"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_evidence_items_case_sha256", table_name="evidence_items")
    op.create_index(
        "ix_evidence_items_case_sha256", "evidence_items", ["case_id", "sha256"], unique=False
    )
