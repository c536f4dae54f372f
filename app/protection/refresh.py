"""Recomputing the shown texts of whole cases: when a witness is registered, linked or changed
(its strings are new to texts written before), after a migration, or after the rules change.

Not a change of the rows: their version, ETag and `updated_at` stay as they were, since a
version that moved would tell a viewer which texts name the new witness. Rows are read as
columns in batches and written with plain UPDATEs (which do not bump ORM versions).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any, cast

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from app.audit import service as audit
from app.audit.canonical import protection_chain
from app.db import Database
from app.models.case import Case, CaseTag
from app.models.evidence import EvidenceItem
from app.models.protected_text import ProtectedTextColumns
from app.models.site_visit import SiteVisit, SiteVisitCase
from app.models.testimony import Testimony
from app.protection.fields import FIELDS, TAGS
from app.protection.service import (
    CaseWitnesses,
    forget_witnesses,
    lock_cases,
    resource_type_of,
    witnesses_of,
)
from app.protection.shown import RULES_VERSION, compute_values

FOUND_ACTION = "text.protected_match_found"
BATCH = 500
MAX_LISTED = 1000  # resources listed in one found-event (the count is always whole)


def refresh_cases(
    session: Session, case_ids: Iterable[uuid.UUID], *, actor: uuid.UUID | None
) -> None:
    """Recompute every text of these cases (and of site visits linked to them) and record, in
    each case's protection chain, the texts that now withhold something they did not."""
    cases = sorted(set(case_ids), key=str)
    lock_cases(session, cases)
    forget_witnesses(session)
    for case_id in cases:
        newly = list(_refresh_case(session, case_id))
        if newly:
            audit.record(
                session,
                chain=protection_chain(case_id),
                action=FOUND_ACTION,
                resource_type="case",
                resource_id=case_id,
                actor_id=actor,
                case_id=case_id,
                payload={"count": len(newly), "texts": newly[:MAX_LISTED]},
            )
    _expire_loaded(session)


def _refresh_case(session: Session, case_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    found = witnesses_of(session, [case_id])
    tags = list(
        session.execute(select(CaseTag.tag, CaseTag.shown).where(CaseTag.case_id == case_id))
    )
    yield from _refresh(session, Case, Case.id == case_id, found, tags)
    yield from _refresh(session, Testimony, Testimony.case_id == case_id, found)
    yield from _refresh(session, EvidenceItem, EvidenceItem.case_id == case_id, found)
    # A visit is matched against the witnesses of every case it is linked to.
    link = aliased(SiteVisitCase)
    scopes: dict[uuid.UUID, list[uuid.UUID]] = {}
    for visit_id, linked in session.execute(
        select(SiteVisitCase.site_visit_id, link.case_id)
        .join(link, link.site_visit_id == SiteVisitCase.site_visit_id)
        .where(SiteVisitCase.case_id == case_id)
    ):
        scopes.setdefault(visit_id, []).append(linked)
    for visit_id, scope in scopes.items():
        found = witnesses_of(session, scope)
        yield from _refresh(session, SiteVisit, SiteVisit.id == visit_id, found)


def _refresh(
    session: Session,
    model: type[ProtectedTextColumns],
    where: Any,
    found: CaseWitnesses,
    tags: list[Any] | None = None,  # a case's (tag, shown) rows
) -> Iterator[dict[str, Any]]:
    """Recompute the rows of `model` selected by `where`, in batches; yield each row whose
    texts now withhold something they did not."""
    spec, table = FIELDS[model], cast(Any, model)
    columns = [table.id, table.withheld_texts, table.protected_with]
    columns += [getattr(table, f) for f in spec.texts]
    after: uuid.UUID | None = None
    while True:
        query = select(*columns).where(where).order_by(table.id).limit(BATCH)
        if after is not None:
            query = query.where(table.id > after)
        rows = session.execute(query).all()
        for row in rows:
            newly = _refresh_row(session, model, row, found, tags or [])
            if newly:
                yield {
                    "resource_type": resource_type_of(model),
                    "resource_id": str(row.id),
                    "fields": newly,
                }
        if len(rows) < BATCH:
            return
        after = rows[-1].id


def _refresh_row(
    session: Session,
    model: type[ProtectedTextColumns],
    row: Any,
    found: CaseWitnesses,
    tags: list[Any],
) -> list[str]:
    """Write the row's shown texts where they changed; the fields that now withhold more."""
    spec, table = FIELDS[model], cast(Any, model)
    values = dict(zip(spec.texts, row[3:], strict=True))
    shown = compute_values(spec, values, [t.tag for t in tags], found.matcher)
    old: dict[str, str] = row.withheld_texts or {}
    if old != shown.withheld or row.protected_with != RULES_VERSION:
        changes: dict[str, Any] = {
            "withheld_texts": shown.withheld or None,
            "protected_with": RULES_VERSION,
        }
        if spec.searched:
            changes["search_shown"] = shown.search_shown
        session.execute(
            update(table)
            .where(table.id == row.id)
            .values(**changes)
            .execution_options(synchronize_session=False)
        )
    newly = sorted(f for f, text in shown.withheld.items() if old.get(f) != text)
    if tags and _refresh_tags(session, row.id, tags, shown.tags):
        newly.append(TAGS)
    return newly


def _refresh_tags(
    session: Session, case_id: uuid.UUID, tags: list[Any], shown: dict[str, str]
) -> bool:
    """Update the tags whose shown form changed; whether one of them now withholds more."""
    newly = False
    for tag in tags:
        now = shown.get(tag.tag, tag.tag)
        if tag.shown != now:
            session.execute(
                update(CaseTag)
                .where(CaseTag.case_id == case_id, CaseTag.tag == tag.tag)
                .values(shown=now)
                .execution_options(synchronize_session=False)
            )
            newly = newly or now != tag.tag
    return newly


def _expire_loaded(session: Session) -> None:
    """Rows of these kinds already loaded in the session were changed underneath it."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, CaseTag):
            session.expire(instance, ["shown"])
        elif isinstance(instance, ProtectedTextColumns):
            searched = ["search_shown"] if FIELDS[type(instance)].searched else []
            session.expire(instance, ["withheld_texts", "protected_with", *searched])


# -- after a migration, or new rules ------------------------------------------------------------
def pending_cases(session: Session) -> list[uuid.UUID]:
    """Cases with a row whose shown texts were never computed, or with older rules."""
    stale = [
        select(Testimony.case_id).where(_stale(Testimony)),
        select(EvidenceItem.case_id).where(_stale(EvidenceItem)),
    ]
    stale.append(select(Case.id).where(_stale(Case)))
    stale.append(
        select(SiteVisitCase.case_id)
        .join(SiteVisit, SiteVisit.id == SiteVisitCase.site_visit_id)
        .where(_stale(SiteVisit))
    )
    found: set[uuid.UUID] = set()
    for query in stale:
        found.update(session.scalars(query.distinct()))
    return sorted(found, key=str)


def _stale(model: type[ProtectedTextColumns]) -> Any:
    table: Any = model
    return or_(table.protected_with.is_(None), table.protected_with != RULES_VERSION)


def refresh_all(database: Database) -> int:
    """Recompute every case, one per transaction; return how many."""
    with database.read_sessions() as session:
        cases = list(session.scalars(select(Case.id).order_by(Case.id)))
    for case_id in cases:
        with database.write_sessions.begin() as session:
            refresh_cases(session, [case_id], actor=None)
    return len(cases)


def backfill(database: Database) -> int:
    """Compute what `pending_cases` lacks, one case per transaction; return how many cases."""
    with database.read_sessions() as session:
        cases = pending_cases(session)
    for case_id in cases:
        with database.write_sessions.begin() as session:
            refresh_cases(session, [case_id], actor=None)
    return len(cases)
