"""An index on a case's coordinates, for bounding-box filters.

Without it a box that holds few cases is a sequential scan of every case (bench.scale: a
parallel seq scan of 100,000 cases, 45 ms p95); with it, a range scan of the latitudes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 00:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_lat_lon", "cases", ["latitude", "longitude"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cases_lat_lon", table_name="cases")
