"""Resumable uploads: their state lives in the database (so it survives restarts and any
server may take the next PATCH), their bytes in the object store's resumable primitives.

A PATCH holds a short lease on its upload so that two PATCHes never append at once; every
database step is its own short transaction, none spans the transfer of bytes. The lease is
renewed every few seconds by the process serving the PATCH, however slow its client, so it can
be short: a server that dies mid-PATCH (SIGKILL, power loss: no `finally` runs) holds the
upload for at most LEASE, and the investigator resumes on another server within half a minute
instead of a quarter of an hour later.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

from sqlalchemy import Update, delete, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.canonical import case_chain
from app.audit.texts import TEXT_KEY, text_ref
from app.auth.dependencies import Principal, case_access
from app.auth.permissions import CasePermission
from app.db import Database, utcnow
from app.errors import AppError, CaseNotFound, Conflict, Forbidden, NotFound, PayloadTooLarge
from app.evidence import service as evidence
from app.evidence.filenames import printable_media_type, safe_filename
from app.evidence.schemas import EvidenceMetadata
from app.kit.problems import invalid_field
from app.models.evidence import Upload
from app.storage import ObjectStore, ResumableState

TUS_VERSION = "1.0.0"
EXPIRY = timedelta(hours=24)
LEASE = timedelta(seconds=30)  # how long a dead server's PATCH blocks its upload, at most
RENEW_EVERY_S = 10.0  # three renewals per lease: one slow database round trip is no loss
MAX_METADATA_PAIRS = 32
# Server-side key of metadata_json: the problem that refused the upload's completion, kept so
# that every later request says why (a client's own key of that name is refused at creation).
REFUSED_KEY = "refused"


class UploadNotFound(NotFound):
    slug, title = "upload-not-found", "Upload not found"


class UploadGone(AppError):
    status, slug, title = 410, "upload-expired", "The upload expired"


class OffsetMismatch(Conflict):
    slug, title = "offset-mismatch", "Upload-Offset does not match the upload"


class UploadBusy(Conflict):
    slug, title = "upload-busy", "Another PATCH is writing to this upload"


class CompletionRefused(AppError):
    """The last PATCH completed a file that the case already holds.

    Not 409: tus clients read 409 as "offset mismatch" and retry it (tus-js-client's and
    Uppy's default), then HEAD the upload, and a HEAD claiming `Upload-Offset ==
    Upload-Length` is success to them. 422 is retried by none of them, so the refusal and the
    exhibit it names (`existing`) reach the user."""

    status, slug, title = 422, "duplicate-evidence", "These bytes are already evidence in this case"


class UploadRefused(AppError):
    """A later request on an upload whose completion was refused: it is gone (410, as an
    expired one), so a client resuming it starts a new upload, whose completion is refused in
    turn with the exhibit named; none takes it for finished."""

    status, slug, title = 410, "upload-refused", "The upload's completion was refused"


@dataclass(frozen=True)
class UploadView:
    id: uuid.UUID
    case_id: uuid.UUID
    length: int
    received: int
    expires_at: datetime
    evidence_id: uuid.UUID | None
    metadata: dict[str, str]
    state: ResumableState

    @property
    def evidence_to_be(self) -> uuid.UUID:
        return uuid.UUID(self.metadata["evidence_id"])

    @property
    def refusal(self) -> UploadRefused | None:
        """Why its completion was refused, for every request after the refusal."""
        kept = self.metadata.get(REFUSED_KEY)
        if kept is None:
            return None
        problem = json.loads(kept)
        existing = problem.get("existing", {})
        headers = {"Casefile-Existing-Evidence-Id": existing["id"]} if "id" in existing else {}
        return UploadRefused(problem["detail"], headers=headers, extra={"existing": existing})


def view(upload: Upload) -> UploadView:
    return UploadView(
        id=upload.id,
        case_id=upload.case_id,
        length=upload.length,
        received=upload.received,
        expires_at=upload.expires_at,
        evidence_id=upload.evidence_id,
        metadata=json.loads(upload.metadata_json),
        state=json.loads(upload.storage_state),
    )


def parse_metadata_header(header: str | None) -> dict[str, str]:
    """tus Upload-Metadata: comma-separated `key base64(value)` pairs."""
    pairs: dict[str, str] = {}
    for item in (header or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, _, encoded = item.partition(" ")
        if not key.isascii() or not key.isprintable():
            raise invalid_field("Upload-Metadata", "has a malformed key", location="header")
        if key in pairs:  # which one counts is up to each parser: refused, not guessed
            raise invalid_field(
                "Upload-Metadata", f"gives the key '{key[:100]}' more than once", location="header"
            )
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise invalid_field(
                "Upload-Metadata", f"value of '{key}' is not base64 UTF-8", location="header"
            ) from exc
        if len(pairs) > MAX_METADATA_PAIRS:
            raise invalid_field("Upload-Metadata", "has too many keys", location="header")
    return pairs


# Not evidence fields: where the upload goes, and what common tus clients (tus-js-client, Uppy)
# send about the file on their own. `filetype`/`type` become the declared media type.
NON_EVIDENCE_KEYS = frozenset(
    {
        "case_id",
        "filename",
        "evidence_id",
        "filename_ref",
        "filetype",
        "type",
        "name",
        "relativePath",
    }
)
MAX_DECLARED_TYPE = 200


def evidence_metadata(pairs: dict[str, str]) -> EvidenceMetadata:
    """The evidence fields among the pairs; any other key (a typo of one) is refused."""
    fields = {k: v for k, v in pairs.items() if k not in NON_EVIDENCE_KEYS}
    return evidence.parse_metadata(fields)


def declared_media_type(pairs: dict[str, str]) -> str | None:
    """The client's `filetype` (or `type`), kept for the record: printable ASCII or refused."""
    declared = pairs.get("filetype") or pairs.get("type")
    if declared and not printable_media_type(declared):
        raise invalid_field(
            "Upload-Metadata", "filetype must be printable ASCII", location="header"
        )
    return declared[:MAX_DECLARED_TYPE] if declared else None


def create(
    session: Session,
    *,
    principal: Principal,
    length: int,
    pairs: dict[str, str],
    store: ObjectStore,
    max_bytes: int,
) -> Upload:
    for required in ("case_id", "filename"):
        if required not in pairs:
            raise invalid_field("Upload-Metadata", f"needs '{required}'", location="header")
    try:
        case_id = uuid.UUID(pairs["case_id"])
    except ValueError as exc:
        raise invalid_field("Upload-Metadata", "case_id is not a UUID", location="header") from exc
    access = case_access(session, principal, case_id)
    if not access.allows(CasePermission.EDIT):
        raise Forbidden("Your role on this case does not allow adding evidence.")
    evidence_metadata(pairs)  # refuse bad metadata now, not after gigabytes
    declared_media_type(pairs)
    if length > max_bytes:
        raise PayloadTooLarge(f"Files over {max_bytes} bytes are refused.")
    evidence_id = uuid.uuid4()
    state = store.start_resumable(evidence.object_key(case_id, evidence_id))
    upload = Upload(
        case_id=case_id,
        user_id=principal.user_id,
        length=length,
        received=0,
        metadata_json=json.dumps(
            {
                **pairs,
                "filename": (filename := safe_filename(pairs["filename"])),
                "evidence_id": str(evidence_id),
                # The file's name goes into the upload's events by reference (app.audit.texts).
                "filename_ref": (text_ref(session, filename) or {})[TEXT_KEY],
            }
        ),
        storage_state=json.dumps(state),
        expires_at=utcnow() + EXPIRY,
    )
    session.add(upload)
    session.flush()
    _record(session, upload, "upload.started", principal.user_id, {"length": length})
    return upload


def _record(
    session: Session, upload: Upload, action: str, actor: uuid.UUID | None, extra: dict[str, Any]
) -> None:
    pairs = json.loads(upload.metadata_json)
    audit.record(
        session,
        chain=case_chain(upload.case_id),
        action=action,
        resource_type="upload",
        resource_id=upload.id,
        actor_id=actor,
        case_id=upload.case_id,
        payload={
            "filename": {TEXT_KEY: pairs["filename_ref"]}
            if "filename_ref" in pairs
            else pairs["filename"],  # an upload begun before text references
            "evidence_id": pairs["evidence_id"],
            **extra,
        },
    )


def load(session: Session, principal: Principal, upload_id: uuid.UUID) -> Upload:
    """The caller's own upload (admins: any); another's is not found. The right to add
    evidence to its case is checked again, as at creation: a member removed from the case
    since loses their uploads (404, as the case is to them), a member made a viewer may no
    longer send or complete one (403)."""
    upload = session.get(Upload, upload_id)
    if upload is None or (upload.user_id != principal.user_id and not principal.is_admin):
        raise UploadNotFound()
    try:
        access = case_access(session, principal, upload.case_id)
    except CaseNotFound:
        raise UploadNotFound() from None
    if not access.allows(CasePermission.EDIT):
        raise Forbidden("Your role on this case no longer allows adding evidence.")
    if upload.evidence_id is None and upload.expires_at <= utcnow():
        raise UploadGone("This upload expired; start a new one.")
    return upload


@dataclass
class Hold:
    """One PATCH's claim on its upload. Its expiry doubles as the claim's identity: renewing,
    recording and releasing all match on it, so a PATCH whose hold lapsed and was taken by
    another can change nothing."""

    upload_id: uuid.UUID
    offset: int
    until: datetime
    lost: bool = False


def lease(
    database: Database, principal: Principal, upload_id: uuid.UUID, offset: int
) -> tuple[UploadView, Hold]:
    """Take the upload for one PATCH at `offset`, or say why not (409, 404, 410)."""
    now = utcnow()
    until = now + LEASE
    with database.write_sessions.begin() as session:
        upload = load(session, principal, upload_id)
        refusal = view(upload).refusal
        if refusal is not None:
            raise refusal
        if upload.evidence_id is not None or upload.received == upload.length:
            raise OffsetMismatch("This upload is complete.")
        if upload.received != offset:
            raise OffsetMismatch(f"The upload holds {upload.received} bytes, not {offset}.")
        taken = session.execute(
            update(Upload)
            .where(
                Upload.id == upload_id,
                Upload.received == offset,
                (Upload.lease_until.is_(None)) | (Upload.lease_until < now),
            )
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise UploadBusy("Another request is appending to this upload; retry shortly.")
        session.refresh(upload)
        return view(upload), Hold(upload_id, offset, until)


def renew(database: Database, hold: Hold) -> None:
    """Extend a live PATCH's hold; if it lapsed and was taken meanwhile, mark it lost."""
    until = utcnow() + LEASE
    with database.write_sessions.begin() as session:
        renewed = session.execute(
            _held(hold).values(lease_until=until).execution_options(synchronize_session=False)
        )
        if renewed.rowcount != 1:  # type: ignore[attr-defined]
            hold.lost = True
            return
    hold.until = until


def _held(hold: Hold) -> Update:
    return update(Upload).where(
        Upload.id == hold.upload_id,
        Upload.received == hold.offset,
        Upload.lease_until == hold.until,
    )


def record_append(database: Database, hold: Hold, received: int, state: ResumableState) -> None:
    with database.write_sessions.begin() as session:
        done = session.execute(
            _held(hold)
            .values(
                received=received,
                storage_state=json.dumps(state),
                lease_until=None,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise UploadBusy("The upload changed during this PATCH; ask for its offset again.")


def refuse(database: Database, upload_id: uuid.UUID, detail: str, extra: dict[str, Any]) -> None:
    """Remember why the upload's completion was refused (its bytes are discarded by then)."""
    with database.write_sessions.begin() as session:
        upload = session.get(Upload, upload_id, with_for_update=True)
        if upload is None or upload.evidence_id is not None:
            return
        pairs = json.loads(upload.metadata_json)
        pairs[REFUSED_KEY] = json.dumps({"detail": detail, **extra})
        upload.metadata_json = json.dumps(pairs)
        upload.updated_at = utcnow()


def release(database: Database, hold: Hold) -> None:
    """Give the upload back after a failed PATCH (unless another PATCH holds it by now)."""
    with database.write_sessions.begin() as session:
        session.execute(
            _held(hold).values(lease_until=None).execution_options(synchronize_session=False)
        )


def forget(
    database: Database,
    store: ObjectStore,
    upload_id: uuid.UUID,
    *,
    actor: uuid.UUID | None,
    reason: str,
) -> None:
    """Terminate: the bytes and the row go (an upload is not evidence until it completes)."""
    with database.write_sessions.begin() as session:
        upload = session.get(Upload, upload_id, with_for_update=True)
        if upload is None:
            return
        if upload.evidence_id is not None:
            raise Conflict("A completed upload is evidence now; withdraw it instead.")
        state = json.loads(upload.storage_state)
        _record(session, upload, f"upload.{reason}", actor, {"received": upload.received})
        session.execute(delete(Upload).where(Upload.id == upload_id))
    store.abort_resumable(state)


def purge_expired(database: Database, store: ObjectStore, limit: int = 20) -> int:
    """Drop incomplete uploads past their expiry (and their bytes)."""
    with database.read_sessions() as session:
        expired = list(
            session.scalars(
                select(Upload.id)
                .where(Upload.evidence_id.is_(None), Upload.expires_at < utcnow())
                .limit(limit)
            )
        )
    for upload_id in expired:
        forget(database, store, upload_id, actor=None, reason="expired")
    return len(expired)


def headers_for(upload: UploadView) -> dict[str, str]:
    headers = {
        "Upload-Offset": str(upload.received),
        "Upload-Length": str(upload.length),
        "Upload-Expires": format_datetime(upload.expires_at, usegmt=True),
    }
    if upload.evidence_id is not None:
        headers["Casefile-Evidence-Id"] = str(upload.evidence_id)
    return headers
