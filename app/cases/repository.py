"""Queries over cases: the filtered, access-limited, keyset-paginated listing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Uuid,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, selectinload

from app.auth.dependencies import Principal
from app.cases.search import case_matches
from app.kit.pagination import PageParams, after_position, decode_cursor, next_cursor
from app.models.case import Case, CaseMember, CaseStatus, CaseTag
from app.models.evidence import EvidenceItem
from app.models.site_visit import SiteVisitCase
from app.models.testimony import Testimony
from app.models.witness import WitnessCase

LISTING = "cases"


@dataclass(frozen=True)
class BoundingBox:
    """minLon,minLat,maxLon,maxLat; min_lon > max_lon means the box crosses the antimeridian."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True)
class CaseFilters:
    statuses: list[CaseStatus] = field(default_factory=list)
    text: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    bbox: BoundingBox | None = None
    tags: list[str] = field(default_factory=list)


def list_visible_cases(
    session: Session, *, principal: Principal, filters: CaseFilters, page: PageParams
) -> tuple[list[Case], str | None]:
    query = _visible_to(principal, select(Case).options(selectinload(Case.tags)))
    query = _filtered(query, filters, session.get_bind().dialect.name)
    if page.cursor:
        query = query.where(
            after_position(Case.created_at, Case.id, decode_cursor(LISTING, page.cursor))
        )
    query = query.order_by(Case.created_at.desc(), Case.id.desc()).limit(page.limit + 1)
    rows = list(session.scalars(query))
    return rows[: page.limit], next_cursor(LISTING, rows, page.limit)


def _visible_to(principal: Principal, query: Select[Case]) -> Select[Case]:
    if principal.is_admin:
        return query
    return query.join(
        CaseMember,
        and_(CaseMember.case_id == Case.id, CaseMember.user_id == principal.user_id),
    )


def _filtered(query: Select[Case], filters: CaseFilters, dialect: str) -> Select[Case]:
    if filters.statuses:
        query = query.where(Case.status.in_([s.value for s in filters.statuses]))
    if filters.occurred_from is not None:
        query = query.where(Case.occurred_at >= filters.occurred_from)
    if filters.occurred_to is not None:
        query = query.where(Case.occurred_at <= filters.occurred_to)
    if filters.bbox is not None:
        query = query.where(*_inside(filters.bbox))
    for tag in filters.tags:
        query = query.where(exists().where(CaseTag.case_id == Case.id, CaseTag.tag == tag))
    if filters.text:
        query = query.where(case_matches(dialect, filters.text))
    return query


def _inside(box: BoundingBox) -> list[ColumnElement[bool]]:
    latitude: ColumnElement[bool] = Case.latitude.between(box.min_lat, box.max_lat)
    longitude: ColumnElement[bool]
    if box.min_lon <= box.max_lon:
        longitude = Case.longitude.between(box.min_lon, box.max_lon)
    else:
        longitude = or_(Case.longitude >= box.min_lon, Case.longitude <= box.max_lon)
    return [latitude, longitude]


COUNTED = ("witnesses", "testimonies", "site_visits", "evidence")


# Built once (their cache keys are computed once): one count per kind of thing a case holds.
_COUNT_EACH = [
    select(literal(name, String()), column, func.count())
    .where(column.in_(bindparam("case_ids", expanding=True, type_=Uuid())))
    .group_by(column)
    for name, column in (
        ("witnesses", WitnessCase.case_id),
        ("testimonies", Testimony.case_id),
        ("site_visits", SiteVisitCase.case_id),
        ("evidence", EvidenceItem.case_id),
    )
]
_COUNT_ALL = union_all(*_COUNT_EACH)


def case_counts(session: Session, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    """Witnesses, testimonies, site visits and evidence items per case, for a page of cases
    at once. Withdrawn evidence counts: it stays part of the record.

    One case (every case read): one UNION ALL, one round trip. A page of cases: one statement
    per kind, since PostgreSQL plans the UNION ALL of four 50-id lookups as a parallel query,
    and starting its workers took 12-110 ms for 1 ms of work (bench/RESULTS.md, data at scale).
    """
    counts = {c: dict.fromkeys(COUNTED, 0) for c in case_ids}
    if not case_ids:
        return counts
    statements = [_COUNT_ALL] if len(case_ids) == 1 else _COUNT_EACH
    for statement in statements:
        for name, case_id, count in session.execute(statement, {"case_ids": case_ids}):
            counts[case_id][name] = count
    return counts
