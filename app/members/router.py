"""HTTP routes for case membership (managed by admins and the case's leads)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Response
from starlette.status import HTTP_204_NO_CONTENT

from app.auth.dependencies import CaseMembershipManager, CaseReader
from app.db import DbSession
from app.kit.pagination import Page, PageQuery
from app.kit.problems import problem_responses
from app.kit.responses import json_response
from app.kit.routing import api_router
from app.members import service
from app.members.schemas import MemberPut, MemberRead
from app.models.case import CaseMember

router = api_router(prefix="/api/v1/cases/{case_id}/members", tags=["members"])

UserId = Annotated[uuid.UUID, Path(description="The member's user id.")]


class MemberPage(Page[MemberRead]):
    pass


def _read(member: CaseMember, user_name: str) -> MemberRead:
    return MemberRead(
        case_id=member.case_id,
        user_id=member.user_id,
        user_name=user_name,
        role=member.role,  # type: ignore[arg-type]
        can_identify_witnesses=member.can_identify_witnesses,
        added_by=member.added_by_id,
        created_at=member.created_at,
        updated_at=member.updated_at,
    )


@router.get(
    "",
    operation_id="listCaseMembers",
    summary="List the case's members",
    response_model=MemberPage,
    responses=problem_responses(400, 401, 404, 422),
)
def list_members(access: CaseReader, session: DbSession, page: PageQuery) -> MemberPage:
    rows, cursor = service.list_members(session, case_id=access.case.id, page=page)
    return MemberPage(items=[_read(m, name) for m, name in rows], next_cursor=cursor)


@router.put(
    "/{user_id}",
    operation_id="putCaseMember",
    summary="Add a member or change their case role and witness-identity flag",
    response_model=MemberRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def put_member(
    user_id: UserId, body: MemberPut, access: CaseMembershipManager, session: DbSession
) -> Response:
    membership = service.put_member(
        session,
        access=access,
        user_id=user_id,
        role=body.role,
        can_identify_witnesses=body.can_identify_witnesses,
    )
    return json_response(_read(membership.member, membership.user_name))


@router.delete(
    "/{user_id}",
    operation_id="removeCaseMember",
    summary="Remove a member from the case",
    status_code=HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def remove_member(user_id: UserId, access: CaseMembershipManager, session: DbSession) -> Response:
    service.remove_member(session, access=access, user_id=user_id)
    return Response(status_code=HTTP_204_NO_CONTENT)
