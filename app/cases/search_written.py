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

from sqlalchemy import (
    CTE,
    ColumnElement,
    Label,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    null,
    or_,
    select,
)
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
    own join (the member's row for the case at hand).

    Gathered (`linked`), the rows a member may read as written are found first, whatever the
    words (materialised CTEs), and only then are their texts matched: were the words matched
    first, a word found inside a protected string would send its rows on to the access check
    and read pages a word found nowhere does not (bench.protection_search showed the
    difference). Checked case by case (`linked_here`), every row of the case is read anyway."""
    me = str(user_id)
    identifies: ColumnElement[bool] = CaseMember.can_identify_witnesses.is_(True)
    own_here = and_(
        Case.withheld_texts.is_not(None),
        or_(
            *(
                and_(
                    or_(identifies, _wrote(Case, f, me)),
                    _contains(dialect, getattr(Case, f), query),
                )
                for f in SEARCHED_FIELDS
            )
        ),
    )
    cases = _readable_cases(user_id)
    own_gathered = select(cases.c.id).where(
        or_(*(_contains(dialect, cases.c[f], query) for f in SEARCHED_FIELDS))
    )
    terms = words(query)
    if not terms:
        return Match(false(), [own_gathered], [own_here])
    testimonies = _readable_testimonies(user_id)
    visits = _readable_visits(user_id)
    visit_identified = _identifies_every_case(user_id)
    return Match(
        false(),
        linked=[
            own_gathered,
            select(testimonies.c.case_id).where(
                or_(*(_words(dialect, testimonies.c[f], terms) for f in TESTIMONY_SEARCHED))
            ),
            select(SiteVisitCase.case_id).where(
                SiteVisitCase.site_visit_id.in_(
                    select(visits.c.id).where(
                        or_(*(_words(dialect, visits.c[f], terms) for f in VISIT_SEARCHED))
                    )
                )
            ),
        ],
        linked_here=[
            own_here,
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


def _readable_cases(user_id: uuid.UUID) -> CTE:
    """The member's cases where something is withheld, each searched field as written where
    they may read it so (NULL elsewhere)."""
    member = aliased(CaseMember)
    identifies = member.can_identify_witnesses.is_(True)
    return _materialised(
        select(Case.id, *_readable(Case, SEARCHED_FIELDS, str(user_id), identifies))
        .join(member, and_(member.case_id == Case.id, member.user_id == user_id))
        .where(Case.withheld_texts.is_not(None)),
        "written_cases",
    )


def _readable_testimonies(user_id: uuid.UUID) -> CTE:
    member = aliased(CaseMember)
    identifies = member.can_identify_witnesses.is_(True)
    return _materialised(
        select(
            Testimony.case_id, *_readable(Testimony, TESTIMONY_SEARCHED, str(user_id), identifies)
        )
        .join(member, and_(member.case_id == Testimony.case_id, member.user_id == user_id))
        .where(Testimony.withheld_texts.is_not(None)),
        "written_testimonies",
    )


def _readable_visits(user_id: uuid.UUID) -> CTE:
    identifies = _identifies_every_case(user_id)
    return _materialised(
        select(SiteVisit.id, *_readable(SiteVisit, VISIT_SEARCHED, str(user_id), identifies)).where(
            SiteVisit.withheld_texts.is_not(None)
        ),
        "written_visits",
    )


def _readable(
    model: Any, fields: tuple[str, ...], me: str, identifies: ColumnElement[bool]
) -> list[Label[Any]]:
    return [
        case((or_(identifies, _wrote(model, f, me)), getattr(model, f)), else_=null()).label(f)
        for f in fields
    ]


def _materialised(query: Select[Any], name: str) -> CTE:
    """Computed whole before the words are looked at (PostgreSQL would otherwise inline it
    and filter by the words first; SQLite 3.35+ reads the keyword too)."""
    return query.cte(name).prefix_with("MATERIALIZED")


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
        and_(or_(identifies, _wrote(model, f, me)), _words(dialect, getattr(model, f), terms))
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


def _contains(dialect: str, column: ColumnElement[Any], query: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column.icontains(query, autoescape=True)
    return func.casefile_fold(column).contains(fold(query), autoescape=True)


def _words(dialect: str, column: ColumnElement[Any], terms: list[str]) -> ColumnElement[bool]:
    """The field holds every word (as a word's start in PostgreSQL's full text, as the
    search's own index does; anywhere in SQLite, which has no per-field index to ask)."""
    if dialect == "postgresql":
        vector = func.to_tsvector("simple", func.coalesce(column, ""))
        matches: ColumnElement[bool] = vector.op("@@")(tsquery(terms))
        return matches
    if not terms:
        return false()
    return and_(
        *(func.casefile_fold(column).contains(fold(term), autoescape=True) for term in terms)
    )
