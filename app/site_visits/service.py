"""Site-visit logs: one visit often covers several strike sites, so it links to several cases.

A visit is readable by members of any linked case and changed by editors of any linked case;
the cases it lists are only those the caller may see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import service as audit
from app.audit.canonical import case_chain
from app.audit.texts import change_refs, snapshot_refs
from app.auth.dependencies import CaseAccess, Principal, case_access
from app.auth.permissions import CasePermission, case_role_allows
from app.db import utcnow
from app.errors import AppError, Forbidden, NotFound, PreconditionFailed
from app.kit.etag import etag_for, require_match
from app.kit.pagination import PageParams, after_position, decode_cursor, next_cursor
from app.kit.patch import merge_patch
from app.kit.problems import invalid_field, validation_problem
from app.models.case import CaseMember, CaseRole
from app.models.site_visit import SiteVisit, SiteVisitCase, SiteVisitMember
from app.models.user import User
from app.protection import service as protection
from app.protection.fields import SITE_VISIT as SITE_VISIT_TEXTS
from app.protection.policy import Reader, shown
from app.site_visits.schemas import (
    Conditions,
    SiteVisitCreate,
    SiteVisitPatch,
    SiteVisitRead,
    VisitLocation,
)

# The visit's free texts, as paths in its facts and their changes (audit: references only).
TEXT_PATHS = (
    "location.name",
    "purpose",
    "observations",
    "conditions.access",
    "conditions.security",
    "conditions.weather",
)


class SiteVisitNotFound(NotFound):
    slug, title = "site-visit-not-found", "Site visit not found"


@dataclass(frozen=True)
class VisitAccess:
    visit: SiteVisit
    principal: Principal
    case_ids: list[uuid.UUID]
    team: list[uuid.UUID]
    roles: dict[uuid.UUID, str]  # the caller's case role on each linked case they belong to
    identifying: frozenset[uuid.UUID] = frozenset()  # linked cases where they may identify

    @property
    def reader(self) -> Reader:
        """Its texts as written only to those who may identify on every case it is linked to:
        they are matched against the witnesses of all of them."""
        every = self.principal.is_admin or set(self.case_ids) <= self.identifying
        return Reader(self.principal.user_id, every)

    @property
    def visible_case_ids(self) -> list[uuid.UUID]:
        if self.principal.is_admin:
            return self.case_ids
        return [c for c in self.case_ids if c in self.roles]

    @property
    def editing_case_id(self) -> uuid.UUID | None:
        return next(
            (
                c
                for c in self.case_ids
                if case_role_allows(
                    CaseRole(self.roles[c]) if c in self.roles else None,
                    CasePermission.EDIT,
                    admin=self.principal.is_admin,
                )
            ),
            None,
        )


def create(session: Session, *, access: CaseAccess, data: SiteVisitCreate) -> VisitAccess:
    others = [c for c in data.also_case_ids if c != access.case.id]
    for case_id in others:
        _require_editable(session, access.principal, case_id)
    _require_team_members(session, data.team, [access.case.id, *others], access.principal)
    visit = SiteVisit(id=uuid.uuid4(), created_by_id=access.principal.user_id)
    _apply(visit, data.model_dump(exclude={"also_case_ids", "team"}))
    protection.protect(
        session,
        visit,
        case_ids=[access.case.id, *others],
        author=access.principal.user_id,
        changed=protection.text_values(visit),
    )
    session.add(visit)
    session.flush()
    for case_id in [access.case.id, *others]:
        session.add(
            SiteVisitCase(
                site_visit_id=visit.id, case_id=case_id, linked_by_id=access.principal.user_id
            )
        )
    for user_id in sorted(data.team):
        session.add(SiteVisitMember(site_visit_id=visit.id, user_id=user_id))
    session.flush()
    loaded = visit_access(session, access.principal, visit.id)
    facts = snapshot_refs(session, _facts(loaded), TEXT_PATHS)
    _record(session, loaded, access.case.id, "site_visit.logged", {"visit": facts})
    return loaded


def visit_access(session: Session, principal: Principal, visit_id: uuid.UUID) -> VisitAccess:
    visit = session.get(SiteVisit, visit_id)
    if visit is None:
        raise SiteVisitNotFound()
    case_ids = list(
        session.scalars(
            select(SiteVisitCase.case_id)
            .where(SiteVisitCase.site_visit_id == visit_id)
            .order_by(SiteVisitCase.linked_at, SiteVisitCase.case_id)
        )
    )
    memberships = session.execute(
        select(CaseMember.case_id, CaseMember.role, CaseMember.can_identify_witnesses).where(
            CaseMember.user_id == principal.user_id, CaseMember.case_id.in_(case_ids)
        )
    ).all()
    roles = {case_id: role for case_id, role, _ in memberships}
    identifying = frozenset(case_id for case_id, _, flag in memberships if flag)
    team = list(
        session.scalars(
            select(SiteVisitMember.user_id)
            .where(SiteVisitMember.site_visit_id == visit_id)
            .order_by(SiteVisitMember.user_id)
        )
    )
    access = VisitAccess(
        visit=visit,
        principal=principal,
        case_ids=case_ids,
        team=team,
        roles=roles,
        identifying=identifying,
    )
    if not access.visible_case_ids:
        raise SiteVisitNotFound()
    return access


def update(
    session: Session, *, access: VisitAccess, patch: SiteVisitPatch, if_match: str | None
) -> VisitAccess:
    acting_case = access.editing_case_id
    if acting_case is None:
        raise Forbidden("Your role on this visit's cases does not allow changing it.")
    visit = access.visit
    require_match(if_match, etag_for(visit.version))
    sent = patch.model_dump(exclude_unset=True)
    current = read(access, as_written=True).model_dump(
        include={"visited_at", "visited_until", "location", "purpose", "observations", "conditions"}
    )
    merged = merge_patch(current, {k: v for k, v in sent.items() if k != "team"})
    try:
        valid = SiteVisitCreate.model_validate(merged)
    except ValidationError as exc:
        raise validation_problem(exc) from exc
    team = sorted(sent["team"]) if sent.get("team") is not None else access.team
    if "team" in sent and sent["team"] is None:
        team = []
    added = sorted(set(team) - set(access.team))  # who stays needs no new check
    _require_team_members(session, added, access.case_ids, access.principal)
    before = _facts(access)
    texts_before = protection.text_values(visit)
    _apply(visit, valid.model_dump(exclude={"also_case_ids", "team"}))
    changed = VisitAccess(
        visit, access.principal, access.case_ids, team, access.roles, access.identifying
    )
    changes = audit.changes(before, _facts(changed))
    if not changes:
        return access
    visit.updated_at = utcnow()
    protection.protect(
        session,
        visit,
        case_ids=access.case_ids,
        author=access.principal.user_id,
        changed=protection.changed_texts(visit, texts_before),
    )
    try:
        session.flush()  # the version check, before anything else is written
    except StaleDataError as exc:
        raise PreconditionFailed("The site visit changed meanwhile; fetch it again.") from exc
    if team != access.team:
        _replace_team(session, visit.id, team)
    changes = change_refs(session, changes, TEXT_PATHS)
    _record(session, changed, acting_case, "site_visit.updated", {"changes": changes})
    return changed


def list_for_case(
    session: Session, *, access: CaseAccess, page: PageParams
) -> tuple[list[VisitAccess], str | None]:
    listing = f"site-visits:{access.case.id}"
    query = (
        select(SiteVisit)
        .join(SiteVisitCase, SiteVisitCase.site_visit_id == SiteVisit.id)
        .where(SiteVisitCase.case_id == access.case.id)
        .order_by(SiteVisit.created_at.desc(), SiteVisit.id.desc())
        .limit(page.limit + 1)
    )
    if page.cursor:
        position = decode_cursor(listing, page.cursor)
        query = query.where(after_position(SiteVisit.created_at, SiteVisit.id, position))
    rows = list(session.scalars(query))
    shown = [visit_access(session, access.principal, v.id) for v in rows[: page.limit]]
    return shown, next_cursor(listing, rows, page.limit)


def read(access: VisitAccess, *, as_written: bool = False) -> SiteVisitRead:
    """The visit as its reader may see its texts (`as_written`: for the server's own use)."""
    visit = access.visit
    reader = Reader(access.principal.user_id, True) if as_written else access.reader
    text = {f: shown(visit, f, reader) for f in SITE_VISIT_TEXTS.texts}
    location = None
    if visit.location_name is not None or visit.latitude is not None:
        location = VisitLocation(
            name=text["location_name"], lat=visit.latitude, lon=visit.longitude
        )
    return SiteVisitRead(
        id=visit.id,
        visited_at=visit.visited_at,
        visited_until=visit.visited_until,
        location=location,
        team=access.team,
        purpose=text["purpose"],
        observations=text["observations"],
        conditions=Conditions(
            access=text["access_conditions"],
            security=text["security_conditions"],
            weather=text["weather"],
        ),
        case_ids=access.visible_case_ids,
        created_by=visit.created_by_id,
        created_at=visit.created_at,
        updated_at=visit.updated_at,
        version=visit.version,
    )


def _apply(visit: SiteVisit, data: dict[str, Any]) -> None:
    location = data.get("location") or {}
    conditions = data.get("conditions") or {}
    visit.visited_at = data["visited_at"]
    visit.visited_until = data.get("visited_until")
    visit.location_name = location.get("name")
    visit.latitude = location.get("lat")
    visit.longitude = location.get("lon")
    visit.purpose = data.get("purpose")
    visit.observations = data.get("observations")
    visit.access_conditions = conditions.get("access")
    visit.security_conditions = conditions.get("security")
    visit.weather = conditions.get("weather")


def _replace_team(session: Session, visit_id: uuid.UUID, team: list[uuid.UUID]) -> None:
    for member in session.scalars(
        select(SiteVisitMember).where(SiteVisitMember.site_visit_id == visit_id)
    ):
        session.delete(member)
    session.flush()
    for user_id in team:
        session.add(SiteVisitMember(site_visit_id=visit_id, user_id=user_id))


def _facts(access: VisitAccess) -> dict[str, Any]:
    """The visit for the audit trail (its texts go in as references)."""
    facts = read(access, as_written=True).model_dump(mode="json")
    # Not the linked cases: this event is read by members of one of them, who may not know
    # the others exist.
    for volatile in ("id", "case_ids", "created_by", "created_at", "updated_at", "version"):
        facts.pop(volatile)
    return facts


def _record(
    session: Session, access: VisitAccess, case_id: uuid.UUID, action: str, payload: dict[str, Any]
) -> None:
    audit.record(
        session,
        chain=case_chain(case_id),
        action=action,
        resource_type="site_visit",
        resource_id=access.visit.id,
        actor_id=access.principal.user_id,
        case_id=case_id,
        payload=payload,
    )


def _require_editable(session: Session, principal: Principal, case_id: uuid.UUID) -> None:
    # One answer for "no such case", "not yours" and "read only": nothing is revealed.
    try:
        allowed = case_access(session, principal, case_id).allows(CasePermission.EDIT)
    except AppError:
        allowed = False
    if not allowed:
        raise invalid_field("also_case_ids", "names a case you cannot edit")


def _require_team_members(
    session: Session, user_ids: list[uuid.UUID], case_ids: list[uuid.UUID], principal: Principal
) -> None:
    """Everyone on the team is an active member of one of the visit's cases (or the caller,
    whose access was checked). One answer for a stranger, a deactivated user and no user:
    naming ids must not tell who exists, nor put an outsider on the case's record."""
    if not user_ids:
        return
    members = set(
        session.scalars(
            select(User.id)
            .join(CaseMember, CaseMember.user_id == User.id)
            .where(User.id.in_(user_ids), User.active.is_(True), CaseMember.case_id.in_(case_ids))
        )
    )
    members.add(principal.user_id)
    if set(user_ids) - members:
        raise invalid_field("team", "names someone who is not an active member of this case")
