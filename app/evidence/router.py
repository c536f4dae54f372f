"""HTTP routes for evidence: upload (streamed), list, read, content (ranges), custody, verify,
withdraw. Evidence is never modified or deleted through the API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.audit import service as audit
from app.audit.reading import event_reads
from app.audit.schemas import AuditEventRead
from app.auth.dependencies import (
    CaseAccess,
    CaseEditor,
    CaseReader,
    CurrentPrincipal,
    Principal,
    resource_case_access,
)
from app.auth.permissions import CasePermission
from app.config import Settings
from app.db import Database, DbSession, audited_read, own_transactions, release_early
from app.errors import AppError, PayloadTooLarge
from app.evidence import service
from app.evidence.commit import Ingest, commit_arrival
from app.evidence.content import ByteRange, parse_range, repr_digest, strong_etag
from app.evidence.filenames import content_disposition
from app.evidence.ingest import MAX_FORM_BYTES, check_file_digest, receive_multipart
from app.evidence.schemas import EvidenceMetadata, EvidenceRead, VerificationResult, WithdrawRequest
from app.kit.conditional import http_date, is_not_modified, not_modified
from app.kit.etag import IfMatch, etag_for, require_match
from app.kit.head import is_head
from app.kit.idempotency import IDEMPOTENCY_DOC, valid_idempotency_key
from app.kit.pagination import Page, PageQuery, decode_position_cursor, encode_position_cursor
from app.kit.pipeline import read_ahead
from app.kit.problems import problem_responses
from app.kit.responses import json_response
from app.kit.routing import api_router, body_limit
from app.models.evidence import EvidenceItem
from app.protection.policy import reader_of
from app.storage import ObjectMissing, ObjectStore

router = api_router(prefix="/api/v1", tags=["evidence"])

EvidenceId = Annotated[uuid.UUID, Path(description="The evidence item's id.")]
# What may surround the file: every form field at its largest, plus boundaries and part
# headers. The limit is on the file; a Content-Length beyond this cannot be a file within it.
MULTIPART_OVERHEAD = MAX_FORM_BYTES + 1024 * 1024


class OriginalMissing(AppError):
    status, slug, title = 500, "original-missing", "The original is missing from storage"

    def __init__(self) -> None:
        super().__init__("The stored original cannot be found; run `casefile storage verify`.")


class EvidencePage(Page[EvidenceRead]):
    pass


class CustodyPage(Page[AuditEventRead]):
    """Every audit event about this item, in order, each with its hash-chain link."""


def _optional_header(name: str, description: str) -> dict[str, Any]:
    """An optional request header, a string, as an OpenAPI parameter."""
    return {
        "in": "header",
        "name": name,
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


def _upload_schema() -> dict[str, Any]:
    # Refer to enums where the document keeps them: a `#/$defs/…` ref inside an operation
    # resolves nowhere, and generated clients drop the whole operation. (EvidenceKind is a
    # component already, through EvidenceRead.)
    fields = EvidenceMetadata.model_json_schema(ref_template="#/components/schemas/{model}")
    properties = {"file": {"type": "string", "format": "binary"}, **fields["properties"]}
    schema = {"type": "object", "properties": properties, "required": ["file"]}
    return {
        "parameters": [
            _optional_header("Idempotency-Key", IDEMPOTENCY_DOC),
            _optional_header("Repr-Digest", "The file's digest: sha-256=:<base64>:"),
            _optional_header("Content-Digest", "The whole body's digest (RFC 9530)."),
        ],
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": schema}},
            "description": "The file (part `file`) and its metadata as form fields. Optional "
            "`Repr-Digest: sha-256=:…:` (the file's digest) or `sha256` field is checked.",
        },
    }


# Served with the original's own media type (sniffed at upload, see EvidenceRead.media_type),
# so the document names the range of all types; application/octet-stream stays first for
# client generators that do not read media ranges.
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_BYTES = {"application/octet-stream": _BINARY, "*/*": _BINARY}
_RANGE = _optional_header(
    "Range", "One byte range (`bytes=first-last`, `bytes=first-`, `bytes=-count`): 206."
)
_IF_RANGE = _optional_header(
    "If-Range", "The ETag (the sha256) the range must belong to; otherwise the whole file."
)


def _limit(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.max_upload_bytes


@router.post(
    "/cases/{case_id}/evidence",
    operation_id="uploadEvidence",
    summary="Upload one file as evidence (streamed, fingerprinted on arrival)",
    status_code=201,
    response_model=EvidenceRead,
    responses=problem_responses(
        400, 401, 403, 404, 409, 413, 422, 503, success=201, etag=True, location=True
    ),
    openapi_extra=_upload_schema(),
)
@own_transactions
@body_limit(2**62)  # bounded by CASEFILE_MAX_UPLOAD_BYTES while streaming
async def upload_evidence(request: Request, access: CaseEditor, session: DbSession) -> Response:
    limit = _limit(request)
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(f"Files over {limit} bytes are refused; nothing was stored.")
    key = valid_idempotency_key(request.headers.get("idempotency-key"))
    await run_in_threadpool(release_early, session)  # no connection is held while bytes flow
    store: ObjectStore = request.app.state.object_store
    evidence_id = uuid.uuid4()
    received = await receive_multipart(
        request, store, service.object_key(access.case.id, evidence_id), limit
    )
    arrival = service.Arrival(
        evidence_id=evidence_id,
        stored=received.stored,
        sha256=received.fingerprint.sha256,
        crc32=received.fingerprint.crc32,
        size=received.fingerprint.size,
        head=bytes(received.fingerprint.head),
        filename=received.filename,
        declared_media_type=received.declared_media_type,
    )
    try:
        check_file_digest(received, request.headers, received.fields.get("sha256"))
        metadata = service.parse_metadata(received.fields)
        item = await run_in_threadpool(
            commit_arrival,
            Ingest.from_app(request.app),
            principal=access.principal,
            case_id=access.case.id,
            arrival=arrival,
            metadata=metadata,
            idempotency=(key, request.url.path) if key else None,
        )
    except BaseException:
        await run_in_threadpool(service.discard_quietly, store, received.stored)
        raise
    return json_response(
        service.read(item, reader_of(access)),
        status_code=201,
        location=f"/api/v1/evidence/{item.id}",
        etag=etag_for(item.version),
    )


@router.get(
    "/cases/{case_id}/evidence",
    operation_id="listCaseEvidence",
    summary="The case's evidence items, newest first (withdrawn ones marked)",
    response_model=EvidencePage,
    responses=problem_responses(400, 401, 404, 422),
)
def list_case_evidence(
    access: CaseReader,
    session: DbSession,
    page: PageQuery,
    withdrawn: Annotated[
        bool | None, Query(description="Only withdrawn (true) or only current (false) items.")
    ] = None,
) -> EvidencePage:
    items, cursor = service.list_for_case(
        session, case_id=access.case.id, page=page, withdrawn=withdrawn
    )
    reader = reader_of(access)
    return EvidencePage(items=[service.read(i, reader) for i in items], next_cursor=cursor)


def _item_access(
    session: DbSession, principal: Principal, evidence_id: uuid.UUID, permission: CasePermission
) -> tuple[EvidenceItem, CaseAccess]:
    item = service.get(session, evidence_id)
    access = resource_case_access(
        session, principal, item.case_id, permission, service.EvidenceNotFound
    )
    return item, access


@router.get(
    "/evidence/{evidence_id}",
    operation_id="getEvidence",
    summary="Read an evidence item's metadata",
    response_model=EvidenceRead,
    responses=problem_responses(401, 404, 422, etag=True),
)
def get_evidence(
    evidence_id: EvidenceId, principal: CurrentPrincipal, session: DbSession
) -> Response:
    item, access = _item_access(session, principal, evidence_id, CasePermission.READ)
    return json_response(service.read(item, reader_of(access)), etag=etag_for(item.version))


@router.get(
    "/evidence/{evidence_id}/content",
    operation_id="getEvidenceContent",
    summary="The original bytes, streamed (Range supported; every download is audited)",
    response_class=StreamingResponse,
    responses={
        200: {"content": _BYTES},
        206: {
            "description": "Partial Content: the requested range of the original",
            "content": _BYTES,
            "headers": {"Content-Range": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 404, 416, 422, 503),
    },
    # Read from the request by parse_range; declared so that clients can send them.
    openapi_extra={"parameters": [_RANGE, _IF_RANGE]},
)
@audited_read
def get_evidence_content(
    request: Request, evidence_id: EvidenceId, principal: CurrentPrincipal, session: DbSession
) -> Response:
    item, access = _item_access(session, principal, evidence_id, CasePermission.READ)
    etag = strong_etag(item.sha256)
    headers = {
        **ORIGINAL_HEADERS,
        "ETag": etag,
        "Last-Modified": http_date(item.uploaded_at),
        # An original never changes, but whether this caller may still read it does: a
        # private cache may keep it and must ask again (a 304 costs no byte) before each use.
        "Cache-Control": "private, no-cache",
        "Repr-Digest": repr_digest(item.sha256),
        "Content-Disposition": content_disposition(service.shown_filename(item, reader_of(access))),
        "Accept-Ranges": "bytes",
    }
    if is_not_modified(request, etag, item.uploaded_at):
        # Before Range and before the store (RFC 9110 §13.2.2); the client holds the bytes
        # from a download that was recorded, and this reveals none: nothing is recorded.
        return not_modified(headers.items())
    byte_range = parse_range(
        request.headers.get("range"), item.size, request.headers.get("if-range"), etag
    )
    store: ObjectStore = request.app.state.object_store
    head = is_head(request)
    body: Iterator[bytes] = iter(())
    first = b""
    try:
        if head:
            # The headers come from the stored size and digest; the store is only asked
            # whether the object is there (no byte of it is read), so a HEAD of a lost
            # original is the GET's problem too. No download is recorded: a HEAD shows what
            # reading the item's metadata shows (docs/operations.md, HTTP).
            _check_present(store, item)
        else:
            body = _stream(store, item, byte_range)
            first = next(body, b"")  # reach the store before answering: failures are problems
    except ObjectMissing as exc:
        raise OriginalMissing() from exc
    if not head:
        service.record_download(
            session,
            access=access,
            item=item,
            byte_range=(byte_range.start, byte_range.end) if byte_range else None,
        )
    headers["Content-Length"] = str(byte_range.length if byte_range else item.size)
    status = 200
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{item.size}"
        status = 206
    return StreamingResponse(
        _prepend(first, read_ahead(body)),
        status_code=status,
        media_type=item.media_type,
        headers=headers,
    )


# An original may be HTML, SVG, XML or a PDF with scripts, sent in by anyone: whatever its type,
# a browser is told to save it, not to sniff it, and — if it renders it anyway (a viewer, a
# link opened in a tab) — to run it in a sandbox with no scripts, no requests and no origin.
ORIGINAL_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _check_present(store: ObjectStore, item: EvidenceItem) -> None:
    """Raise ObjectMissing unless the original is stored (its metadata, not its bytes)."""
    if item.size:
        store.size(item.object_key, version_id=item.object_version)


def _stream(
    store: ObjectStore, item: EvidenceItem, byte_range: ByteRange | None
) -> Iterator[bytes]:
    if item.size == 0:
        return iter(())
    start, length = (byte_range.start, byte_range.length) if byte_range else (0, None)
    return store.read(item.object_key, start, length, version_id=item.object_version)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


@router.get(
    "/evidence/{evidence_id}/custody",
    operation_id="getEvidenceCustody",
    summary="Chain of custody: every audit event that touched this item, in order",
    response_model=CustodyPage,
    responses=problem_responses(400, 401, 404, 422),
)
def get_evidence_custody(
    evidence_id: EvidenceId, principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> CustodyPage:
    item, access = _item_access(session, principal, evidence_id, CasePermission.READ)
    listing = f"custody:{evidence_id}"
    after = decode_position_cursor(listing, page.cursor) if page.cursor else 0
    events = audit.resource_events(
        session,
        resources=service.custody_resources(session, evidence_id),
        after_id=after,
        limit=page.limit + 1,
    )
    shown = events[: page.limit]
    more = len(events) > page.limit
    return CustodyPage(
        items=event_reads(session, shown, reader_of(access), item.case_id),
        next_cursor=encode_position_cursor(listing, shown[-1].id) if more else None,
    )


@router.post(
    "/evidence/{evidence_id}/verify",
    operation_id="verifyEvidence",
    summary="Re-read the original, recompute its SHA-256, record the result",
    response_model=VerificationResult,
    responses=problem_responses(401, 403, 404, 422, 503),
)
@own_transactions
def verify_evidence(
    request: Request, evidence_id: EvidenceId, principal: CurrentPrincipal, session: DbSession
) -> VerificationResult:
    item, _ = _item_access(session, principal, evidence_id, CasePermission.VERIFY_EVIDENCE)
    release_early(session)  # re-reading may take minutes: hold no connection meanwhile
    store: ObjectStore = request.app.state.object_store
    found = service.rehash(store, item)
    database: Database = request.app.state.database
    with database.write_sessions.begin() as tx:
        _, access = _item_access(tx, principal, evidence_id, CasePermission.VERIFY_EVIDENCE)
        return service.record_verification(tx, access=access, item=item, found=found, via="api")


@router.post(
    "/evidence/{evidence_id}/withdraw",
    operation_id="withdrawEvidence",
    summary="Withdraw a mistaken upload (it stays stored and in the audit trail)",
    response_model=EvidenceRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def withdraw_evidence(
    evidence_id: EvidenceId,
    body: WithdrawRequest,
    principal: CurrentPrincipal,
    session: DbSession,
    if_match: IfMatch = None,
) -> Response:
    item, access = _item_access(session, principal, evidence_id, CasePermission.EDIT)
    # Optional here: an empty If-Match lists no tags (RFC 9110 #list), so it is no condition,
    # not a missing one (428 is for PATCH, where the header is required).
    if if_match is not None and if_match.strip():
        require_match(if_match, etag_for(item.version))
    item = service.withdraw(session, access=access, item=item, reason=body.reason)
    return json_response(service.read(item, reader_of(access)), etag=etag_for(item.version))
