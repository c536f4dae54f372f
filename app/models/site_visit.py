"""Site-visit logs: a team at a place, what they saw, in what conditions; for one or more cases."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ColumnElement, Float, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, same_as_created, utcnow
from app.models.protected_text import ProtectedTextColumns


class SiteVisit(ProtectedTextColumns, Base):
    __tablename__ = "site_visits"
    __table_args__ = (
        CheckConstraint(
            "visited_until IS NULL OR visited_until >= visited_at", name="ends_after_start"
        ),
        CheckConstraint("latitude IS NULL OR (latitude >= -90 AND latitude <= 90)", name="lat"),
        CheckConstraint(
            "longitude IS NULL OR (longitude >= -180 AND longitude <= 180)", name="lon"
        ),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="lat_lon_together"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    visited_at: Mapped[datetime]
    visited_until: Mapped[datetime | None]
    location_name: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    purpose: Mapped[str | None] = mapped_column(Text)
    observations: Mapped[str | None] = mapped_column(Text)
    access_conditions: Mapped[str | None] = mapped_column(Text)
    security_conditions: Mapped[str | None] = mapped_column(Text)
    weather: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=same_as_created)
    version: Mapped[int] = mapped_column(default=1)
    # Observations, purpose and place as shown to those who may not identify (searched).
    search_shown: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"version_id_col": version}


class SiteVisitCase(Base):
    __tablename__ = "site_visit_cases"
    __table_args__ = (Index("ix_site_visit_cases_case", "case_id", "site_visit_id"),)

    site_visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("site_visits.id", ondelete="RESTRICT"), primary_key=True
    )
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), primary_key=True
    )
    linked_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class SiteVisitMember(Base):
    """Who was on the visit's team."""

    __tablename__ = "site_visit_team"

    site_visit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("site_visits.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True
    )


def site_visit_search_text() -> ColumnElement[Any]:
    """The text PostgreSQL searches. Migration 0003 indexes exactly this expression (GIN):
    change both together, or searches stop using the index."""
    return func.to_tsvector(
        "simple",
        func.coalesce(SiteVisit.observations, "")
        + " "
        + func.coalesce(SiteVisit.purpose, "")
        + " "
        + func.coalesce(SiteVisit.location_name, ""),
    )


def site_visit_shown_search_text() -> ColumnElement[Any]:
    """The text PostgreSQL searches for those who may not identify witnesses (migration 0010
    indexes exactly this expression)."""
    return func.to_tsvector("simple", func.coalesce(SiteVisit.search_shown, ""))


Index(
    "ix_site_visits_withheld",
    SiteVisit.id,
    postgresql_where=SiteVisit.withheld_texts.is_not(None),
    sqlite_where=SiteVisit.withheld_texts.is_not(None),
)
