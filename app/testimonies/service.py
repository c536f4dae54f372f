"""Testimonies: recorded in one case, from a witness linked to it, changed under If-Match."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import service as audit
from app.audit.canonical import case_chain
from app.audit.texts import change_refs, snapshot_refs
from app.auth.dependencies import CaseAccess
from app.db import utcnow
from app.errors import NotFound, PreconditionFailed
from app.kit.etag import etag_for, require_match
from app.kit.pagination import PageParams, after_position, decode_cursor, next_cursor
from app.kit.problems import invalid_field, validation_problem
from app.models.case import CaseMember
from app.models.testimony import Testimony
from app.models.user import User
from app.models.witness import Witness, WitnessCase
from app.protection import service as protection
from app.protection.policy import Reader, shown
from app.testimonies.schemas import TestimonyCreate, TestimonyPatch, TestimonyRead

_FIELDS = (
    "recorded_at",
    "place",
    "interviewer_id",
    "language",
    "statement",
    "translation",
    "translation_language",
)
TEXTS = ("place", "statement", "translation")


class TestimonyNotFound(NotFound):
    slug, title = "testimony-not-found", "Testimony not found"


def create(session: Session, *, access: CaseAccess, data: TestimonyCreate) -> Testimony:
    _require_witness_of(session, data.witness_id, access.case.id)
    interviewer = data.interviewer_id or access.principal.user_id
    _require_interviewer(session, interviewer, access)
    testimony = Testimony(
        id=uuid.uuid4(),
        case_id=access.case.id,
        witness_id=data.witness_id,
        created_by_id=access.principal.user_id,
        **{**data.model_dump(include=set(_FIELDS)), "interviewer_id": interviewer},
    )
    if testimony.translation and not testimony.translation_language:
        testimony.translation_language = "en"
    protection.protect(
        session,
        testimony,
        case_ids=[access.case.id],
        author=access.principal.user_id,
        changed=TEXTS,
    )
    session.add(testimony)
    session.flush()
    facts = snapshot_refs(session, _facts(testimony), TEXTS)
    _record(session, access, testimony, "testimony.recorded", {"testimony": facts})
    return testimony


def get(session: Session, testimony_id: uuid.UUID) -> Testimony:
    testimony = session.get(Testimony, testimony_id)
    if testimony is None:
        raise TestimonyNotFound()
    return testimony


def update(
    session: Session,
    *,
    access: CaseAccess,
    testimony: Testimony,
    patch: TestimonyPatch,
    if_match: str | None,
) -> Testimony:
    require_match(if_match, etag_for(testimony.version))
    sent = patch.model_dump(exclude_unset=True)
    merged = {**{f: getattr(testimony, f) for f in _FIELDS}, **sent}
    try:
        TestimonyCreate.model_validate({**merged, "witness_id": testimony.witness_id})
    except ValidationError as exc:
        raise validation_problem(exc) from exc
    new_interviewer = sent.get("interviewer_id")
    if new_interviewer is not None and new_interviewer != testimony.interviewer_id:
        _require_interviewer(session, new_interviewer, access)
    before = _facts(testimony)
    texts_before = protection.text_values(testimony)
    for field, value in sent.items():
        setattr(testimony, field, value)
    if testimony.translation and not testimony.translation_language:
        testimony.translation_language = "en"
    changes = audit.changes(before, _facts(testimony))
    if not changes:
        return testimony
    testimony.updated_at = utcnow()
    protection.protect(
        session,
        testimony,
        case_ids=[testimony.case_id],
        author=access.principal.user_id,
        changed=protection.changed_texts(testimony, texts_before),
    )
    try:
        session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed("The testimony changed meanwhile; fetch it again.") from exc
    changes = change_refs(session, changes, TEXTS)
    _record(session, access, testimony, "testimony.updated", {"changes": changes})
    return testimony


def list_for_case(
    session: Session, *, access: CaseAccess, page: PageParams
) -> tuple[list[Testimony], str | None]:
    listing = f"testimonies:{access.case.id}"
    query = (
        select(Testimony)
        .where(Testimony.case_id == access.case.id)
        .order_by(Testimony.created_at.desc(), Testimony.id.desc())
        .limit(page.limit + 1)
    )
    if page.cursor:
        position = decode_cursor(listing, page.cursor)
        query = query.where(after_position(Testimony.created_at, Testimony.id, position))
    rows = list(session.scalars(query))
    return rows[: page.limit], next_cursor(listing, rows, page.limit)


def reads(
    session: Session, testimonies: list[Testimony], reader: Reader | None
) -> list[TestimonyRead]:
    """The testimonies as `reader` may see their texts (None: as written)."""
    pseudonyms = dict(
        session.execute(
            select(Witness.id, Witness.pseudonym).where(
                Witness.id.in_({t.witness_id for t in testimonies})
            )
        ).all()
    )
    return [
        TestimonyRead(
            id=t.id,
            case_id=t.case_id,
            witness_id=t.witness_id,
            witness_pseudonym=pseudonyms[t.witness_id],
            created_by=t.created_by_id,
            created_at=t.created_at,
            updated_at=t.updated_at,
            version=t.version,
            **_fields(t, reader),
        )
        for t in testimonies
    ]


def _fields(testimony: Testimony, reader: Reader | None) -> dict[str, Any]:
    values = {f: getattr(testimony, f) for f in _FIELDS}
    if reader is not None:
        values.update({f: shown(testimony, f, reader) for f in TEXTS})
    return values


def _facts(testimony: Testimony) -> dict[str, Any]:
    """What the audit trail keeps of a testimony (its texts go in as references)."""
    return {
        "witness_id": str(testimony.witness_id),
        "recorded_at": testimony.recorded_at.isoformat(),
        "place": testimony.place,
        "interviewer_id": str(testimony.interviewer_id) if testimony.interviewer_id else None,
        "language": testimony.language,
        "translation_language": testimony.translation_language,
        "statement": testimony.statement,
        "translation": testimony.translation,
    }


def _record(
    session: Session, access: CaseAccess, testimony: Testimony, action: str, payload: dict[str, Any]
) -> None:
    audit.record(
        session,
        chain=case_chain(access.case.id),
        action=action,
        resource_type="testimony",
        resource_id=testimony.id,
        actor_id=access.principal.user_id,
        case_id=access.case.id,
        payload=payload,
    )


def _require_witness_of(session: Session, witness_id: uuid.UUID, case_id: uuid.UUID) -> None:
    # The same answer whether the witness does not exist or belongs to other cases only.
    if session.get(WitnessCase, (witness_id, case_id)) is None:
        raise invalid_field("witness_id", "is not a witness of this case")


def _require_interviewer(session: Session, user_id: uuid.UUID, access: CaseAccess) -> None:
    """An interviewer is an active member of the case (or the caller, whose access was
    checked). One answer for a stranger, a deactivated user and no user at all: naming ids
    must not tell who exists, nor put an outsider's name on the case's testimonies."""
    user = session.get(User, user_id)
    member = user_id == access.principal.user_id or (
        session.get(CaseMember, (access.case.id, user_id)) is not None
    )
    if user is None or not user.active or not member:
        raise invalid_field("interviewer_id", "is not an active member of this case")
