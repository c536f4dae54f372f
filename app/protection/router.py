"""HTTP route for a case's protected-match events: where its texts name protected witnesses.

Only for those who may identify the case's witnesses: an event appearing right after a member
wrote a guess would answer it (docs/witness-protection.md).
"""

from __future__ import annotations

from app.audit.canonical import protection_chain
from app.audit.router import chain_page
from app.audit.schemas import AuditPage
from app.auth.dependencies import CaseReader
from app.db import DbSession
from app.errors import Forbidden
from app.kit.pagination import PageQuery
from app.kit.problems import problem_responses
from app.kit.routing import api_router

router = api_router(prefix="/api/v1", tags=["audit"])


@router.get(
    "/cases/{case_id}/protected-matches",
    operation_id="listProtectedMatches",
    summary="Where the case's texts name protected witnesses (identifiers and admins)",
    description=(
        "The case's protection chain, in order: `text.protected_match` (a text written now "
        "names a protected witness), `text.protected_match_found` (texts written before name a "
        "witness just registered, linked or changed), `bundle.protected_text` (a bundle "
        "withheld texts others wrote, or carried its requester's own such texts as written). "
        "Ids and field names, never the strings. For admins and members who may identify the "
        "case's witnesses; other members get 403. Reading it records nothing."
    ),
    response_model=AuditPage,
    responses=problem_responses(400, 401, 403, 404, 422),
)
def list_protected_matches(access: CaseReader, session: DbSession, page: PageQuery) -> AuditPage:
    if not access.can_identify_witnesses:
        raise Forbidden("Only members allowed to identify witnesses see protected matches.")
    return chain_page(session, protection_chain(access.case.id), page, access)
