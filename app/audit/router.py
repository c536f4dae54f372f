"""HTTP routes for the audit trail: a case's events, verification, and the signing keys."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from app.audit import service
from app.audit.canonical import case_chain
from app.audit.reading import event_reads
from app.audit.schemas import (
    AuditPage,
    ChainHeadRead,
    CheckpointRead,
    SigningKeyList,
    SigningKeyRead,
    VerificationReport,
)
from app.audit.signing import Signer
from app.audit.verify import verify_all
from app.auth.dependencies import AdminPrincipal, CaseAccess, CaseReader, CurrentPrincipal
from app.db import Database, DbSession
from app.kit.pagination import (
    PageParams,
    PageQuery,
    decode_position_cursor,
    encode_position_cursor,
)
from app.kit.problems import problem_responses
from app.kit.routing import api_router
from app.models.audit import AuditCheckpoint
from app.protection.policy import reader_of

router = api_router(prefix="/api/v1", tags=["audit"])


def checkpoint_read(checkpoint: AuditCheckpoint) -> CheckpointRead:
    return CheckpointRead(
        chain=checkpoint.chain_id,
        length=checkpoint.length,
        head_hash=checkpoint.head_hash,
        signed_at=checkpoint.signed_at,
        key_id=checkpoint.key_id,
        signature=checkpoint.signature,
    )


@router.get(
    "/cases/{case_id}/audit",
    operation_id="listCaseAudit",
    summary="The case's audit events, in chain order, with their signed checkpoints",
    response_model=AuditPage,
    responses=problem_responses(400, 401, 404, 422),
)
def list_case_audit(access: CaseReader, session: DbSession, page: PageQuery) -> AuditPage:
    return chain_page(session, case_chain(access.case.id), page, access)


def chain_page(session: Session, chain: str, page: PageParams, access: CaseAccess) -> AuditPage:
    """A page of one of the case's chains, as the caller may read it, with its checkpoints."""
    listing = f"audit:{chain}"
    after = decode_position_cursor(listing, page.cursor) if page.cursor else 0
    events = service.chain_events(session, chain=chain, after_seq=after, limit=page.limit + 1)
    shown = events[: page.limit]
    more = len(events) > page.limit
    head = service.chain_head(session, chain)
    latest = service.latest_checkpoint(session, chain)
    within = (
        service.checkpoints_within(
            session, chain=chain, first_seq=shown[0].seq, last_seq=shown[-1].seq
        )
        if shown
        else []
    )
    return AuditPage(
        items=event_reads(session, shown, reader_of(access), access.case.id),
        next_cursor=encode_position_cursor(listing, shown[-1].seq) if more else None,
        chain_head=ChainHeadRead(chain=chain, length=head.length, head_hash=head.head_hash)
        if head
        else None,
        checkpoints=[checkpoint_read(c) for c in within],
        latest_checkpoint=checkpoint_read(latest) if latest else None,
    )


@router.get(
    "/audit/verify",
    operation_id="verifyAudit",
    summary="Recompute every chain and checkpoint signature (admins)",
    response_model=VerificationReport,
    responses=problem_responses(401, 403),
)
def verify_audit(request: Request, _admin: AdminPrincipal) -> VerificationReport:
    database: Database = request.app.state.database
    signer: Signer = request.app.state.signer
    report = verify_all(database.engine, extra_keys={signer.key_id: signer.public_pem})
    return VerificationReport.model_validate(report.as_dict())


@router.get(
    "/signing-keys",
    operation_id="listSigningKeys",
    summary="Public keys that sign audit checkpoints and bundles, by key id",
    response_model=SigningKeyList,
    responses=problem_responses(401),
)
def list_signing_keys(
    request: Request, _principal: CurrentPrincipal, session: DbSession
) -> SigningKeyList:
    current: Signer = request.app.state.signer
    return SigningKeyList(
        items=[
            SigningKeyRead(
                key_id=key.key_id,
                algorithm=key.algorithm,
                public_key_pem=key.public_key_pem,
                created_at=key.created_at,
                current=key.key_id == current.key_id,
            )
            for key in service.signing_keys(session)
        ]
    )
