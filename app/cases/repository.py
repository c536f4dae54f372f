"""Queries over cases: the filtered, access-limited, keyset-paginated listing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
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
    union,
    union_all,
)
from sqlalchemy.orm import Session, selectinload

from app.auth.dependencies import Principal
from app.cases.counts import COUNTED_BY
from app.cases.search import Match, case_match
from app.cases.search_written import written_match
from app.kit.pagination import PageParams, after_position, decode_cursor, next_cursor
from app.models.case import Case, CaseMember, CaseStatus, CaseTag
from app.protection.fields import TAGS

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
    query = _filtered(_visible_to(principal, select(Case)), filters, principal)
    if page.cursor:
        query = query.where(
            after_position(Case.created_at, Case.id, decode_cursor(LISTING, page.cursor))
        )
    if filters.text:
        match = text_match(session.get_bind().dialect.name, principal, filters.text)
        query = _searched(session, principal, query, match, page.limit + 1)
    query = query.order_by(*NEWEST_FIRST).limit(page.limit + 1)
    rows = list(session.scalars(query.options(selectinload(Case.tags))))
    return rows[: page.limit], next_cursor(LISTING, rows, page.limit)


NEWEST_FIRST = (Case.created_at.desc(), Case.id.desc())


def text_match(dialect: str, principal: Principal, text: str) -> Match:
    """Admins search the texts as written. A member searches them as they would read them:
    as shown, and as written only where they may read them so (app.cases.search_written)."""
    if principal.is_admin:
        return case_match(dialect, text)
    shown = case_match(dialect, text, shown=True)
    written = written_match(dialect, text, principal.user_id)
    return Match(
        or_(shown.own, written.own),
        linked=[*shown.linked, *written.linked],
        linked_here=[*shown.linked_here, *written.linked_here],
    )


# Below this many testimonies and visits matching, a search gathers their cases first.
FEW_LINKED = 1000
# A member of fewer cases than this has each of them checked, testimonies and visits too.
FEW_MEMBER_CASES = 1000


def _searched(
    session: Session, principal: Principal, query: Select[Case], match: Match, wanted: int
) -> Select[Case]:
    """The listing limited to matching cases.

    PostgreSQL has an index for each way of matching (trigrams on the case's fields, full text
    on testimonies and on visits) but can use none of them for an OR of the three: a search
    matching few cases read every case (bench.scale). So:
    - a member of few cases has each of them checked, its testimonies and visits through
      their case's index: bounded by the member's cases, whatever the words (a common word
      gathered thousands of testimonies from the full-text index first);
    - for others, the testimonies and visits that match are counted first, up to FEW_LINKED.
      Few (a rare word): their cases are gathered, with the cases matching through their own
      fields from their own newest-first page of `wanted` (planned apart: for a common word
      the planner walks the newest cases and stops early, for a rare one it takes the few rows
      the trigram index gives), and only those are sorted. Many (a common word): the listing
      walks the newest (or the member's) cases and checks each, its own fields and against
      the sets, and stops early, rather than sorting a large share of all cases. (An own-field
      page there walked every case when the word was common in other cases' fields but in
      none of the member's: 330 ms for a member of 10,000.)
    Every way, the first `wanted` rows are those of the plain OR. SQLite's FTS5 gains nothing
    here."""
    linked = [Case.id.in_(ids) for ids in match.linked]
    if session.get_bind().dialect.name != "postgresql":
        return query.where(or_(match.own, *linked))
    if not principal.is_admin and not _at_least(
        session,
        # In index order: the planner expects many rows and would rather scan the table.
        select(CaseMember.case_id)
        .where(CaseMember.user_id == principal.user_id)
        .order_by(CaseMember.case_id),
        FEW_MEMBER_CASES,
    ):
        return query.where(or_(match.own, *match.linked_here))
    own_page = (
        query.with_only_columns(Case.id).where(match.own).order_by(*NEWEST_FIRST).limit(wanted)
    )
    if match.linked and not _at_least(session, union_all(*match.linked), FEW_LINKED):
        return query.where(Case.id.in_(union(own_page, *match.linked)))
    return query.where(or_(match.own, *linked))


def _at_least(
    session: Session, rows: Select[uuid.UUID] | CompoundSelect[uuid.UUID], count: int
) -> bool:
    """Whether `rows` holds `count` rows, reading no more than that many (UNION ALL streams;
    UNION would read every row to remove duplicates first)."""
    first = rows.limit(count).subquery()
    return session.execute(select(func.count()).select_from(first)).scalar_one() >= count


def _visible_to(principal: Principal, query: Select[Case]) -> Select[Case]:
    if principal.is_admin:
        return query
    return query.join(
        CaseMember,
        and_(CaseMember.case_id == Case.id, CaseMember.user_id == principal.user_id),
    )


def _filtered(query: Select[Case], filters: CaseFilters, principal: Principal) -> Select[Case]:
    """Every filter but the text search (see `_searched`)."""
    if filters.statuses:
        query = query.where(Case.status.in_([s.value for s in filters.statuses]))
    if filters.occurred_from is not None:
        query = query.where(Case.occurred_at >= filters.occurred_from)
    if filters.occurred_to is not None:
        query = query.where(Case.occurred_at <= filters.occurred_to)
    if filters.bbox is not None:
        query = query.where(*_inside(filters.bbox))
    for tag in filters.tags:
        query = query.where(_tagged(tag, principal))
    return query


def _tagged(tag: str, principal: Principal) -> ColumnElement[bool]:
    """Carries `tag` as the caller reads its tags: as written for admins, as shown for members
    (a tag naming a witness is `[withheld]`), as written where they may identify witnesses or
    set the tags themselves."""
    if principal.is_admin:
        return exists().where(CaseTag.case_id == Case.id, CaseTag.tag == tag)
    may_read_written = or_(
        CaseMember.can_identify_witnesses.is_(True),
        Case.text_authors[TAGS].as_string() == str(principal.user_id),
    )
    return or_(
        exists().where(CaseTag.case_id == Case.id, CaseTag.shown == tag),
        and_(may_read_written, exists().where(CaseTag.case_id == Case.id, CaseTag.tag == tag)),
    )


def _inside(box: BoundingBox) -> list[ColumnElement[bool]]:
    latitude: ColumnElement[bool] = Case.latitude.between(box.min_lat, box.max_lat)
    longitude: ColumnElement[bool]
    if box.min_lon <= box.max_lon:
        longitude = Case.longitude.between(box.min_lon, box.max_lon)
    else:
        longitude = or_(Case.longitude >= box.min_lon, Case.longitude <= box.max_lon)
    return [latitude, longitude]


def identified_cases(
    session: Session, principal: Principal, case_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these cases the caller may identify the witnesses of (admins: all)."""
    if principal.is_admin:
        return set(case_ids)
    if not case_ids:
        return set()
    return set(
        session.scalars(
            select(CaseMember.case_id).where(
                CaseMember.user_id == principal.user_id,
                CaseMember.case_id.in_(case_ids),
                CaseMember.can_identify_witnesses.is_(True),
            )
        )
    )


COUNTED = tuple(COUNTED_BY)


# Built once (their cache keys are computed once): one count per kind of thing a case holds.
_COUNT_EACH = [
    select(literal(name, String()), column, func.count())
    .where(column.in_(bindparam("case_ids", expanding=True, type_=Uuid())))
    .group_by(column)
    for name, column in COUNTED_BY.items()
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
