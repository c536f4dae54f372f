"""Provenance short texts hold the 300 characters the API accepts.

`platform`, `collected_by` and `captured_by` were VARCHAR(200) while the API validates them
as up to 300 characters: PostgreSQL refused 201 to 300 (SQLite never enforces a length).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 13:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = ("platform", "collected_by", "captured_by")


def upgrade() -> None:
    with op.batch_alter_table("evidence_items") as batch:
        for column in WIDENED:
            batch.alter_column(
                column,
                existing_type=sa.String(length=200),
                type_=sa.String(length=300),
                existing_nullable=True,
            )


def downgrade() -> None:
    with op.batch_alter_table("evidence_items") as batch:
        for column in WIDENED:
            batch.alter_column(
                column,
                existing_type=sa.String(length=300),
                type_=sa.String(length=200),
                existing_nullable=True,
            )
