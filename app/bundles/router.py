"""GET /cases/{case_id}/bundle: the case as one signed, verifiable, streamed ZIP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.audit.signing import Signer
from app.auth.dependencies import CaseAccess, case_access, require_case
from app.auth.permissions import CasePermission
from app.bundles import builder, snapshot
from app.db import Database, DbSession, own_transactions
from app.errors import Forbidden
from app.evidence.filenames import content_disposition
from app.kit.head import is_head
from app.kit.pipeline import read_ahead
from app.kit.problems import problem_responses
from app.kit.routing import api_router
from app.storage import ObjectStore
from app.witnesses.crypto import IdentityKeyring

router = api_router(prefix="/api/v1", tags=["bundles"])
log = logging.getLogger(__name__)

READ_AHEAD_CHUNKS = 4  # of ~1 MiB: the store is read while the client receives


@router.get(
    "/cases/{case_id}/bundle",
    operation_id="getCaseBundle",
    summary="The case bundle: a signed ZIP for legal teams, verifiable offline (streamed)",
    description=(
        "Streams a ZIP with `manifest.json` (signed: `manifest.json.sig`, `public-key.pem`), "
        "the original evidence files, testimonies, site visits, the case's audit log with a "
        "signed checkpoint, `exhibits.csv`, `SHA256SUMS` and `index.html`. Witness identities "
        "appear only where the requester may identify witnesses and the witness consented to "
        "sharing identity with courts. The export is an audit event recorded before the first "
        "byte, so it is in the bundle's own log. See docs/bundle-format.md."
    ),
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "Casefile-Bundle-Id": {
                    "description": "The bundle's id (as in its manifest and export event).",
                    "schema": {"type": "string", "format": "uuid"},
                },
                "Content-Length": {
                    "description": "The ZIP's exact size.",
                    "schema": {"type": "integer"},
                },
            },
        },
        **problem_responses(401, 403, 404, 422, 503),
    },
)
@own_transactions
def get_case_bundle(
    request: Request,
    checked: Annotated[CaseAccess, Depends(require_case(CasePermission.EXPORT_BUNDLE))],
    session: DbSession,
    include_withdrawn: Annotated[
        bool, Query(description="Also include the files of withdrawn evidence (listed anyway).")
    ] = False,
) -> Response:
    principal, case_id = checked.principal, checked.case.id
    session.rollback()  # the export takes its own transaction; hold nothing meanwhile
    database: Database = request.app.state.database
    keyring: IdentityKeyring = request.app.state.identity_keyring
    store: ObjectStore = request.app.state.object_store
    store.check()  # storage down: a 503 now, rather than an export event and a cut download
    if is_head(request):
        return _head_answer()
    with database.write_sessions.begin() as tx:
        access = case_access(tx, principal, case_id)  # again: membership may have changed
        if not access.allows(CasePermission.EXPORT_BUNDLE):
            raise Forbidden("Your role on this case does not allow exporting bundles.")
        taken = snapshot.take(
            tx, access=access, keyring=keyring, include_withdrawn=include_withdrawn
        )
    signer: Signer = request.app.state.signer
    with database.read_sessions() as reader:
        bundle = builder.build(reader, taken, store=store, signer=signer)
    name = f"{taken.exhibit_prefix}-case-bundle-{taken.generated_at:%Y%m%d}-{bundle.bundle_id[:8]}"
    return StreamingResponse(
        read_ahead(_logged(bundle), depth=READ_AHEAD_CHUNKS),
        media_type="application/zip",
        headers={
            "Content-Length": str(bundle.size),
            "Content-Disposition": content_disposition(f"{name}.zip"),
            "Casefile-Bundle-Id": bundle.bundle_id,
            "Cache-Control": "private, no-store",
        },
    )


def _head_answer() -> Response:
    """A HEAD is authorised and checked like the GET but builds nothing and exports nothing:
    the size and the bundle's id exist only once a bundle is built (and its export recorded),
    so they are left out, as RFC 9110 §9.3.2 allows for fields determined while generating."""
    return StreamingResponse(
        iter(()), media_type="application/zip", headers={"Cache-Control": "private, no-store"}
    )


def _logged(bundle: builder.Bundle) -> Iterator[bytes]:
    """The bundle's chunks; a failure half way is logged (the client sees a cut download)."""
    sent = 0
    try:
        for chunk in bundle.chunks():
            sent += len(chunk)
            yield chunk
    except Exception:
        log.exception(
            "bundle %s broken off after %d of %d bytes", bundle.bundle_id, sent, bundle.size
        )
        raise
    finally:
        bundle.close()
