"""The short write transaction that turns stored, fingerprinted bytes into an evidence item;
shared by the multipart upload and the completion of a resumable (tus) upload."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.auth.dependencies import Principal, case_access
from app.auth.permissions import CasePermission
from app.config import Settings
from app.db import Database
from app.errors import Forbidden
from app.evidence import service
from app.evidence.schemas import EvidenceMetadata
from app.kit.etag import etag_for
from app.kit.idempotency import IdempotencyClaim, claim_or_replay, fingerprint
from app.models.evidence import EvidenceItem
from app.protection.policy import reader_of
from app.storage import ObjectStore, S3ObjectStore


@dataclass(frozen=True)
class Ingest:
    """What a commit needs from the running app."""

    database: Database
    store: ObjectStore
    retention: timedelta | None

    @classmethod
    def from_app(cls, app: Any) -> Ingest:
        settings: Settings = app.state.settings
        store: ObjectStore = app.state.object_store
        retention = None
        if settings.s3_object_lock_days and isinstance(store, S3ObjectStore):
            retention = timedelta(days=settings.s3_object_lock_days)
        return cls(database=app.state.database, store=store, retention=retention)


def commit_arrival(
    ingest: Ingest,
    *,
    principal: Principal,
    case_id: uuid.UUID,
    arrival: service.Arrival,
    metadata: EvidenceMetadata,
    idempotency: tuple[str, str] | None = None,
    upload_id: uuid.UUID | None = None,
) -> EvidenceItem:
    """Record the arrival; the caller discards the object if this raises."""
    with ingest.database.write_sessions.begin() as session:
        access = case_access(session, principal, case_id)  # it may have changed meanwhile
        if not access.allows(CasePermission.EDIT):
            raise Forbidden("Your role on this case does not allow adding evidence.")
        claim = None
        if idempotency is not None:
            key, path = idempotency
            # The request is its file (by digest), its name and declared type, and its metadata.
            what = json.dumps(
                {
                    "sha256": arrival.sha256,
                    "filename": arrival.filename,
                    "declared_media_type": arrival.declared_media_type,
                    "metadata": metadata.model_dump(mode="json"),
                },
                sort_keys=True,
            )
            claim = claim_or_replay(
                session,
                IdempotencyClaim(
                    user_id=principal.user_id,
                    key=key,
                    request_sha256=fingerprint("POST", path, what.encode()),
                ),
                None,
            )
        item = service.record_arrival(
            session,
            access=access,
            arrival=arrival,
            metadata=metadata,
            retention=ingest.retention,
            store=ingest.store,
        )
        if upload_id is not None:
            service.complete_upload_row(session, upload_id, item.id)
        if claim is not None:
            claim.remember(
                session,
                service.read(item, reader_of(access)),
                status_code=201,
                location=f"/api/v1/evidence/{item.id}",
                etag=etag_for(item.version),
            )
        session.expunge(item)
    return item
