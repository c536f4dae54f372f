"""HTTP routes for testimonies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.auth.dependencies import (
    CaseEditor,
    CaseReader,
    CurrentPrincipal,
    Principal,
    resource_case_access,
)
from app.auth.permissions import CasePermission
from app.db import DbSession
from app.kit.etag import IfMatch, etag_for
from app.kit.idempotency import Idempotency, created, replayed_as_read
from app.kit.pagination import Page, PageQuery
from app.kit.problems import problem_responses
from app.kit.responses import json_response
from app.kit.routing import api_router
from app.protection.policy import reader_of
from app.testimonies import service
from app.testimonies.schemas import TestimonyCreate, TestimonyPatch, TestimonyRead

router = api_router(prefix="/api/v1", tags=["testimonies"])

TestimonyId = Annotated[uuid.UUID, Path(description="The testimony's id.")]


class TestimonyPage(Page[TestimonyRead]):
    pass


def _testimony_now(
    session: Session, principal: Principal, _request: Request, testimony_id: uuid.UUID
) -> tuple[BaseModel, str | None]:
    """A creation's replay: the testimony's texts shown as the caller may see them now."""
    testimony = service.get(session, testimony_id)
    access = resource_case_access(
        session, principal, testimony.case_id, CasePermission.READ, service.TestimonyNotFound
    )
    return service.reads(session, [testimony], reader_of(access))[0], etag_for(testimony.version)


@router.post(
    "/cases/{case_id}/testimonies",
    operation_id="createTestimony",
    summary="Record a witness's testimony in the case",
    status_code=201,
    response_model=TestimonyRead,
    responses=problem_responses(
        400, 401, 403, 404, 409, 413, 422, success=201, etag=True, location=True
    ),
)
@replayed_as_read(_testimony_now)
def create_testimony(
    body: TestimonyCreate, access: CaseEditor, session: DbSession, claim: Idempotency
) -> Response:
    testimony = service.create(session, access=access, data=body)
    return created(
        session,
        claim,
        service.reads(session, [testimony], reader_of(access))[0],
        location=f"/api/v1/testimonies/{testimony.id}",
        etag=etag_for(testimony.version),
    )


@router.get(
    "/cases/{case_id}/testimonies",
    operation_id="listCaseTestimonies",
    summary="The case's testimonies, newest first",
    response_model=TestimonyPage,
    responses=problem_responses(400, 401, 404, 422),
)
def list_case_testimonies(access: CaseReader, session: DbSession, page: PageQuery) -> TestimonyPage:
    testimonies, cursor = service.list_for_case(session, access=access, page=page)
    items = service.reads(session, testimonies, reader_of(access))
    return TestimonyPage(items=items, next_cursor=cursor)


@router.get(
    "/testimonies/{testimony_id}",
    operation_id="getTestimony",
    summary="Read a testimony",
    response_model=TestimonyRead,
    responses=problem_responses(401, 404, 422, etag=True),
)
def get_testimony(
    testimony_id: TestimonyId, principal: CurrentPrincipal, session: DbSession
) -> Response:
    testimony = service.get(session, testimony_id)
    access = resource_case_access(
        session, principal, testimony.case_id, CasePermission.READ, service.TestimonyNotFound
    )
    read = service.reads(session, [testimony], reader_of(access))[0]
    return json_response(read, etag=etag_for(testimony.version))


@router.patch(
    "/testimonies/{testimony_id}",
    operation_id="updateTestimony",
    summary="Change a testimony (merge patch; If-Match required)",
    response_model=TestimonyRead,
    responses=problem_responses(400, 401, 403, 404, 412, 413, 422, 428, etag=True),
)
def update_testimony(
    testimony_id: TestimonyId,
    body: TestimonyPatch,
    principal: CurrentPrincipal,
    session: DbSession,
    if_match: IfMatch = None,
) -> Response:
    testimony = service.get(session, testimony_id)
    access = resource_case_access(
        session, principal, testimony.case_id, CasePermission.EDIT, service.TestimonyNotFound
    )
    testimony = service.update(
        session, access=access, testimony=testimony, patch=body, if_match=if_match
    )
    read = service.reads(session, [testimony], reader_of(access))[0]
    return json_response(read, etag=etag_for(testimony.version))
