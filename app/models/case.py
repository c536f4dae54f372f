"""A case: one strike on civilians under investigation, and who may work on it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, one_of, same_as_created, utcnow
from app.models.protected_text import ProtectedTextColumns


class CaseStatus(StrEnum):
    OPEN = "open"
    UNDER_REVIEW = "under_review"
    REFERRED = "referred"
    CLOSED = "closed"


class CaseRole(StrEnum):
    LEAD = "lead"
    INVESTIGATOR = "investigator"
    LEGAL = "legal"
    VIEWER = "viewer"


class Case(ProtectedTextColumns, Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(one_of("status", CaseStatus), name="status_known"),
        CheckConstraint("latitude IS NULL OR (latitude >= -90 AND latitude <= 90)", name="lat"),
        CheckConstraint(
            "longitude IS NULL OR (longitude >= -180 AND longitude <= 180)", name="lon"
        ),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="lat_lon_together"),
        CheckConstraint("killed IS NULL OR killed >= 0", name="killed_non_negative"),
        CheckConstraint("injured IS NULL OR injured >= 0", name="injured_non_negative"),
        CheckConstraint(
            "children_killed IS NULL OR (killed IS NOT NULL AND children_killed >= 0 "
            "AND children_killed <= killed)",
            name="children_killed_bounded",
        ),
        CheckConstraint(
            "children_injured IS NULL OR (injured IS NOT NULL AND children_injured >= 0 "
            "AND children_injured <= injured)",
            name="children_injured_bounded",
        ),
        # Keyset pagination: newest first.
        Index("ix_cases_created_id", "created_at", "id"),
        Index("ix_cases_occurred_at", "occurred_at"),
        Index("ix_cases_status", "status"),
        # Bounding-box filters (migration 0008).
        Index("ix_cases_lat_lon", "latitude", "longitude"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default=CaseStatus.OPEN.value)
    occurred_at: Mapped[datetime]
    location_name: Mapped[str | None] = mapped_column(String(200))
    location_country: Mapped[str | None] = mapped_column(String(200))
    location_admin_area: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    weapon: Mapped[str | None] = mapped_column(String(300))
    responsible_party: Mapped[str | None] = mapped_column(String(300))
    killed: Mapped[int | None] = mapped_column(Integer)
    injured: Mapped[int | None] = mapped_column(Integer)
    children_killed: Mapped[int | None] = mapped_column(Integer)
    children_injured: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=same_as_created)
    version: Mapped[int] = mapped_column(default=1)
    # The searched fields as shown to those who may not identify witnesses, each apart
    # (SHOWN_SEPARATOR between them: a match never spans two fields); trigram-indexed.
    search_shown: Mapped[str | None] = mapped_column(Text)

    tags: Mapped[list[CaseTag]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CaseTag.tag"
    )

    __mapper_args__ = {"version_id_col": version}


# A case's own searchable fields, in the order migration 0009 indexes them.
SEARCHED_FIELDS = (
    "title",
    "summary",
    "location_name",
    "location_admin_area",
    "location_country",
    "weapon",
    "responsible_party",
)


def case_search_text() -> ColumnElement[str]:
    """All of a case's searched fields in one text, which PostgreSQL indexes with trigrams
    (migration 0009, `ix_cases_search_trgm`) so that `ILIKE '%word%'` need not read every case.
    The planner only uses that index for exactly this expression: change both together. The
    constants are literal SQL, not bound parameters, so that a prepared (generic) plan still
    matches the index."""
    space: ColumnElement[str] = literal_column("' '", Text)
    first, *rest = (
        func.coalesce(getattr(Case, name), literal_column("''"), type_=Text)
        for name in SEARCHED_FIELDS
    )
    joined: ColumnElement[str] = first
    for part in rest:
        joined = joined.op("||", return_type=Text)(space).op("||", return_type=Text)(part)
    return joined


Index(
    "ix_cases_withheld",
    Case.id,
    postgresql_where=Case.withheld_texts.is_not(None),
    sqlite_where=Case.withheld_texts.is_not(None),
)


class CaseTag(Base):
    __tablename__ = "case_tags"
    __table_args__ = (
        Index("ix_case_tags_tag", "tag", "case_id"),
        Index("ix_case_tags_shown", "shown", "case_id"),  # tag filters of members
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    shown: Mapped[str | None] = mapped_column(String(64))  # as shown (app/protection)


class CaseMember(Base):
    __tablename__ = "case_members"
    __table_args__ = (
        CheckConstraint(one_of("role", CaseRole), name="role_known"),
        Index("ix_case_members_user_case", "user_id", "case_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    can_identify_witnesses: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=same_as_created)
