"""HTTP routes for cases."""

from __future__ import annotations

import math
import unicodedata
from typing import Annotated

from fastapi import Query, Request, Response

from app.auth.dependencies import (
    CaseCreator,
    CaseEditor,
    CaseReader,
    CurrentPrincipal,
    case_read_ahead,
    read_ahead,
)
from app.cases import repository, service
from app.cases.counts import CASE_COUNTS
from app.cases.repository import BoundingBox, CaseFilters
from app.cases.schemas import CaseCreate, CasePatch, CaseRead, Tag
from app.db import DbSession
from app.errors import UnprocessableContent
from app.kit.etag import IfMatch, etag_for
from app.kit.idempotency import Idempotency, created
from app.kit.pagination import Page, PageQuery
from app.kit.problems import invalid_field, problem_responses
from app.kit.responses import json_response
from app.kit.routing import api_router
from app.kit.schemas import UtcDatetime
from app.models.case import CaseStatus
from app.protection.policy import Reader, reader_of

router = api_router(prefix="/api/v1/cases", tags=["cases"])


class CasePage(Page[CaseRead]):
    pass


@router.post(
    "",
    operation_id="createCase",
    summary="Open a case (the creator becomes its lead)",
    status_code=201,
    response_model=CaseRead,
    responses=problem_responses(
        400, 401, 403, 409, 413, 422, success=201, etag=True, location=True
    ),
)
def create_case(
    body: CaseCreate, creator: CaseCreator, session: DbSession, claim: Idempotency
) -> Response:
    case = service.create_case(session, creator=creator, data=body)
    return created(
        session,
        claim,
        # The creator wrote every text of it, and is its lead with the identify flag.
        service.case_read(case, dict.fromkeys(repository.COUNTED, 0), reader=None),
        location=f"/api/v1/cases/{case.id}",
        etag=etag_for(case.version),
    )


@router.get(
    "",
    operation_id="listCases",
    summary="List the cases you may see, newest first",
    response_model=CasePage,
    responses=problem_responses(400, 401, 422),
)
def list_cases(
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    status: Annotated[list[CaseStatus], Query(description="Any of these statuses.")] = [],  # noqa: B006
    q: Annotated[
        str | None, Query(max_length=200, description="Text in title, summary, place, weapon…")
    ] = None,
    occurred_from: Annotated[UtcDatetime | None, Query(description="Occurred at or after.")] = None,
    occurred_to: Annotated[UtcDatetime | None, Query(description="Occurred at or before.")] = None,
    bbox: Annotated[
        str | None,
        Query(
            max_length=100,
            description="minLon,minLat,maxLon,maxLat (WGS 84); minLon > maxLon crosses 180°.",
            examples=["44.5,38.5,50.5,42.0"],
        ),
    ] = None,
    tag: Annotated[
        list[Tag], Query(max_length=10, description="Cases carrying all of these tags.")
    ] = [],  # noqa: B006
) -> CasePage:
    if q is not None and any(unicodedata.category(ch) == "Cc" for ch in q):
        raise _query_problem("q", "must not contain control characters")
    if occurred_from and occurred_to and occurred_from > occurred_to:
        raise _query_problem("occurred_from", "must not be after occurred_to")
    filters = CaseFilters(
        statuses=status,
        text=(q or "").strip() or None,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        bbox=_parse_bbox(bbox) if bbox else None,
        tags=[unicodedata.normalize("NFC", t.strip().lower()) for t in tag if t.strip()],
    )
    cases, cursor = repository.list_visible_cases(
        session, principal=principal, filters=filters, page=page
    )
    counts = repository.case_counts(session, [c.id for c in cases])
    identifies = repository.identified_cases(session, principal, [c.id for c in cases])
    return CasePage(
        items=[
            service.case_read(c, counts[c.id], reader=Reader(principal.user_id, c.id in identifies))
            for c in cases
        ],
        next_cursor=cursor,
    )


@router.get(
    "/{case_id}",
    operation_id="getCase",
    summary="Read a case",
    response_model=CaseRead,
    responses=problem_responses(401, 404, 422, etag=True),
)
@case_read_ahead(CASE_COUNTS)
async def get_case(request: Request, access: CaseReader, session: DbSession) -> Response:
    # `async def`: the counts were read with the token and the case (case_read_ahead); only
    # rendering is left.
    counts = await read_ahead(request, access, session, CASE_COUNTS)
    case = access.case
    return json_response(
        service.case_read(case, counts, reader=reader_of(access)), etag=etag_for(case.version)
    )


@router.patch(
    "/{case_id}",
    operation_id="updateCase",
    summary="Change a case (JSON merge patch; If-Match required)",
    response_model=CaseRead,
    responses=problem_responses(400, 401, 403, 404, 412, 413, 422, 428, etag=True),
)
def update_case(
    body: CasePatch, access: CaseEditor, session: DbSession, if_match: IfMatch = None
) -> Response:
    case = service.update_case(session, access=access, patch=body, if_match=if_match)
    counts = repository.case_counts(session, [case.id])[case.id]
    return json_response(
        service.case_read(case, counts, reader=reader_of(access)), etag=etag_for(case.version)
    )


def _parse_bbox(raw: str) -> BoundingBox:
    try:
        values = [float(part) for part in raw.split(",")]
    except ValueError:
        raise _query_problem("bbox", "must be four numbers: minLon,minLat,maxLon,maxLat") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise _query_problem("bbox", "must be four numbers: minLon,minLat,maxLon,maxLat")
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise _query_problem("bbox", "longitudes must be within -180..180")
    if not (-90 <= min_lat <= max_lat <= 90):
        raise _query_problem("bbox", "latitudes must be within -90..90 and minLat <= maxLat")
    return BoundingBox(min_lon=min_lon, min_lat=min_lat, max_lon=max_lon, max_lat=max_lat)


def _query_problem(field: str, message: str) -> UnprocessableContent:
    return invalid_field(field, message, location="query")
