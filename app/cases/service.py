"""Cases: opening one, changing it under optimistic concurrency, and reading it back."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import service as audit
from app.audit.canonical import case_chain
from app.audit.texts import change_refs, snapshot_refs
from app.auth.dependencies import CaseAccess, Principal
from app.cases.schemas import (
    CaseCounts,
    CaseCreate,
    CasePatch,
    CaseRead,
    CasualtiesRead,
    LocationRead,
)
from app.db import utcnow
from app.errors import PreconditionFailed
from app.kit.etag import etag_for, require_match
from app.kit.patch import merge_patch
from app.kit.problems import validation_problem
from app.models.case import Case, CaseMember, CaseRole, CaseTag
from app.protection import service as protection
from app.protection.fields import CASE as CASE_TEXTS
from app.protection.policy import Reader, shown, shown_tags

# The case's free texts, as paths in its snapshot and its changes (audit payloads hold them
# only as references: app.audit.texts).
TEXT_PATHS = (
    "title",
    "summary",
    "weapon",
    "responsible_party",
    "location.name",
    "location.country",
    "location.admin_area",
    "tags",
)


def create_case(session: Session, *, creator: Principal, data: CaseCreate) -> Case:
    """Open a case; its creator becomes its lead and may identify its witnesses."""
    case = Case(id=uuid.uuid4(), created_by_id=creator.user_id, tags=[])
    _apply(case, data)
    protection.protect(
        session,
        case,
        case_ids=[case.id],
        author=creator.user_id,
        changed=protection.text_values(case),
    )
    session.add(case)
    session.flush()
    session.add(
        CaseMember(
            case_id=case.id,
            user_id=creator.user_id,
            role=CaseRole.LEAD.value,
            can_identify_witnesses=True,
            added_by_id=creator.user_id,
        )
    )
    session.flush()
    audit.record(
        session,
        chain=case_chain(case.id),
        action="case.created",
        resource_type="case",
        resource_id=case.id,
        actor_id=creator.user_id,
        case_id=case.id,
        payload={
            "case": snapshot_refs(session, _snapshot(case), TEXT_PATHS),
            "lead": str(creator.user_id),
        },
    )
    return case


def update_case(
    session: Session, *, access: CaseAccess, patch: CasePatch, if_match: str | None
) -> Case:
    """Apply a merge patch if `if_match` names the current version; validate the result whole."""
    case = access.case
    require_match(if_match, etag_for(case.version))
    merged = merge_patch(_as_input(case), patch.model_dump(exclude_unset=True))
    try:
        data = CaseCreate.model_validate(merged)
    except ValidationError as exc:
        raise validation_problem(exc) from exc
    if data == CaseCreate.model_validate(_as_input(case)):
        return case  # nothing changes: same version, same ETag
    before = _snapshot(case)
    texts_before = protection.text_values(case)
    _apply(case, data)
    case.updated_at = utcnow()
    protection.protect(
        session,
        case,
        case_ids=[case.id],
        author=access.principal.user_id,
        changed=protection.changed_texts(case, texts_before),
    )
    try:
        session.flush()
    except StaleDataError as exc:  # a concurrent writer committed between our read and write
        raise PreconditionFailed(
            "The case changed while your update was applied; fetch it again and retry."
        ) from exc
    audit.record(
        session,
        chain=case_chain(case.id),
        action="case.updated",
        resource_type="case",
        resource_id=case.id,
        actor_id=access.principal.user_id,
        case_id=case.id,
        payload={
            "version": case.version,
            "changes": change_refs(session, audit.changes(before, _snapshot(case)), TEXT_PATHS),
        },
    )
    return case


def _apply(case: Case, data: CaseCreate) -> None:
    case.title = data.title
    case.occurred_at = data.occurred_at
    case.summary = data.summary
    case.status = data.status.value
    case.weapon = data.weapon
    case.responsible_party = data.responsible_party
    location = data.location
    case.location_name = location.name if location else None
    case.location_country = location.country if location else None
    case.location_admin_area = location.admin_area if location else None
    case.latitude = location.lat if location else None
    case.longitude = location.lon if location else None
    casualties = data.casualties
    case.killed = casualties.killed if casualties else None
    case.injured = casualties.injured if casualties else None
    case.children_killed = casualties.children_killed if casualties else None
    case.children_injured = casualties.children_injured if casualties else None
    current = {tag.tag: tag for tag in case.tags}
    case.tags = [current.get(tag) or CaseTag(tag=tag) for tag in data.tags]


def _snapshot(case: Case) -> dict[str, Any]:
    """The case's facts as JSON, for audit payloads (cases hold no witness identity)."""
    return CaseCreate.model_validate(_as_input(case)).model_dump(mode="json")


def _as_input(case: Case) -> dict[str, Any]:
    """The case as a CaseCreate-shaped dict: the base a merge patch applies to."""
    read = case_read(case, reader=None).model_dump()
    return {
        "title": read["title"],
        "occurred_at": read["occurred_at"],
        "summary": read["summary"],
        "status": read["status"],
        "tags": read["tags"],
        "weapon": read["weapon"],
        "responsible_party": read["responsible_party"],
        "location": read["location"],
        "casualties": read["casualties"],
    }


def case_read(
    case: Case, counts: dict[str, int] | None = None, *, reader: Reader | None
) -> CaseRead:
    """The case as `reader` may see its texts (None: as written, for the server's own use)."""
    text = {f: getattr(case, f) for f in CASE_TEXTS.texts}
    if reader is not None:
        text = {f: shown(case, f, reader) for f in text}
    has_location = any(
        v is not None
        for v in (
            case.location_name,
            case.location_country,
            case.location_admin_area,
            case.latitude,
        )
    )
    return CaseRead(
        id=case.id,
        title=text["title"] or "",
        occurred_at=case.occurred_at,
        summary=text["summary"],
        status=case.status,  # type: ignore[arg-type]
        tags=shown_tags(case, reader) if reader else [t.tag for t in case.tags],
        weapon=text["weapon"],
        responsible_party=text["responsible_party"],
        location=LocationRead(
            name=text["location_name"],
            country=text["location_country"],
            admin_area=text["location_admin_area"],
            lat=case.latitude,
            lon=case.longitude,
        )
        if has_location
        else None,
        casualties=CasualtiesRead(
            killed=case.killed,
            injured=case.injured,
            children_killed=case.children_killed,
            children_injured=case.children_injured,
        ),
        counts=CaseCounts(**counts) if counts is not None else None,
        created_by=case.created_by_id,
        created_at=case.created_at,
        updated_at=case.updated_at,
        version=case.version,
    )
