"""Users and their API tokens: creation, changes, revocation and the first admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import canonical
from app.audit import service as audit
from app.audit.canonical import SYSTEM_CHAIN
from app.auth.tokens import new_token_secret, secret_digest
from app.db import utcnow
from app.errors import LastAdminRequired, TokenNotFound, UserNameTaken, UserNotFound
from app.kit.etag import etag_for, require_match
from app.kit.pagination import PageParams, after_position, decode_cursor, next_cursor
from app.models.user import ApiToken, GlobalRole, User

BOOTSTRAP_ADMIN_NAME = "admin"


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def create_user(
    session: Session,
    *,
    name: str,
    role: GlobalRole,
    actor_id: uuid.UUID | None,
    via: str = "api",
) -> User:
    """Create a user; names are unique regardless of case (they are stored lower-cased)."""
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise UserNameTaken(f"A user named '{name}' already exists.")
    user = User(name=name, role=role.value)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:  # lost a race with a concurrent create of the same name
        raise UserNameTaken(f"A user named '{name}' already exists.") from exc
    audit.record(
        session,
        chain=SYSTEM_CHAIN,
        action="user.created",
        resource_type="user",
        resource_id=user.id,
        actor_id=actor_id,
        payload={"name": user.name, "role": user.role, "via": via},
    )
    return user


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return user


def list_users(
    session: Session, *, page: PageParams, role: GlobalRole | None, active: bool | None
) -> tuple[list[User], str | None]:
    query = select(User).order_by(User.created_at.desc(), User.id.desc()).limit(page.limit + 1)
    if page.cursor:
        query = query.where(
            after_position(User.created_at, User.id, decode_cursor("users", page.cursor))
        )
    if role is not None:
        query = query.where(User.role == role.value)
    if active is not None:
        query = query.where(User.active == active)
    rows = list(session.scalars(query))
    return rows[: page.limit], next_cursor("users", rows, page.limit)


def update_user(
    session: Session,
    *,
    user_id: uuid.UUID,
    if_match: str | None,
    role: GlobalRole | None,
    active: bool | None,
    actor_id: uuid.UUID,
) -> User:
    user = get_user(session, user_id)
    require_match(if_match, etag_for(user.version))
    new_role = role.value if role is not None else user.role
    new_active = active if active is not None else user.active
    if user.is_admin and user.active and not (new_role == GlobalRole.ADMIN and new_active):
        _keep_another_admin(session, user.id)
    before = {"role": user.role, "active": user.active}
    after = {"role": new_role, "active": new_active}
    if after != before:
        user.role, user.active, user.updated_at = new_role, new_active, utcnow()
        session.flush()
        audit.record(
            session,
            chain=SYSTEM_CHAIN,
            action="user.updated",
            resource_type="user",
            resource_id=user.id,
            actor_id=actor_id,
            payload={"changes": audit.changes(before, after)},
        )
    return user


def _keep_another_admin(session: Session, leaving: uuid.UUID) -> None:
    # FOR UPDATE serialises concurrent demotions, so two admins cannot remove each other at once.
    others = session.scalars(
        select(User.id)
        .where(User.role == GlobalRole.ADMIN.value, User.active.is_(True), User.id != leaving)
        .with_for_update()
    ).all()
    if not others:
        raise LastAdminRequired("This is the last active admin; appoint another admin first.")


def issue_token(
    session: Session,
    *,
    user_id: uuid.UUID,
    issued_by: uuid.UUID | None,
    label: str | None = None,
    expires_at: datetime | None = None,
    via: str = "api",
) -> IssuedToken:
    get_user(session, user_id)
    secret = new_token_secret()
    token = ApiToken(
        user_id=user_id,
        secret_sha256=secret_digest(secret),
        label=label,
        created_by_id=issued_by,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        chain=SYSTEM_CHAIN,
        action="token.issued",
        resource_type="token",
        resource_id=token.id,
        actor_id=issued_by,
        # Never the secret, nor its digest: only what identifies the token.
        payload={
            "user_id": str(user_id),
            "label": label,
            "expires_at": canonical.timestamp(expires_at) if expires_at else None,
            "via": via,
        },
    )
    return IssuedToken(token=token, secret=secret)


def list_tokens(
    session: Session, *, user_id: uuid.UUID, page: PageParams
) -> tuple[list[ApiToken], str | None]:
    get_user(session, user_id)
    query = (
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        .limit(page.limit + 1)
    )
    if page.cursor:
        position = decode_cursor(f"tokens:{user_id}", page.cursor)
        query = query.where(after_position(ApiToken.created_at, ApiToken.id, position))
    rows = list(session.scalars(query))
    return rows[: page.limit], next_cursor(f"tokens:{user_id}", rows, page.limit)


def revoke_token(session: Session, *, token_id: uuid.UUID, actor_id: uuid.UUID) -> bool:
    """Revoke a token; returns False if it already was (revocation is idempotent)."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise TokenNotFound()
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.flush()
    audit.record(
        session,
        chain=SYSTEM_CHAIN,
        action="token.revoked",
        resource_type="token",
        resource_id=token.id,
        actor_id=actor_id,
        payload={"user_id": str(token.user_id)},
    )
    return True


TokenState = Literal["active", "expired", "revoked"]


def token_state(token: ApiToken) -> TokenState:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= utcnow():
        return "expired"
    return "active"


def bootstrap_admin(session: Session) -> IssuedToken | None:
    """On an empty database, create the first admin and its token; otherwise do nothing."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    try:
        admin = create_user(
            session,
            name=BOOTSTRAP_ADMIN_NAME,
            role=GlobalRole.ADMIN,
            actor_id=None,
            via="bootstrap",
        )
    except UserNameTaken:  # another process bootstrapped at the same moment
        return None
    return issue_token(
        session, user_id=admin.id, issued_by=None, label="bootstrap", via="bootstrap"
    )
