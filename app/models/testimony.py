"""Testimonies: what a witness said, in one case, in their language and in translation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, same_as_created, utcnow
from app.models.protected_text import ProtectedTextColumns


class Testimony(ProtectedTextColumns, Base):
    __tablename__ = "testimonies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    witness_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("witnesses.id", ondelete="RESTRICT"))
    recorded_at: Mapped[datetime]
    place: Mapped[str | None] = mapped_column(String(300))
    interviewer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    language: Mapped[str] = mapped_column(String(35))
    statement: Mapped[str] = mapped_column(Text)
    translation: Mapped[str | None] = mapped_column(Text)
    translation_language: Mapped[str | None] = mapped_column(String(35))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=same_as_created)
    version: Mapped[int] = mapped_column(default=1)
    # Statement and translation as shown to those who may not identify witnesses (searched).
    search_shown: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"version_id_col": version}


def testimony_search_text() -> ColumnElement[Any]:
    """The text PostgreSQL searches. Migration 0003 indexes exactly this expression (GIN):
    change both together, or searches stop using the index."""
    return func.to_tsvector(
        "simple", Testimony.statement + " " + func.coalesce(Testimony.translation, "")
    )


def testimony_shown_search_text() -> ColumnElement[Any]:
    """The text PostgreSQL searches for those who may not identify witnesses (migration 0010
    indexes exactly this expression)."""
    return func.to_tsvector("simple", func.coalesce(Testimony.search_shown, ""))


Index("ix_testimonies_case_created", Testimony.case_id, Testimony.created_at, Testimony.id)
Index("ix_testimonies_witness", Testimony.witness_id)
# The few testimonies where something is withheld, by case (what a member's search reads as
# written: app.cases.search).
Index(
    "ix_testimonies_withheld",
    Testimony.case_id,
    postgresql_where=Testimony.withheld_texts.is_not(None),
    sqlite_where=Testimony.withheld_texts.is_not(None),
)
