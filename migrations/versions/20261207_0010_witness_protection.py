"""Witness protection in free text (docs/witness-protection.md).

Every row with free text gains its texts as shown to those who may not identify witnesses
(`withheld_texts`), the author of each field (`text_authors`) and the rules it was computed
with (`protected_with`); searched rows gain their searched text as shown (`search_shown`), with
indexes like those of the texts as written; case tags gain their shown form. Audit events get a
place for the texts they refer to instead of holding them (`audit_texts`, append-only).

The shown texts need the witnesses' identities in clear, which a migration does not have (the
identity key is the server's): they are left NULL here ("not computed": shown to nobody but
identifiers) and computed by `casefile migrate` / `casefile serve` right after the schema
(app.protection.refresh.backfill). Authors are known: the creator of each row, and the one who
withdrew an exhibit for its withdrawal reason.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROTECTED = ("cases", "testimonies", "site_visits", "evidence_items")
SEARCHED = ("cases", "testimonies", "site_visits")
AUTHOR_FIELDS = {
    "cases": ("title", "summary", "weapon", "responsible_party", "location_name",
              "location_admin_area", "location_country", "tags"),
    "testimonies": ("place", "statement", "translation"),
    "site_visits": ("location_name", "purpose", "observations", "access_conditions",
                    "security_conditions", "weather"),
    "evidence_items": ("original_filename", "title", "description", "source", "source_url",
                       "platform", "collected_by", "collection_method", "online_identity",
                       "captured_by", "device", "extracted_metadata",
                       "declared_media_type"),
}  # fmt: skip
CREATOR = {
    "cases": "created_by_id",
    "testimonies": "created_by_id",
    "site_visits": "created_by_id",
    "evidence_items": "uploaded_by_id",
}


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite too: a table rebuilt by batch mode would lose its triggers).
    for table in PROTECTED:
        op.add_column(table, sa.Column("withheld_texts", sa.JSON(), nullable=True))
        op.add_column(table, sa.Column("text_authors", sa.JSON(), nullable=True))
        op.add_column(table, sa.Column("protected_with", sa.String(length=16), nullable=True))
        if table in SEARCHED:
            op.add_column(table, sa.Column("search_shown", sa.Text(), nullable=True))
    op.add_column("case_tags", sa.Column("shown", sa.String(length=64), nullable=True))
    op.create_index("ix_case_tags_shown", "case_tags", ["shown", "case_id"])
    _authors()
    op.create_table(
        "audit_texts",
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_audit_texts")),
    )
    _append_only("audit_texts")
    _search_indexes()
    # The few rows where something is withheld, by case: what a search reads as written.
    for table, column in (("testimonies", "case_id"), ("site_visits", "id"), ("cases", "id")):
        op.create_index(
            f"ix_{table}_withheld",
            table,
            [column],
            postgresql_where=sa.text("withheld_texts IS NOT NULL"),
            sqlite_where=sa.text("withheld_texts IS NOT NULL"),
        )


def _authors() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    build = "json_build_object" if postgresql else "json_object"
    cast = "::text" if postgresql else ""
    for table, fields in AUTHOR_FIELDS.items():
        pairs = ", ".join(f"'{f}', {CREATOR[table]}{cast}" for f in fields)
        op.execute(f"UPDATE {table} SET text_authors = {build}({pairs})")
    # A withdrawal reason was written by whoever withdrew the exhibit.
    if postgresql:
        op.execute(
            "UPDATE evidence_items SET text_authors = (text_authors::jsonb || "
            "jsonb_build_object('withdrawal_reason', withdrawn_by_id::text))::json "
            "WHERE withdrawn_by_id IS NOT NULL"
        )
    else:
        op.execute(
            "UPDATE evidence_items SET text_authors = json_set(text_authors, "
            "'$.withdrawal_reason', withdrawn_by_id) WHERE withdrawn_by_id IS NOT NULL"
        )


def _append_only(table: str) -> None:
    """As migration 0002 made the audit tables: UPDATE, DELETE (and TRUNCATE) refused."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION casefile_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION casefile_refuse_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'casefile: {operation} on {table} refused: "
            "audit records are append-only'); END"
        )


SHOWN_TEXT = "coalesce(search_shown, '')"


def _search_indexes() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # As the app's search expressions (app.models.*.*_shown_search_text, Case.search_shown).
        op.execute(
            "CREATE INDEX ix_cases_search_shown_trgm ON cases USING gin (search_shown gin_trgm_ops)"
        )
        for table in ("testimonies", "site_visits"):
            op.execute(
                f"CREATE INDEX ix_{table}_search_shown ON {table} "
                f"USING gin (to_tsvector('simple', {SHOWN_TEXT}))"
            )
        return
    for table, kind in (("testimonies", "testimony_shown"), ("site_visits", "site_visit_shown")):
        remove = f"DELETE FROM search_fts WHERE kind = '{kind}' AND ref = OLD.id;"
        add = (
            f"INSERT INTO search_fts (kind, ref, body) "
            f"VALUES ('{kind}', NEW.id, coalesce(NEW.search_shown, ''));"
        )
        op.execute(f"CREATE TRIGGER {table}_shown_insert AFTER INSERT ON {table} BEGIN {add} END")
        op.execute(
            f"CREATE TRIGGER {table}_shown_update AFTER UPDATE OF search_shown ON {table} "
            f"BEGIN {remove} {add} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_shown_delete AFTER DELETE ON {table} BEGIN {remove} END"
        )
        # Rows already there: searchable as shown once the backfill computes them.
        op.execute(f"INSERT INTO search_fts (kind, ref, body) SELECT '{kind}', id, '' FROM {table}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_cases_search_shown_trgm")
        for table in ("testimonies", "site_visits"):
            op.execute(f"DROP INDEX ix_{table}_search_shown")
        op.execute("DROP TRIGGER audit_texts_append_only ON audit_texts")
        op.execute("DROP TRIGGER audit_texts_no_truncate ON audit_texts")
    else:
        for table in ("testimonies", "site_visits"):
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_shown_{event}")
        op.execute("DELETE FROM search_fts WHERE kind IN ('testimony_shown', 'site_visit_shown')")
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_texts_no_{operation}")
    for table in ("testimonies", "site_visits", "cases"):
        op.drop_index(f"ix_{table}_withheld", table_name=table)
    op.drop_table("audit_texts")
    op.drop_index("ix_case_tags_shown", table_name="case_tags")
    # DROP COLUMN in place (SQLite 3.35+ too), for the same reason as ADD COLUMN above.
    op.execute("ALTER TABLE case_tags DROP COLUMN shown")
    for table in PROTECTED:
        columns = ["search_shown"] if table in SEARCHED else []
        for column in [*columns, "protected_with", "text_authors", "withheld_texts"]:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
