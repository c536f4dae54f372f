"""HTTP routes for users and API tokens (admins only, except reading oneself)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Path, Query, Response
from starlette.status import HTTP_204_NO_CONTENT

from app.auth.dependencies import AdminPrincipal, CurrentPrincipal
from app.db import DbSession
from app.kit.etag import IfMatch, etag_for
from app.kit.idempotency import Idempotency, created
from app.kit.pagination import Page, PageQuery
from app.kit.problems import problem_responses
from app.kit.responses import json_response
from app.kit.routing import api_router
from app.models.user import ApiToken, GlobalRole, User
from app.users import service
from app.users.schemas import (
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = api_router(prefix="/api/v1", tags=["users"])

UserId = Annotated[uuid.UUID, Path(description="The user's id.")]
_ADMIN_ERRORS = (401, 403)
# Only a UUID matches `{user_id}`: otherwise /users/me also matched it, so PATCH /users/me was a
# 422 about the id "me" instead of a 405, and its Allow header offered PATCH.
ONE_USER = "/users/{user_id:uuid}"


_NO_TOKEN_OPTIONS = TokenCreate()


class UserPage(Page[UserRead]):
    pass


class TokenPage(Page[TokenRead]):
    pass


def _user_url(user: User) -> str:
    return f"/api/v1/users/{user.id}"


def _token_read(token: ApiToken) -> TokenRead:
    return TokenRead(
        id=token.id,
        user_id=token.user_id,
        label=token.label,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        state=service.token_state(token),
    )


@router.post(
    "/users",
    operation_id="createUser",
    summary="Create a user",
    status_code=201,
    response_model=UserRead,
    responses=problem_responses(*_ADMIN_ERRORS, 409, 422, success=201, etag=True, location=True),
)
def create_user(
    body: UserCreate, admin: AdminPrincipal, session: DbSession, claim: Idempotency
) -> Response:
    user = service.create_user(session, name=body.name, role=body.role, actor_id=admin.user_id)
    session.flush()
    return created(
        session,
        claim,
        UserRead.model_validate(user),
        location=_user_url(user),
        etag=etag_for(user.version),
    )


@router.get(
    "/users",
    operation_id="listUsers",
    summary="List users, newest first",
    response_model=UserPage,
    responses=problem_responses(*_ADMIN_ERRORS, 400, 422),
)
def list_users(
    _admin: AdminPrincipal,
    session: DbSession,
    page: PageQuery,
    role: Annotated[GlobalRole | None, Query(description="Only users with this role.")] = None,
    active: Annotated[bool | None, Query(description="Only active (or deactivated) users.")] = None,
) -> UserPage:
    users, cursor = service.list_users(session, page=page, role=role, active=active)
    return UserPage(items=[UserRead.model_validate(u) for u in users], next_cursor=cursor)


@router.get(
    "/users/me",
    operation_id="getCurrentUser",
    summary="The user this token belongs to",
    response_model=UserRead,
    responses=problem_responses(401, etag=True),
)
def get_current_user(principal: CurrentPrincipal, session: DbSession) -> Response:
    user = service.get_user(session, principal.user_id)
    return json_response(UserRead.model_validate(user), etag=etag_for(user.version))


@router.get(
    ONE_USER,
    operation_id="getUser",
    summary="Read a user",
    response_model=UserRead,
    responses=problem_responses(*_ADMIN_ERRORS, 404, 422, etag=True),
)
def get_user(user_id: UserId, _admin: AdminPrincipal, session: DbSession) -> Response:
    user = service.get_user(session, user_id)
    return json_response(UserRead.model_validate(user), etag=etag_for(user.version))


@router.patch(
    ONE_USER,
    operation_id="updateUser",
    summary="Change a user's role or deactivate it",
    response_model=UserRead,
    responses=problem_responses(*_ADMIN_ERRORS, 404, 409, 412, 422, 428, etag=True),
)
def update_user(
    user_id: UserId,
    body: UserUpdate,
    admin: AdminPrincipal,
    session: DbSession,
    if_match: IfMatch = None,
) -> Response:
    user = service.update_user(
        session,
        user_id=user_id,
        if_match=if_match,
        role=body.role,
        active=body.active,
        actor_id=admin.user_id,
    )
    return json_response(UserRead.model_validate(user), etag=etag_for(user.version))


@router.post(
    "/users/{user_id}/tokens",
    operation_id="createToken",
    summary="Issue an API token (its secret is shown once)",
    status_code=201,
    response_model=TokenCreated,
    responses=problem_responses(*_ADMIN_ERRORS, 404, 409, 422, success=201, location=True),
)
def create_token(
    user_id: UserId,
    admin: AdminPrincipal,
    session: DbSession,
    claim: Idempotency,
    body: Annotated[TokenCreate, Body()] = _NO_TOKEN_OPTIONS,
) -> Response:
    issued = service.issue_token(
        session,
        user_id=user_id,
        issued_by=admin.user_id,
        label=body.label,
        expires_at=body.expires_at,
    )
    read = _token_read(issued.token)
    answer = TokenCreated(**read.model_dump(), token=issued.secret)
    # The secret must not be stored anywhere, so this response cannot be replayed.
    return created(
        session, claim, answer, location=f"/api/v1/tokens/{issued.token.id}", replayable=False
    )


@router.get(
    "/users/{user_id}/tokens",
    operation_id="listTokens",
    summary="List a user's tokens (never their secrets)",
    response_model=TokenPage,
    responses=problem_responses(*_ADMIN_ERRORS, 400, 404, 422),
)
def list_tokens(
    user_id: UserId, _admin: AdminPrincipal, session: DbSession, page: PageQuery
) -> TokenPage:
    tokens, cursor = service.list_tokens(session, user_id=user_id, page=page)
    return TokenPage(items=[_token_read(t) for t in tokens], next_cursor=cursor)


@router.delete(
    "/tokens/{token_id}",
    operation_id="revokeToken",
    summary="Revoke an API token",
    status_code=HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(*_ADMIN_ERRORS, 404, 422),
)
def revoke_token(
    token_id: Annotated[uuid.UUID, Path(description="The token's id.")],
    admin: AdminPrincipal,
    session: DbSession,
) -> Response:
    service.revoke_token(session, token_id=token_id, actor_id=admin.user_id)
    return Response(status_code=HTTP_204_NO_CONTENT)
