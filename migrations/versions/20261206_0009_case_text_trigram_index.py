"""A trigram index over a case's searched fields, for text search in PostgreSQL.

A search is a substring match (`ILIKE '%word%'`) on seven case fields. No B-tree serves that,
so a search matching few cases read every case newest-first (bench.scale: 100,000 cases, p95
242-282 ms). pg_trgm's GIN index answers `ILIKE` with a bitmap of candidate rows. One index over
the fields joined (the app's `case_search_text()`, which must stay this exact expression) is
smaller and cheaper to keep than seven. SQLite has no such index; it is not the scale backend.

pg_trgm ships with PostgreSQL (contrib) and is a trusted extension (PostgreSQL 13+): the
database owner may create it. Downgrading drops the index but leaves the extension, which
other software in the same database may use.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIELDS = (
    "title",
    "summary",
    "location_name",
    "location_admin_area",
    "location_country",
    "weapon",
    "responsible_party",
)
CASE_TEXT = " || ' ' || ".join(f"coalesce({field}, '')" for field in FIELDS)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(f"CREATE INDEX ix_cases_search_trgm ON cases USING gin (({CASE_TEXT}) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_cases_search_trgm")
