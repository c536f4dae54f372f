"""Free-text search over cases and what they hold: their own fields, testimony statements and
translations, and site-visit logs. Witness identities are never searchable: they are stored
only encrypted. PostgreSQL uses full-text search (the 'simple' configuration: no stemming,
every script); SQLite uses FTS5 (unicode61 tokens, diacritics folded). Words match as prefixes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import InstrumentedAttribute

from app.kit.text import fold
from app.models.case import Case
from app.models.site_visit import SiteVisit, SiteVisitCase, site_visit_search_text
from app.models.testimony import Testimony, testimony_search_text

MAX_WORDS = 8
_WORD = re.compile(r"\w+")


def words(query: str) -> list[str]:
    """The query's words, in NFC. Not lower-cased here: the databases fold case themselves,
    and Python's lower() would split a Turkish/Azerbaijani 'İ' into 'i' and a combining dot."""
    return [w[:64] for w in _WORD.findall(unicodedata.normalize("NFC", query))][:MAX_WORDS]


def case_matches(dialect: str, query: str) -> ColumnElement[bool]:
    """Cases whose fields contain `query`, or whose testimonies or site visits match it."""
    query = unicodedata.normalize("NFC", query)
    own = or_(
        *(
            _contains(dialect, column, query)
            for column in (
                Case.title,
                Case.summary,
                Case.location_name,
                Case.location_admin_area,
                Case.location_country,
                Case.weapon,
                Case.responsible_party,
            )
        )
    )
    terms = words(query)
    if not terms:
        return own
    testimony = exists().where(Testimony.case_id == Case.id, _testimony_match(dialect, terms))
    visit = exists().where(
        SiteVisitCase.case_id == Case.id,
        SiteVisitCase.site_visit_id.in_(select(SiteVisit.id).where(_visit_match(dialect, terms))),
    )
    return or_(own, testimony, visit)


def _contains(dialect: str, column: InstrumentedAttribute[Any], query: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column.icontains(query, autoescape=True)
    return func.casefile_fold(column).contains(fold(query), autoescape=True)


def _testimony_match(dialect: str, terms: list[str]) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return testimony_search_text().op("@@")(_tsquery(terms))
    return Testimony.id.in_(_fts5("testimony", terms))


def _visit_match(dialect: str, terms: list[str]) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return site_visit_search_text().op("@@")(_tsquery(terms))
    return SiteVisit.id.in_(_fts5("site_visit", terms))


def _tsquery(terms: list[str]) -> ColumnElement[object]:
    return func.to_tsquery("simple", " & ".join(f"{term}:*" for term in terms))


def _fts5(kind: str, terms: list[str]) -> Select[Any]:
    match = " ".join(f'"{term}"*' for term in terms)
    # unique=True: a query may hold this subquery twice (testimonies, visits) with other values.
    condition = text("search_fts MATCH :fts_match AND kind = :fts_kind").bindparams(
        bindparam("fts_match", match, unique=True), bindparam("fts_kind", kind, unique=True)
    )
    return select(literal_column("ref")).select_from(text("search_fts")).where(condition)
