"""A member's search, where texts as written differ from texts as shown.

A member searches the texts as they would read them (app/protection): as shown (protected
strings `[withheld]`, in `search_shown` with its own indexes) everywhere, and as written only
where they may read them so — cases where they may identify witnesses, and fields they wrote
themselves. The second part only ever reads the few rows where something is withheld (partial
indexes `ix_*_withheld`), whatever the words: a word found only inside a protected string costs
a caller who may not identify exactly what a word found nowhere costs.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from app.cases.search import Match, tsquery, words
from app.kit.text import fold
from app.models.case import SEARCHED_FIELDS, Case, CaseMember
from app.models.site_visit import SiteVisit, SiteVisitCase
from app.models.testimony import Testimony

TESTIMONY_SEARCHED = ("statement", "translation")
VISIT_SEARCHED = ("observations", "purpose", "location_name")


def written_match(dialect: str, query: str, user_id: uuid.UUID) -> Match:
    """Ways a member's case matches through texts as written. `CaseMember` is the listing's
    own join (the member's row for the case at hand)."""
    me = str(user_id)
    identifies: ColumnElement[bool] = CaseMember.can_identify_witnesses.is_(True)
    own = and_(
        Case.withheld_texts.is_not(None),
        or_(
            *(
                and_(or_(identifies, _wrote(Case, f, me)), _contains(dialect, Case, f, query))
                for f in SEARCHED_FIELDS
            )
        ),
    )
    terms = words(query)
    if not terms:
        return Match(own, [], [])
    member = aliased(CaseMember)
    testimonies = select(Testimony.case_id).join(
        member, and_(member.case_id == Testimony.case_id, member.user_id == user_id)
    )
    visit_identified = _identifies_every_case(user_id)
    return Match(
        own,
        linked=[
            testimonies.where(
                _testimony(dialect, terms, me, member.can_identify_witnesses.is_(True))
            ),
            select(SiteVisitCase.case_id)
            .join(SiteVisit, SiteVisit.id == SiteVisitCase.site_visit_id)
            .where(_visit(dialect, terms, me, visit_identified)),
        ],
        linked_here=[
            exists().where(
                Testimony.case_id == Case.id, _testimony(dialect, terms, me, identifies)
            ),
            exists().where(
                SiteVisitCase.case_id == Case.id,
                SiteVisitCase.site_visit_id == SiteVisit.id,
                _visit(dialect, terms, me, visit_identified),
            ),
        ],
    )


def _testimony(
    dialect: str, terms: list[str], me: str, identifies: ColumnElement[bool]
) -> ColumnElement[bool]:
    return _row_matches(Testimony, TESTIMONY_SEARCHED, dialect, terms, me, identifies)


def _visit(
    dialect: str, terms: list[str], me: str, identifies: ColumnElement[bool]
) -> ColumnElement[bool]:
    return _row_matches(SiteVisit, VISIT_SEARCHED, dialect, terms, me, identifies)


def _row_matches(
    model: Any,
    fields: tuple[str, ...],
    dialect: str,
    terms: list[str],
    me: str,
    identifies: ColumnElement[bool],
) -> ColumnElement[bool]:
    """A row where something is withheld, one of whose fields the member may read as written
    holds every word."""
    readable = (
        and_(or_(identifies, _wrote(model, f, me)), _words(dialect, model, f, terms))
        for f in fields
    )
    return and_(model.withheld_texts.is_not(None), or_(*readable))


def _identifies_every_case(user_id: uuid.UUID) -> ColumnElement[bool]:
    """The visit at hand is linked to no case where the member may not identify witnesses
    (its texts are matched against the witnesses of all its cases)."""
    link = aliased(SiteVisitCase)
    identifying = select(CaseMember.case_id).where(
        CaseMember.user_id == user_id, CaseMember.can_identify_witnesses.is_(True)
    )
    return ~exists().where(link.site_visit_id == SiteVisit.id, link.case_id.not_in(identifying))


def _wrote(model: Any, field: str, me: str) -> ColumnElement[bool]:
    return model.text_authors[field].as_string() == me  # type: ignore[no-any-return]


def _contains(dialect: str, model: Any, field: str, query: str) -> ColumnElement[bool]:
    column: ColumnElement[str] = getattr(model, field)
    if dialect == "postgresql":
        return column.icontains(query, autoescape=True)
    return func.casefile_fold(column).contains(fold(query), autoescape=True)


def _words(dialect: str, model: Any, field: str, terms: list[str]) -> ColumnElement[bool]:
    """The field holds every word (as a word's start in PostgreSQL's full text, as the
    search's own index does; anywhere in SQLite, which has no per-field index to ask)."""
    column = getattr(model, field)
    if dialect == "postgresql":
        vector = func.to_tsvector("simple", func.coalesce(column, ""))
        matches: ColumnElement[bool] = vector.op("@@")(tsquery(terms))
        return matches
    if not terms:
        return false()
    return and_(
        *(func.casefile_fold(column).contains(fold(term), autoescape=True) for term in terms)
    )
