"""Witnesses (identity encrypted), testimonies, site visits, and full-text search over them.

Search: PostgreSQL GIN expression indexes (the expressions are the models'
search_text functions); SQLite an FTS5 table kept up to date by triggers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:40:19.839171
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "site_visits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visited_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("location_name", sa.String(length=200), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("observations", sa.Text(), nullable=True),
        sa.Column("access_conditions", sa.Text(), nullable=True),
        sa.Column("security_conditions", sa.Text(), nullable=True),
        sa.Column("weather", sa.String(length=300), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL)", name=op.f("ck_site_visits_lat_lon_together")
        ),
        sa.CheckConstraint(
            "latitude IS NULL OR (latitude >= -90 AND latitude <= 90)",
            name=op.f("ck_site_visits_lat"),
        ),
        sa.CheckConstraint(
            "longitude IS NULL OR (longitude >= -180 AND longitude <= 180)",
            name=op.f("ck_site_visits_lon"),
        ),
        sa.CheckConstraint(
            "visited_until IS NULL OR visited_until >= visited_at",
            name=op.f("ck_site_visits_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_site_visits_created_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_visits")),
    )
    op.create_table(
        "witnesses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pseudonym", sa.String(length=16), nullable=False),
        sa.Column("identity_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("identity_key_id", sa.String(length=64), nullable=False),
        sa.Column("consent_named_publicly", sa.Boolean(), nullable=False),
        sa.Column("consent_share_identity_with_courts", sa.Boolean(), nullable=False),
        sa.Column("consent_use_testimony_in_reports", sa.Boolean(), nullable=False),
        sa.Column("consent_obtained_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_method", sa.String(length=32), nullable=True),
        sa.Column("risk_level", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "consent_method IS NULL OR consent_method IN ('written', 'oral_recorded', 'oral_witnessed', 'electronic', 'other')",
            name=op.f("ck_witnesses_consent_method_known"),
        ),
        sa.CheckConstraint(
            "risk_level IN ('low', 'medium', 'high', 'critical')",
            name=op.f("ck_witnesses_risk_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_witnesses_created_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_witnesses")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_witnesses_pseudonym")),
    )
    op.create_table(
        "site_visit_cases",
        sa.Column("site_visit_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("linked_by_id", sa.Uuid(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_site_visit_cases_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["linked_by_id"],
            ["users.id"],
            name=op.f("fk_site_visit_cases_linked_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_visit_id"],
            ["site_visits.id"],
            name=op.f("fk_site_visit_cases_site_visit_id_site_visits"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("site_visit_id", "case_id", name=op.f("pk_site_visit_cases")),
    )
    op.create_index(
        "ix_site_visit_cases_case", "site_visit_cases", ["case_id", "site_visit_id"], unique=False
    )
    op.create_table(
        "site_visit_team",
        sa.Column("site_visit_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_visit_id"],
            ["site_visits.id"],
            name=op.f("fk_site_visit_team_site_visit_id_site_visits"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_site_visit_team_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("site_visit_id", "user_id", name=op.f("pk_site_visit_team")),
    )
    op.create_table(
        "testimonies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("witness_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("interviewer_id", sa.Uuid(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("translation", sa.Text(), nullable=True),
        sa.Column("translation_language", sa.String(length=35), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_testimonies_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_testimonies_created_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["interviewer_id"],
            ["users.id"],
            name=op.f("fk_testimonies_interviewer_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["witness_id"],
            ["witnesses.id"],
            name=op.f("fk_testimonies_witness_id_witnesses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_testimonies")),
    )
    op.create_index(
        "ix_testimonies_case_created", "testimonies", ["case_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_testimonies_witness", "testimonies", ["witness_id"], unique=False)
    op.create_table(
        "witness_cases",
        sa.Column("witness_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("linked_by_id", sa.Uuid(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_witness_cases_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["linked_by_id"],
            ["users.id"],
            name=op.f("fk_witness_cases_linked_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["witness_id"],
            ["witnesses.id"],
            name=op.f("fk_witness_cases_witness_id_witnesses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("witness_id", "case_id", name=op.f("pk_witness_cases")),
    )
    op.create_index(
        "ix_witness_cases_case_linked", "witness_cases", ["case_id", "linked_at"], unique=False
    )
    with op.batch_alter_table("idempotency_records") as batch:
        batch.add_column(sa.Column("response_key_id", sa.String(length=64), nullable=True))
    _create_search()


def downgrade() -> None:
    _drop_search()
    with op.batch_alter_table("idempotency_records") as batch:
        batch.drop_column("response_key_id")
    op.drop_index("ix_witness_cases_case_linked", table_name="witness_cases")
    op.drop_table("witness_cases")
    op.drop_index("ix_testimonies_witness", table_name="testimonies")
    op.drop_index("ix_testimonies_case_created", table_name="testimonies")
    op.drop_table("testimonies")
    op.drop_table("site_visit_team")
    op.drop_index("ix_site_visit_cases_case", table_name="site_visit_cases")
    op.drop_table("site_visit_cases")
    op.drop_table("witnesses")
    op.drop_table("site_visits")
    op.drop_table("counters")


# What is searched: testimony statement and translation; visit observations, purpose, place.
TESTIMONY_TEXT = "statement || ' ' || coalesce(translation, '')"
VISIT_TEXT = "coalesce(observations, '') || ' ' || coalesce(purpose, '') || ' ' || coalesce(location_name, '')"


def _create_search() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX ix_testimonies_search ON testimonies "
            f"USING gin (to_tsvector('simple', {TESTIMONY_TEXT}))"
        )
        op.execute(
            f"CREATE INDEX ix_site_visits_search ON site_visits "
            f"USING gin (to_tsvector('simple', {VISIT_TEXT}))"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5("
        "kind UNINDEXED, ref UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2')"
    )
    for table, kind, new_body in (
        ("testimonies", "testimony", "NEW.statement || ' ' || coalesce(NEW.translation, '')"),
        (
            "site_visits",
            "site_visit",
            "coalesce(NEW.observations, '') || ' ' || coalesce(NEW.purpose, '') || ' ' "
            "|| coalesce(NEW.location_name, '')",
        ),
    ):
        remove = f"DELETE FROM search_fts WHERE kind = '{kind}' AND ref = OLD.id;"
        add = f"INSERT INTO search_fts (kind, ref, body) VALUES ('{kind}', NEW.id, {new_body});"
        op.execute(f"CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} BEGIN {add} END")
        op.execute(
            f"CREATE TRIGGER {table}_search_update AFTER UPDATE ON {table} BEGIN {remove} {add} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} BEGIN {remove} END"
        )


def _drop_search() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_site_visits_search")
        op.execute("DROP INDEX ix_testimonies_search")
        return
    for table in ("testimonies", "site_visits"):
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_search_{event}")
    op.execute("DROP TABLE search_fts")
