"""HTTP routes for site-visit logs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.auth.dependencies import CaseEditor, CaseReader, CurrentPrincipal, Principal
from app.db import DbSession
from app.kit.etag import IfMatch, etag_for
from app.kit.idempotency import Idempotency, created, replayed_as_read
from app.kit.pagination import Page, PageQuery
from app.kit.problems import problem_responses
from app.kit.responses import json_response
from app.kit.routing import api_router
from app.site_visits import service
from app.site_visits.schemas import SiteVisitCreate, SiteVisitPatch, SiteVisitRead

router = api_router(prefix="/api/v1", tags=["site-visits"])

VisitId = Annotated[uuid.UUID, Path(description="The site visit's id.")]


class SiteVisitPage(Page[SiteVisitRead]):
    pass


def _visit_now(
    session: Session, principal: Principal, _request: Request, visit_id: uuid.UUID
) -> tuple[BaseModel, str | None]:
    """A log's replay: the visit's texts shown as the caller may see them now."""
    visit = service.visit_access(session, principal, visit_id)
    return service.read(visit), etag_for(visit.visit.version)


@router.post(
    "/cases/{case_id}/site-visits",
    operation_id="createSiteVisit",
    summary="Log a site visit for this case (and, optionally, further cases)",
    status_code=201,
    response_model=SiteVisitRead,
    responses=problem_responses(
        400, 401, 403, 404, 409, 413, 422, success=201, etag=True, location=True
    ),
)
@replayed_as_read(_visit_now)
def create_site_visit(
    body: SiteVisitCreate, access: CaseEditor, session: DbSession, claim: Idempotency
) -> Response:
    visit = service.create(session, access=access, data=body)
    return created(
        session,
        claim,
        service.read(visit),
        location=f"/api/v1/site-visits/{visit.visit.id}",
        etag=etag_for(visit.visit.version),
    )


@router.get(
    "/cases/{case_id}/site-visits",
    operation_id="listCaseSiteVisits",
    summary="The case's site visits, newest first",
    response_model=SiteVisitPage,
    responses=problem_responses(400, 401, 404, 422),
)
def list_case_site_visits(access: CaseReader, session: DbSession, page: PageQuery) -> SiteVisitPage:
    visits, cursor = service.list_for_case(session, access=access, page=page)
    return SiteVisitPage(items=[service.read(v) for v in visits], next_cursor=cursor)


@router.get(
    "/site-visits/{visit_id}",
    operation_id="getSiteVisit",
    summary="Read a site visit",
    response_model=SiteVisitRead,
    responses=problem_responses(401, 404, 422, etag=True),
)
def get_site_visit(visit_id: VisitId, principal: CurrentPrincipal, session: DbSession) -> Response:
    visit = service.visit_access(session, principal, visit_id)
    return json_response(service.read(visit), etag=etag_for(visit.visit.version))


@router.patch(
    "/site-visits/{visit_id}",
    operation_id="updateSiteVisit",
    summary="Change a site visit (merge patch; If-Match required)",
    response_model=SiteVisitRead,
    responses=problem_responses(400, 401, 403, 404, 412, 413, 422, 428, etag=True),
)
def update_site_visit(
    visit_id: VisitId,
    body: SiteVisitPatch,
    principal: CurrentPrincipal,
    session: DbSession,
    if_match: IfMatch = None,
) -> Response:
    access = service.visit_access(session, principal, visit_id)
    visit = service.update(session, access=access, patch=body, if_match=if_match)
    return json_response(service.read(visit), etag=etag_for(visit.visit.version))
