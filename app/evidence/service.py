"""Evidence: recording what arrived (after its bytes are durably stored), reading it back,
verifying it, withdrawing it. Evidence is never modified or deleted.

Order of an ingest, so that nothing is ever half-made: the bytes are stored and fingerprinted
first (outside any transaction); then, in one transaction, the metadata is checked, a
duplicate refused, the exhibit number taken, the row and its audit event written. If that
transaction fails, the object is discarded (or, if even that fails, left for `casefile storage
reconcile`): there is never a row pointing at nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import service as audit
from app.audit.canonical import case_chain
from app.audit.texts import text_ref
from app.auth.dependencies import CaseAccess
from app.db import utcnow
from app.errors import AppError, Conflict, NotFound, PreconditionFailed
from app.evidence.inspect import extract_metadata, sniff_media_type
from app.evidence.schemas import (
    EvidenceMetadata,
    EvidenceRead,
    ExtractedMetadata,
    IntegrityStatus,
    Provenance,
    VerificationResult,
    Withdrawal,
)
from app.kit.counters import increment_counter
from app.kit.pagination import PageParams, Position, decode_cursor, encode_cursor
from app.kit.problems import invalid_field, validation_problem
from app.models.case import Case
from app.models.evidence import EvidenceItem, Upload
from app.models.site_visit import SiteVisitCase
from app.models.testimony import Testimony
from app.protection import service as protection
from app.protection.fields import EVIDENCE as EVIDENCE_TEXTS
from app.protection.matcher import MARKER
from app.protection.policy import Reader, shown
from app.storage import ObjectMissing, ObjectStore, StoredObject

log = logging.getLogger("casefile.evidence")

_PROVENANCE = (
    "source",
    "source_url",
    "platform",
    "collected_by",
    "collected_at",
    "collection_method",
    "online_identity",
    "captured_by",
    "device",
    "site_visit_id",
    "testimony_id",
)


class EvidenceNotFound(NotFound):
    slug, title = "evidence-not-found", "Evidence not found"


class DuplicateEvidence(Conflict):
    slug, title = "duplicate-evidence", "These bytes are already evidence in this case"


class AlreadyWithdrawn(Conflict):
    slug, title = "already-withdrawn", "The evidence item is already withdrawn"


@dataclass(frozen=True)
class Arrival:
    """An upload whose bytes are stored: what the store and the fingerprint say."""

    evidence_id: uuid.UUID
    stored: StoredObject
    sha256: str
    crc32: int
    size: int
    head: bytes
    filename: str
    declared_media_type: str | None


def object_key(case_id: uuid.UUID, evidence_id: uuid.UUID) -> str:
    return f"evidence/{case_id}/{evidence_id}"


def parse_metadata(fields: dict[str, str]) -> EvidenceMetadata:
    """Form fields (all strings) as metadata; empty strings mean "not given"."""
    try:
        return EvidenceMetadata.model_validate({k: v for k, v in fields.items() if v != ""})
    except ValidationError as exc:
        raise validation_problem(exc) from exc


def record_arrival(
    session: Session,
    *,
    access: CaseAccess,
    arrival: Arrival,
    metadata: EvidenceMetadata,
    retention: timedelta | None,
    store: ObjectStore,
) -> EvidenceItem:
    """The evidence row and its audit event, in the caller's transaction."""
    # Taking the exhibit number first locks the case's counter row: concurrent arrivals in one
    # case queue here, so the duplicate check below sees whatever the previous one committed.
    seq = _next_exhibit(session, access.case.id)
    existing = _same_bytes(session, access.case.id, arrival.sha256)
    if existing is not None:
        raise _duplicate(existing)
    _check_links(session, access.case.id, metadata)
    media_type = sniff_media_type(arrival.head)
    extracted = extract_metadata(media_type, arrival.head, arrival.size)
    retained_until = None
    if retention is not None:
        retained_until = utcnow() + retention
        store.retain(arrival.stored, retained_until)
    item = EvidenceItem(
        id=arrival.evidence_id,
        case_id=access.case.id,
        exhibit_seq=seq,
        exhibit_number=f"{exhibit_prefix(access.case)}-{seq:04d}",
        object_key=arrival.stored.key,
        object_version=arrival.stored.version_id,
        sha256=arrival.sha256,
        crc32=arrival.crc32,
        size=arrival.size,
        media_type=media_type,
        declared_media_type=arrival.declared_media_type,
        original_filename=arrival.filename,
        kind=metadata.kind.value,
        title=metadata.title,
        description=metadata.description,
        captured_at=metadata.captured_at,
        extracted_metadata=json.dumps(extracted) if extracted is not None else None,
        uploaded_by_id=access.principal.user_id,
        retained_until=retained_until,
        **{f: _plain(getattr(metadata, f)) for f in _PROVENANCE},
    )
    protection.protect(
        session,
        item,
        case_ids=[access.case.id],
        author=access.principal.user_id,
        changed=protection.text_values(item),
    )
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError:
        existing = _same_bytes(session, access.case.id, arrival.sha256)
        if existing is None:
            raise
        raise _duplicate(existing) from None
    _record(session, access, item, "evidence.ingested", _ingest_payload(session, item))
    return item


def _same_bytes(session: Session, case_id: uuid.UUID, sha256: str) -> EvidenceItem | None:
    return session.scalars(
        select(EvidenceItem).where(EvidenceItem.case_id == case_id, EvidenceItem.sha256 == sha256)
    ).first()


def _duplicate(existing: EvidenceItem) -> DuplicateEvidence:
    return DuplicateEvidence(
        f"These bytes are already exhibit {existing.exhibit_number} of this case.",
        extra={"existing": {"id": str(existing.id), "exhibit_number": existing.exhibit_number}},
    )


def _plain(value: Any) -> Any:
    return (
        str(value)
        if value is not None and not isinstance(value, (str, datetime, uuid.UUID))
        else value
    )


def _ingest_payload(session: Session, item: EvidenceItem) -> dict[str, Any]:
    return {
        "exhibit_number": item.exhibit_number,
        "sha256": item.sha256,
        "crc32": item.crc32,
        "size": item.size,
        "media_type": item.media_type,
        "declared_media_type": item.declared_media_type,
        "original_filename": text_ref(session, item.original_filename),
        "kind": item.kind,
        "object_key": item.object_key,
        "object_version": item.object_version,
        "retained_until": item.retained_until.isoformat() if item.retained_until else None,
    }


def _check_links(session: Session, case_id: uuid.UUID, metadata: EvidenceMetadata) -> None:
    if metadata.site_visit_id is not None and (
        session.get(SiteVisitCase, (metadata.site_visit_id, case_id)) is None
    ):
        raise invalid_field("site_visit_id", "is not a site visit of this case")
    if metadata.testimony_id is not None:
        testimony = session.get(Testimony, metadata.testimony_id)
        if testimony is None or testimony.case_id != case_id:
            raise invalid_field("testimony_id", "is not a testimony of this case")


def exhibit_prefix(case: Case) -> str:
    """MRT for Martuni, GNJ for Ganja: the initial and the next two consonants of the place (or
    title), in Latin letters; EX where there are none."""
    for text in (case.location_name, case.title):
        letters = re.sub(r"[^A-Za-z]", "", (text or "").removeprefix("[DEMO]"))
        if letters:
            first, rest = letters[0], [c for c in letters[1:] if c.lower() not in "aeiouy"]
            return (first + "".join(rest[:2])).upper()
    return "EX"


def _next_exhibit(session: Session, case_id: uuid.UUID) -> int:
    """Exhibit numbers count per case, and are never reused."""
    return increment_counter(session, f"exhibit:{case_id}")


def _record(
    session: Session, access: CaseAccess, item: EvidenceItem, action: str, payload: dict[str, Any]
) -> None:
    audit.record(
        session,
        chain=case_chain(item.case_id),
        action=action,
        resource_type="evidence",
        resource_id=item.id,
        actor_id=access.principal.user_id,
        case_id=item.case_id,
        payload=payload,
    )


def custody_resources(session: Session, evidence_id: uuid.UUID) -> list[tuple[str, str]]:
    """What an item's chain of custody is made of: the item, and the resumable upload that
    brought it in (its events come first: custody begins when the upload started)."""
    uploads = session.scalars(select(Upload.id).where(Upload.evidence_id == evidence_id))
    return [("evidence", str(evidence_id)), *(("upload", str(upload)) for upload in uploads)]


def complete_upload_row(session: Session, upload_id: uuid.UUID, evidence_id: uuid.UUID) -> None:
    """A resumable upload's row points at its evidence item, in the item's own transaction."""
    upload = session.get(Upload, upload_id, with_for_update=True)
    if upload is None or upload.evidence_id is not None:
        raise Conflict("This upload was completed or terminated by another request.")
    upload.evidence_id = evidence_id
    upload.updated_at = utcnow()


# -- reading ----------------------------------------------------------------------------------
def get(session: Session, evidence_id: uuid.UUID) -> EvidenceItem:
    item = session.get(EvidenceItem, evidence_id)
    if item is None:
        raise EvidenceNotFound()
    return item


def list_for_case(
    session: Session, *, case_id: uuid.UUID, page: PageParams, withdrawn: bool | None
) -> tuple[list[EvidenceItem], str | None]:
    listing = f"evidence:{case_id}"
    query = (
        select(EvidenceItem)
        .where(EvidenceItem.case_id == case_id)
        .order_by(EvidenceItem.uploaded_at.desc(), EvidenceItem.id.desc())
        .limit(page.limit + 1)
    )
    if withdrawn is not None:
        query = query.where(
            EvidenceItem.withdrawn_at.is_not(None)
            if withdrawn
            else EvidenceItem.withdrawn_at.is_(None)
        )
    if page.cursor:
        position = decode_cursor(listing, page.cursor)
        query = query.where(
            (EvidenceItem.uploaded_at < position.created_at)
            | ((EvidenceItem.uploaded_at == position.created_at) & (EvidenceItem.id < position.id))
        )
    rows = list(session.scalars(query))
    cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1]
        cursor = encode_cursor(listing, Position(created_at=last.uploaded_at, id=last.id))
    return rows[: page.limit], cursor


def read(item: EvidenceItem, reader: Reader | None) -> EvidenceRead:
    """The item as `reader` may see its texts (None: as written, for the server's own use)."""
    text = {f: getattr(item, f) for f in EVIDENCE_TEXTS.texts}
    if reader is not None:
        text = {f: shown(item, f, reader) for f in text}
    return EvidenceRead(
        id=item.id,
        case_id=item.case_id,
        exhibit_number=item.exhibit_number,
        sha256=item.sha256,
        crc32=item.crc32,
        size=item.size,
        media_type=item.media_type,
        declared_media_type=text["declared_media_type"],
        original_filename=text["original_filename"] or "",
        kind=item.kind,  # type: ignore[arg-type]
        title=text["title"],
        description=text["description"],
        captured_at=item.captured_at,
        provenance=Provenance(
            **{f: text[f] if f in text else getattr(item, f) for f in _PROVENANCE}
        ),
        extracted=_extracted(text["extracted_metadata"]),
        uploaded_by=item.uploaded_by_id,
        uploaded_at=item.uploaded_at,
        retained_until=item.retained_until,
        withdrawn=Withdrawal(
            at=item.withdrawn_at, by=item.withdrawn_by_id, reason=text["withdrawal_reason"]
        )
        if item.withdrawn_at and item.withdrawn_by_id and item.withdrawal_reason
        else None,
        version=item.version,
    )


def _extracted(raw: str | None) -> ExtractedMetadata | None:
    if raw is None or raw == MARKER:  # MARKER: not yet computed, withheld whole
        return None
    return ExtractedMetadata.model_validate_json(raw)


def shown_filename(item: EvidenceItem, reader: Reader) -> str:
    return shown(item, "original_filename", reader) or "evidence"


def stored_object(item: EvidenceItem) -> StoredObject:
    return StoredObject(key=item.object_key, size=item.size, version_id=item.object_version)


def record_download(
    session: Session, *, access: CaseAccess, item: EvidenceItem, byte_range: tuple[int, int] | None
) -> None:
    payload: dict[str, Any] = {"exhibit_number": item.exhibit_number, "sha256": item.sha256}
    if byte_range is not None:
        payload["range"] = {"start": byte_range[0], "end": byte_range[1]}
    _record(session, access, item, "evidence.downloaded", payload)


# -- changing ---------------------------------------------------------------------------------
def withdraw(
    session: Session, *, access: CaseAccess, item: EvidenceItem, reason: str
) -> EvidenceItem:
    if item.withdrawn_at is not None:
        raise AlreadyWithdrawn(f"Exhibit {item.exhibit_number} was withdrawn already.")
    now = utcnow()
    item.withdrawn_at, item.withdrawn_by_id, item.withdrawal_reason = (
        now,
        access.principal.user_id,
        reason,
    )
    item.updated_at = now
    protection.protect(
        session,
        item,
        case_ids=[item.case_id],
        author=access.principal.user_id,
        changed=["withdrawal_reason"],
    )
    try:
        session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed("The evidence item changed meanwhile; fetch it again.") from exc
    _record(
        session,
        access,
        item,
        "evidence.withdrawn",
        {"exhibit_number": item.exhibit_number, "reason": text_ref(session, reason)},
    )
    return item


# -- integrity --------------------------------------------------------------------------------
def rehash(store: ObjectStore, item: EvidenceItem) -> tuple[str | None, int | None]:
    """Re-read the original from the store: its SHA-256 and size (None, None if missing)."""
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in store.read(item.object_key, version_id=item.object_version):
            digest.update(chunk)
            size += len(chunk)
    except ObjectMissing:
        return None, None
    return digest.hexdigest(), size


def record_verification(
    session: Session,
    *,
    access: CaseAccess | None,
    item: EvidenceItem,
    found: tuple[str | None, int | None],
    via: str,
) -> VerificationResult:
    sha256, size = found
    status = (
        IntegrityStatus.MISSING
        if sha256 is None
        else (
            IntegrityStatus.INTACT
            if (sha256, size) == (item.sha256, item.size)
            else IntegrityStatus.ALTERED
        )
    )
    now = utcnow()
    audit.record(
        session,
        chain=case_chain(item.case_id),
        action="evidence.verified",
        resource_type="evidence",
        resource_id=item.id,
        actor_id=access.principal.user_id if access else None,
        case_id=item.case_id,
        payload={
            "exhibit_number": item.exhibit_number,
            "status": status.value,
            "expected_sha256": item.sha256,
            "found_sha256": sha256,
            "found_size": size,
            "via": via,
        },
    )
    return VerificationResult(
        evidence_id=item.id,
        exhibit_number=item.exhibit_number,
        status=status,
        expected_sha256=item.sha256,
        found_sha256=sha256,
        expected_size=item.size,
        found_size=size,
        checked_at=now,
    )


def discard_quietly(store: ObjectStore, stored: StoredObject) -> None:
    """Remove an object no row refers to; if that fails too, reconcile will report it."""
    try:
        store.discard(stored)
    except (AppError, ObjectMissing, OSError):
        log.warning("an unreferenced object was left for reconcile", extra={"key": stored.key})
