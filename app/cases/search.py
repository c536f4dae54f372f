"""Free-text search over cases and what they hold: their own fields, testimony statements and
translations, and site-visit logs. Witness identities are never searchable: they are stored
only encrypted. PostgreSQL uses full-text search (the 'simple' configuration: no stemming,
every script); SQLite uses FTS5 (unicode61 tokens, diacritics folded). Words match as prefixes.

A case matches through its own fields, a testimony or a site visit. In PostgreSQL each has an
index, but one OR over them can use none: a search that matched few cases read every case
(bench.scale, 100,000 cases). So the listing asks for each apart and merges (see the repository).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
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
from app.models.case import SEARCHED_FIELDS, Case, case_search_text
from app.models.site_visit import (
    SiteVisit,
    SiteVisitCase,
    site_visit_search_text,
    site_visit_shown_search_text,
)
from app.models.testimony import Testimony, testimony_search_text, testimony_shown_search_text

MAX_WORDS = 8
_WORD = re.compile(r"\w+")


def words(query: str) -> list[str]:
    """The query's words, in NFC. Not lower-cased here: the databases fold case themselves,
    and Python's lower() would split a Turkish/Azerbaijani 'İ' into 'i' and a combining dot."""
    return [w[:64] for w in _WORD.findall(unicodedata.normalize("NFC", query))][:MAX_WORDS]


@dataclass(frozen=True)
class Match:
    """The ways a case can match: its own fields contain the query (as one substring), or a
    testimony or linked site visit matches its words. `linked` gives the ids of such cases
    (sets to gather or to hash); `linked_here` says whether the case at hand has one
    (correlated: cheap per case, so for callers who see few cases)."""

    own: ColumnElement[bool]
    linked: list[Select[uuid.UUID]]
    linked_here: list[ColumnElement[bool]]


def case_match(dialect: str, query: str, *, shown: bool = False) -> Match:
    """Cases whose texts contain `query`: as written (admins), or as shown to those who may
    not identify witnesses (`shown`: the `search_shown` texts, with their own indexes)."""
    query = unicodedata.normalize("NFC", query)
    if shown:
        # One column, its fields apart (SHOWN_SEPARATOR, never in a query): trigram-indexed.
        own = _contains(dialect, Case.search_shown, query)
    else:
        own = _own_fields_contain(dialect, query)
        if dialect == "postgresql":
            # The trigram index finds candidates in the joined fields; a match there may span
            # two fields, so each field is still checked on its own.
            own = and_(case_search_text().icontains(query, autoescape=True), own)
    terms = words(query)
    if not terms:
        return Match(own, [], [])
    testimony = _testimony_match(dialect, terms, shown=shown)
    visit = _visit_match(dialect, terms, shown=shown)
    visit_ids = select(SiteVisit.id).where(visit)
    return Match(
        own,
        linked=[
            select(Testimony.case_id).where(testimony),
            select(SiteVisitCase.case_id).where(SiteVisitCase.site_visit_id.in_(visit_ids)),
        ],
        linked_here=[
            exists().where(Testimony.case_id == Case.id, testimony),
            exists().where(
                SiteVisitCase.case_id == Case.id,
                SiteVisitCase.site_visit_id == SiteVisit.id,
                visit,
            ),
        ],
    )


def _own_fields_contain(dialect: str, query: str) -> ColumnElement[bool]:
    return or_(*(_contains(dialect, getattr(Case, name), query) for name in SEARCHED_FIELDS))


def _contains(dialect: str, column: InstrumentedAttribute[Any], query: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column.icontains(query, autoescape=True)
    return func.casefile_fold(column).contains(fold(query), autoescape=True)


def _testimony_match(dialect: str, terms: list[str], *, shown: bool) -> ColumnElement[bool]:
    if dialect == "postgresql":
        text = testimony_shown_search_text() if shown else testimony_search_text()
        return text.op("@@")(tsquery(terms))
    return Testimony.id.in_(_fts5("testimony_shown" if shown else "testimony", terms))


def _visit_match(dialect: str, terms: list[str], *, shown: bool) -> ColumnElement[bool]:
    if dialect == "postgresql":
        text = site_visit_shown_search_text() if shown else site_visit_search_text()
        return text.op("@@")(tsquery(terms))
    return SiteVisit.id.in_(_fts5("site_visit_shown" if shown else "site_visit", terms))


def tsquery(terms: list[str]) -> ColumnElement[object]:
    return func.to_tsquery("simple", " & ".join(f"{term}:*" for term in terms))


def _fts5(kind: str, terms: list[str]) -> Select[Any]:
    match = " ".join(f'"{term}"*' for term in terms)
    # unique=True: a query may hold this subquery twice (testimonies, visits) with other values.
    condition = text("search_fts MATCH :fts_match AND kind = :fts_kind").bindparams(
        bindparam("fts_match", match, unique=True), bindparam("fts_kind", kind, unique=True)
    )
    return select(literal_column("ref")).select_from(text("search_fts")).where(condition)
