"""HTTP routes for witnesses. Identities are shown only through `service.witness_view`; a
read that shows one is audited, and a change's response is covered by the change's event."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.auth.dependencies import CaseEditor, CaseReader, CurrentPrincipal, Principal
from app.db import DbSession, audited_read
from app.kit.etag import IfMatch, etag_for
from app.kit.idempotency import Idempotency, created, replayed_as_read
from app.kit.pagination import Page, PageQuery
from app.kit.problems import problem_responses
from app.kit.responses import json_response
from app.kit.routing import api_router
from app.witnesses import service
from app.witnesses.crypto import IdentityKeyring
from app.witnesses.schemas import IdentifiedWitnessRead, WitnessPatch, WitnessRegister, WitnessView

router = api_router(prefix="/api/v1", tags=["witnesses"])

WitnessId = Annotated[uuid.UUID, Path(description="The witness's id.")]


def identity_keyring(request: Request) -> IdentityKeyring:
    keyring: IdentityKeyring = request.app.state.identity_keyring
    return keyring


Keyring = Annotated[IdentityKeyring, Depends(identity_keyring)]


class WitnessPage(Page[WitnessView]):
    """Items carry `identity` only where the caller may see it."""


def _witness_now(
    session: Session, principal: Principal, request: Request, witness_id: uuid.UUID
) -> tuple[BaseModel, str | None]:
    """A registration's replay: the witness as the caller may see it now (a revoked flag
    shows no identity), the identity shown audited as by `getWitness`."""
    access = service.witness_access(session, principal, witness_id)
    view = service.witness_view(session, access, identity_keyring(request))
    return view, etag_for(access.witness.version)


@router.post(
    "/cases/{case_id}/witnesses",
    operation_id="registerWitness",
    summary="Register a witness in the case, or link an existing one",
    status_code=201,
    response_model=WitnessView,
    responses=problem_responses(
        400, 401, 403, 404, 409, 413, 422, success=201, etag=True, location=True
    ),
)
@replayed_as_read(_witness_now)
def register_witness(
    body: WitnessRegister,
    access: CaseEditor,
    session: DbSession,
    keyring: Keyring,
    claim: Idempotency,
) -> Response:
    if body.witness_id is not None:
        witness = service.link(session, access=access, witness_id=body.witness_id)
    else:
        witness = service.register(session, access=access, data=body, keyring=keyring)
    # The change's own event covers what its response shows (no separate view event).
    view = service.witness_view(session, witness, keyring, record_view=False)
    return created(
        session,
        claim,
        view,
        location=f"/api/v1/witnesses/{witness.witness.id}",
        etag=etag_for(witness.witness.version),
        sealer=keyring,  # the stored response may hold the identity: never in clear
    )


@router.get(
    "/cases/{case_id}/witnesses",
    operation_id="listCaseWitnesses",
    summary="The case's witnesses (identities only for those allowed to see them)",
    response_model=WitnessPage,
    responses=problem_responses(400, 401, 404, 422),
)
@audited_read
def list_case_witnesses(
    access: CaseReader, session: DbSession, keyring: Keyring, page: PageQuery
) -> Response:
    witnesses, cursor = service.list_for_case(session, access=access, page=page)
    views = [service.witness_view(session, w, keyring, record_view=False) for w in witnesses]
    identified = [v.id for v in views if isinstance(v, IdentifiedWitnessRead)]
    service.record_identity_views(session, access.principal, access.case.id, identified)
    return json_response(WitnessPage(items=views, next_cursor=cursor))


@router.get(
    "/witnesses/{witness_id}",
    operation_id="getWitness",
    summary="Read a witness (its identity only for those allowed to see it)",
    response_model=WitnessView,
    responses=problem_responses(401, 404, 422, etag=True),
)
@audited_read
def get_witness(
    witness_id: WitnessId, principal: CurrentPrincipal, session: DbSession, keyring: Keyring
) -> Response:
    access = service.witness_access(session, principal, witness_id)
    view = service.witness_view(session, access, keyring)
    return json_response(view, etag=etag_for(access.witness.version))


@router.patch(
    "/witnesses/{witness_id}",
    operation_id="updateWitness",
    summary="Change a witness's consent, risk level or (if allowed) identity",
    response_model=WitnessView,
    responses=problem_responses(400, 401, 403, 404, 412, 413, 422, 428, etag=True),
)
def update_witness(
    witness_id: WitnessId,
    body: WitnessPatch,
    principal: CurrentPrincipal,
    session: DbSession,
    keyring: Keyring,
    if_match: IfMatch = None,
) -> Response:
    access = service.witness_access(session, principal, witness_id)
    updated = service.update_witness(
        session, access=access, patch=body, if_match=if_match, keyring=keyring
    )
    view = service.witness_view(session, updated, keyring, record_view=False)
    return json_response(view, etag=etag_for(updated.witness.version))
