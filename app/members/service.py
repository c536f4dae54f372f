"""Case membership: who works on a case, in which role, and who may identify its witnesses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.canonical import case_chain
from app.auth.dependencies import CaseAccess
from app.db import utcnow
from app.errors import LastLeadRequired, MemberNotFound, UserNotFound
from app.kit.pagination import PageParams, after_position, decode_cursor, next_cursor
from app.models.case import Case, CaseMember, CaseRole
from app.models.user import User


@dataclass(frozen=True)
class Membership:
    member: CaseMember
    user_name: str
    created: bool


def list_members(
    session: Session, *, case_id: uuid.UUID, page: PageParams
) -> tuple[list[tuple[CaseMember, str]], str | None]:
    listing = f"members:{case_id}"
    query = (
        select(CaseMember, User.name)
        .join(User, User.id == CaseMember.user_id)
        .where(CaseMember.case_id == case_id)
        .order_by(CaseMember.created_at.desc(), CaseMember.user_id.desc())
        .limit(page.limit + 1)
    )
    if page.cursor:
        position = decode_cursor(listing, page.cursor)
        query = query.where(after_position(CaseMember.created_at, CaseMember.user_id, position))
    rows = [(member, name) for member, name in session.execute(query)]
    members = [member for member, _ in rows]
    return rows[: page.limit], next_cursor(listing, members, page.limit, id_attribute="user_id")


def put_member(
    session: Session,
    *,
    access: CaseAccess,
    user_id: uuid.UUID,
    role: CaseRole,
    can_identify_witnesses: bool,
) -> Membership:
    """Add a user to the case or change their role and flag (idempotent, like PUT itself)."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise UserNotFound("No active user has this id.")
    member = session.get(CaseMember, (access.case.id, user_id))
    if member is None:
        member = CaseMember(
            case_id=access.case.id,
            user_id=user_id,
            role=role.value,
            can_identify_witnesses=can_identify_witnesses,
            added_by_id=access.principal.user_id,
        )
        session.add(member)
        session.flush()
        _record(session, access, "member.added", user_id, {"standing": _standing(member)})
        return Membership(member=member, user_name=user.name, created=True)
    if member.role == CaseRole.LEAD and role != CaseRole.LEAD:
        _keep_another_lead(session, access.case, leaving=user_id)
    before = _standing(member)
    if (member.role, member.can_identify_witnesses) != (role.value, can_identify_witnesses):
        member.role = role.value
        member.can_identify_witnesses = can_identify_witnesses
        member.updated_at = utcnow()
        session.flush()
        changes = audit.changes(before, _standing(member))
        _record(session, access, "member.changed", user_id, {"changes": changes})
    return Membership(member=member, user_name=user.name, created=False)


def remove_member(session: Session, *, access: CaseAccess, user_id: uuid.UUID) -> CaseMember:
    member = session.get(CaseMember, (access.case.id, user_id))
    if member is None:
        raise MemberNotFound("This user is not a member of the case.")
    if member.role == CaseRole.LEAD:
        _keep_another_lead(session, access.case, leaving=user_id)
    standing = _standing(member)
    session.delete(member)
    session.flush()
    _record(session, access, "member.removed", user_id, {"standing": standing})
    return member


def _standing(member: CaseMember) -> dict[str, object]:
    return {"role": member.role, "can_identify_witnesses": member.can_identify_witnesses}


def _record(
    session: Session,
    access: CaseAccess,
    action: str,
    user_id: uuid.UUID,
    payload: dict[str, object],
) -> None:
    audit.record(
        session,
        chain=case_chain(access.case.id),
        action=action,
        resource_type="member",
        resource_id=user_id,
        actor_id=access.principal.user_id,
        case_id=access.case.id,
        payload=payload,
    )


def _keep_another_lead(session: Session, case: Case, *, leaving: uuid.UUID) -> None:
    # Lock the case row so two leads cannot demote each other concurrently and leave none.
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    others = session.scalar(
        select(func.count())
        .select_from(CaseMember)
        .where(
            CaseMember.case_id == case.id,
            CaseMember.role == CaseRole.LEAD.value,
            CaseMember.user_id != leaving,
        )
    )
    if not others:
        raise LastLeadRequired("Appoint another lead before removing or demoting the last one.")
