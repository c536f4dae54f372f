"""tus 1.0 at /api/v1/uploads: core, creation, checksum (sha1, sha256), expiration, termination.

Completing an upload creates the evidence item exactly as the multipart endpoint does; its id is
in the `Casefile-Evidence-Id` header of the last PATCH and of every HEAD afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import Path, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth.dependencies import CurrentPrincipal, Principal
from app.db import Database, DbSession, own_transactions, release_early
from app.errors import AppError, Forbidden, PayloadTooLarge
from app.evidence import service as evidence
from app.evidence.commit import Ingest, commit_arrival
from app.evidence.ingest import ClientGone, Fingerprint, UploadTimeout, request_chunks
from app.kit.idempotency import (
    IdempotencyClaim,
    IdempotentReplay,
    claim_or_replay,
    fingerprint,
    valid_idempotency_key,
)
from app.kit.pipeline import Slice, SliceWriter
from app.kit.problems import problem_responses
from app.kit.routing import api_router, body_limit
from app.kit.schemas import ReadSchema
from app.storage import ObjectMissing, ObjectStore, StoredObject
from app.storage.base import Bytes
from app.uploads import service
from app.uploads.service import TUS_VERSION, UploadView

log = logging.getLogger(__name__)
router = api_router(prefix="/api/v1/uploads", tags=["uploads"])

UploadId = Annotated[uuid.UUID, Path(description="The upload's id.")]
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION}
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
SLICE_BYTES = 1024 * 1024


_WHOLE_NUMBER = {"type": "string", "pattern": "^[0-9]+$"}


def _tus_parameters(*headers: tuple[str, bool, dict[str, Any]]) -> list[dict[str, Any]]:
    """The request headers of a tus operation. Tus-Resumable is on all of them: tus refuses a
    request without it (412) before reading anything else, so a client that follows the
    document must know to send it."""
    version = ("Tus-Resumable", True, {"type": "string", "enum": [TUS_VERSION]})
    return [
        {"in": "header", "name": name, "required": required, "schema": schema}
        for name, required, schema in (version, *headers)
    ]


class TusVersionUnsupported(AppError):
    status, slug, title = 412, "tus-version", "Tus-Resumable 1.0.0 required"

    def __init__(self) -> None:
        super().__init__(
            "Send Tus-Resumable: 1.0.0.", headers={"Tus-Version": TUS_VERSION, **TUS_HEADERS}
        )


class ChecksumMismatch(AppError):
    status, slug, title = 460, "checksum-mismatch", "Checksum mismatch"


class UnsupportedMediaType(AppError):
    status, slug, title = (
        415,
        "unsupported-media-type",
        "Content-Type must be application/offset+octet-stream",
    )


class BadChecksumAlgorithm(AppError):
    status, slug, title = 400, "checksum-algorithm", "Unsupported checksum algorithm"


class MalformedChecksum(AppError):
    status, slug, title = 400, "malformed-checksum", "Malformed Upload-Checksum"


def _require_tus(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise TusVersionUnsupported()


def _max_bytes(request: Request) -> int:
    return int(request.app.state.settings.max_upload_bytes)


@router.options(
    "",
    operation_id="getUploadCapabilities",
    summary="tus discovery: version, extensions, size limit, checksum algorithms",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401),
)
def upload_capabilities(request: Request, _principal: CurrentPrincipal) -> Response:
    return Response(
        status_code=204,
        headers={
            **TUS_HEADERS,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": "creation,checksum,expiration,termination",
            "Tus-Max-Size": str(_max_bytes(request)),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        },
    )


class UploadCreated(ReadSchema):
    id: uuid.UUID
    length: int
    expires_at: datetime


@router.post(
    "",
    operation_id="createUpload",
    summary="Start a resumable upload (tus creation; metadata case_id and filename required)",
    status_code=201,
    response_model=UploadCreated,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 422, success=201, location=True),
    openapi_extra={
        "parameters": _tus_parameters(
            ("Upload-Length", True, _WHOLE_NUMBER),
            ("Upload-Metadata", True, {"type": "string"}),
            ("Idempotency-Key", False, {"type": "string"}),
        )
    },
)
@own_transactions
def create_upload(request: Request, principal: CurrentPrincipal, session: DbSession) -> Response:
    _require_tus(request)
    length_header = request.headers.get("upload-length", "")
    if not _whole_number(length_header):
        raise AppError("Upload-Length (a whole number of bytes) is required.", headers=TUS_HEADERS)
    pairs = service.parse_metadata_header(request.headers.get("upload-metadata"))
    key = valid_idempotency_key(request.headers.get("idempotency-key"))
    release_early(session)
    store: ObjectStore = request.app.state.object_store
    database: Database = request.app.state.database
    service.purge_expired(database, store)
    with database.write_sessions.begin() as tx:
        claim = None
        if key is not None:
            what = f"{length_header}\n{request.headers.get('upload-metadata', '')}".encode()
            try:
                claim = claim_or_replay(
                    tx,
                    IdempotencyClaim(
                        principal.user_id, key, fingerprint("POST", request.url.path, what)
                    ),
                    None,
                )
            except IdempotentReplay as replay:
                _describe_replayed(tx, principal, replay.response)
                raise
        upload = service.create(
            tx,
            principal=principal,
            length=int(length_header),
            pairs=pairs,
            store=store,
            max_bytes=_max_bytes(request),
        )
        created = service.view(upload)
        answer = UploadCreated(id=created.id, length=created.length, expires_at=created.expires_at)
        if claim is not None:
            claim.remember(tx, answer, status_code=201, location=f"/api/v1/uploads/{created.id}")
    headers = {**TUS_HEADERS, "Location": f"/api/v1/uploads/{upload.id}"}
    if created.length == 0:  # nothing to send: complete at once
        item_id = _complete(request, principal, created, created.state)
        headers["Casefile-Evidence-Id"] = str(item_id)
    return Response(
        content=answer.model_dump_json(),
        media_type="application/json",
        status_code=201,
        headers={**headers, **_expires(created)},
    )


def _describe_replayed(session: Session, principal: Principal, response: Response) -> None:
    """A replayed creation answers with the upload's headers as they are now, as the first
    answer did: its expiry and, once complete, its evidence item."""
    try:
        upload_id = uuid.UUID(json.loads(bytes(response.body))["id"])
        upload = service.view(service.load(session, principal, upload_id))
    except (ValueError, KeyError, TypeError, service.UploadNotFound, Forbidden):
        return  # terminated, expired or out of reach since: the remembered answer is all there is
    if upload.evidence_id is not None:
        response.headers["Casefile-Evidence-Id"] = str(upload.evidence_id)
    else:
        response.headers.update(_expires(upload))


def _expires(upload: UploadView) -> dict[str, str]:
    return {"Upload-Expires": service.headers_for(upload)["Upload-Expires"]}


@router.head(
    "/{upload_id}",
    operation_id="getUploadOffset",
    summary="How many bytes the server holds (tus core)",
    response_class=Response,
    responses=problem_responses(401, 403, 404, 410, 412, 422),
    openapi_extra={"parameters": _tus_parameters()},
)
def upload_offset(
    request: Request, upload_id: UploadId, principal: CurrentPrincipal, session: DbSession
) -> Response:
    _require_tus(request)
    upload = service.view(service.load(session, principal, upload_id))
    refusal = upload.refusal
    if refusal is not None:
        raise refusal
    return Response(
        status_code=200,
        headers={**TUS_HEADERS, **service.headers_for(upload), "Cache-Control": "no-store"},
    )


@router.patch(
    "/{upload_id}",
    operation_id="appendUpload",
    summary="Append bytes at Upload-Offset (tus core; Upload-Checksum optional)",
    status_code=204,
    response_class=Response,
    responses=problem_responses(400, 401, 403, 404, 409, 410, 412, 413, 415, 422, 460, 503),
    openapi_extra={
        "parameters": _tus_parameters(
            ("Upload-Offset", True, _WHOLE_NUMBER),
            ("Upload-Checksum", False, {"type": "string"}),
        ),
        "requestBody": {
            "required": True,
            "content": {
                "application/offset+octet-stream": {
                    "schema": {"type": "string", "format": "binary"}
                }
            },
        },
    },
)
@own_transactions
@body_limit(2**62)  # bounded by the upload's own length while streaming
async def append_upload(
    request: Request, upload_id: UploadId, principal: CurrentPrincipal, session: DbSession
) -> Response:
    _require_tus(request)
    if (
        request.headers.get("content-type", "").split(";")[0].strip()
        != "application/offset+octet-stream"
    ):
        raise UnsupportedMediaType("Send the bytes as application/offset+octet-stream.")
    offset_header = request.headers.get("upload-offset", "")
    if not _whole_number(offset_header):
        raise AppError("Upload-Offset (a whole number) is required.", headers=TUS_HEADERS)
    checksum = _parse_checksum(request.headers.get("upload-checksum"))
    await run_in_threadpool(release_early, session)
    database: Database = request.app.state.database
    store: ObjectStore = request.app.state.object_store
    upload, hold = await run_in_threadpool(
        service.lease, database, principal, upload_id, int(offset_header)
    )
    try:
        async with _kept(database, hold):
            received, state, interrupted = await _append(request, store, upload, checksum, hold)
    except ObjectMissing as exc:  # terminated (its storage released) while this PATCH ran
        await run_in_threadpool(service.release, database, hold)
        raise service.UploadNotFound() from exc
    except BaseException:
        await run_in_threadpool(service.release, database, hold)
        raise
    try:
        await run_in_threadpool(service.record_append, database, hold, received, state)
    except BaseException:
        # Not recorded (terminated or taken over meanwhile): what only this append stored
        # would otherwise be left behind for good.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(store.release_resumable, state, upload.state)
        raise
    await run_in_threadpool(store.release_resumable, upload.state, state)
    headers = {**TUS_HEADERS, "Upload-Offset": str(received)}
    if received < upload.length:
        headers.update(_expires(upload))
    if received == upload.length:
        item_id = await run_in_threadpool(_complete, request, principal, upload, state)
        headers["Casefile-Evidence-Id"] = str(item_id)
    if interrupted is not None:  # what arrived is kept and recorded; the PATCH still failed
        raise interrupted
    return Response(status_code=204, headers=headers)


@asynccontextmanager
async def _kept(database: Database, hold: service.Hold) -> AsyncIterator[None]:
    """Renew the PATCH's hold on a timer while it runs, whatever its client's pace. On exit the
    renewer is cancelled and awaited: a renewal in flight finishes first (threads are not
    abandoned), so the hold's expiry is settled before the append is recorded against it."""

    async def renew_until_cancelled() -> None:
        while not hold.lost:
            await anyio.sleep(service.RENEW_EVERY_S)
            try:
                await run_in_threadpool(service.renew, database, hold)
            except Exception:  # noqa: BLE001 - a database blip: the next renewal may work
                log.warning("could not renew the hold on upload %s", hold.upload_id)

    renewer = asyncio.get_running_loop().create_task(renew_until_cancelled())
    try:
        yield
    finally:
        renewer.cancel()
        with suppress(asyncio.CancelledError):
            await renewer


async def _append(
    request: Request,
    store: ObjectStore,
    upload: UploadView,
    checksum: tuple[str, bytes] | None,
    hold: service.Hold,
) -> tuple[int, Any, AppError | None]:
    """Stream the body into the upload; return the new offset and state, and the
    interruption, if the body was cut off (client gone, or silent past the stall timeout).

    A cut-off body keeps what arrived (tus core: the server SHOULD accept partial data): the
    store makes it as durable as a complete PATCH's bytes (local: fsynced; S3: the parts
    already sent plus the rest as the upload's tail object), so the next HEAD offers it and the
    client sends only the rest, instead of a whole large file again on every drop. Not with
    Upload-Checksum: a partial body cannot be checked against it, so it is discarded."""
    appender = await run_in_threadpool(store.resumable_appender, upload.state, upload.received)
    room = upload.length - upload.received
    digest = CHECKSUMS[checksum[0]]() if checksum else None
    pending: list[Bytes] = []
    pending_bytes = written = 0
    interrupted: AppError | None = None

    def write(pieces: Slice) -> None:
        for piece in pieces:
            if digest is not None:
                digest.update(piece)
            appender.write(piece)

    slices = SliceWriter(write)
    try:
        try:
            async for chunk in request_chunks(request):
                written += len(chunk)
                if written > room:
                    raise PayloadTooLarge(f"This upload has room for {room} more bytes only.")
                if hold.lost:
                    raise service.UploadBusy(
                        "This PATCH lost its hold on the upload; ask for its offset again."
                    )
                pending.append(chunk)
                pending_bytes += len(chunk)
                if pending_bytes >= SLICE_BYTES:
                    data, pending, pending_bytes = pending, [], 0
                    await slices.send(data)
        except (ClientGone, UploadTimeout) as cut:
            if checksum is not None or written == 0 or hold.lost:
                raise
            interrupted = cut
        with anyio.CancelScope(shield=interrupted is not None):
            if pending:
                await slices.send(pending)
            await slices.finish()
            if checksum is not None and digest is not None and digest.digest() != checksum[1]:
                raise ChecksumMismatch(
                    "Upload-Checksum does not match the bytes of this PATCH; they were discarded.",
                    headers=TUS_HEADERS,
                )
            state, end = await run_in_threadpool(appender.finish)
    except BaseException:
        await slices.settle()
        with anyio.CancelScope(shield=True):  # even when the request itself is cancelled
            await run_in_threadpool(appender.abort)
        raise
    return end, state, interrupted


def _whole_number(header: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '١٢' and '²', which int() reads or not."""
    return 0 < len(header) <= 20 and header.isascii() and header.isdigit()


def _parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise BadChecksumAlgorithm(f"Upload-Checksum algorithms: {', '.join(CHECKSUMS)}.")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedChecksum("Upload-Checksum must be '<algorithm> <base64>'.") from exc
    if len(digest) != CHECKSUMS[algorithm]().digest_size:
        # A digest of the wrong length is a malformed header, not a mismatch of the bytes.
        raise MalformedChecksum(f"Upload-Checksum: a {algorithm} digest has another length.")
    return algorithm, digest


def _complete(request: Request, principal: Principal, upload: UploadView, state: Any) -> uuid.UUID:
    """All bytes are in: place the object, fingerprint it by reading it back (a hash state
    cannot outlive the requests and processes that received the parts), record the item."""
    store: ObjectStore = request.app.state.object_store
    stored = store.finish_resumable(state)
    try:
        fingerprint = _fingerprint(store, stored)
        arrival = evidence.Arrival(
            evidence_id=upload.evidence_to_be,
            stored=stored,
            sha256=fingerprint.sha256,
            crc32=fingerprint.crc32,
            size=fingerprint.size,
            head=bytes(fingerprint.head),
            filename=upload.metadata["filename"],
            declared_media_type=service.declared_media_type(upload.metadata),
        )
        item = commit_arrival(
            Ingest.from_app(request.app),
            principal=principal,
            case_id=upload.case_id,
            arrival=arrival,
            metadata=service.evidence_metadata(upload.metadata),
            upload_id=upload.id,
        )
    except evidence.DuplicateEvidence as duplicate:
        evidence.discard_quietly(store, stored)
        service.refuse(request.app.state.database, upload.id, duplicate.detail, duplicate.extra)
        raise service.CompletionRefused(
            duplicate.detail, headers=_existing(duplicate.extra), extra=duplicate.extra
        ) from None
    except BaseException:
        evidence.discard_quietly(store, stored)
        raise
    return item.id


def _existing(extra: dict[str, Any]) -> dict[str, str]:
    existing = extra.get("existing", {})
    return {"Casefile-Existing-Evidence-Id": existing["id"]} if "id" in existing else {}


def _fingerprint(store: ObjectStore, stored: StoredObject) -> Fingerprint:
    fingerprint = Fingerprint()
    if stored.size:
        for chunk in store.read(stored.key, version_id=stored.version_id):
            fingerprint.update(chunk)
    return fingerprint


@router.delete(
    "/{upload_id}",
    operation_id="terminateUpload",
    summary="Abandon an upload and its bytes (tus termination)",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 410, 412, 422),
    openapi_extra={"parameters": _tus_parameters()},
)
@own_transactions
def terminate_upload(
    request: Request, upload_id: UploadId, principal: CurrentPrincipal, session: DbSession
) -> Response:
    _require_tus(request)
    service.load(session, principal, upload_id)
    release_early(session)
    service.forget(
        request.app.state.database,
        request.app.state.object_store,
        upload_id,
        actor=principal.user_id,
        reason="terminated",
    )
    return Response(status_code=204, headers=TUS_HEADERS)
