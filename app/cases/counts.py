"""A case's counts as columns of the path's case id, read in authentication's statement.

`GET /api/v1/cases/{id}` needs the case, the caller's membership and these four counts; read
apart they were a round trip of their own on every case read (bench/RESULTS.md: load). As
scalar subqueries of the `case_id` parameter rather than of the joined case row, PostgreSQL
runs each once per statement (an InitPlan), not once per row of the case's tags.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import InstrumentedAttribute

from app.auth.dependencies import CASE_ID, CaseReadAhead
from app.models.evidence import EvidenceItem
from app.models.site_visit import SiteVisitCase
from app.models.testimony import Testimony
from app.models.witness import WitnessCase

# What a case's counts count, by name; one place for both ways of reading them (here, for one
# case in authentication's statement; repository.case_counts, for a page of cases). Withdrawn
# evidence counts too: it stays part of the record.
COUNTED_BY: dict[str, InstrumentedAttribute[uuid.UUID]] = {
    "witnesses": WitnessCase.case_id,
    "testimonies": Testimony.case_id,
    "site_visits": SiteVisitCase.case_id,
    "evidence": EvidenceItem.case_id,
}


def _count(column: InstrumentedAttribute[uuid.UUID]) -> ScalarSelect[int]:
    return select(func.count()).where(column == CASE_ID).scalar_subquery()


def _as_counts(values: tuple[Any, ...]) -> dict[str, int]:
    return dict(zip(COUNTED_BY, values, strict=True))


CASE_COUNTS = CaseReadAhead(
    columns=tuple(_count(column) for column in COUNTED_BY.values()), result=_as_counts
)
