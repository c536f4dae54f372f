"""Authentication and authorisation as FastAPI dependencies.

Every route is authenticated by an app-wide dependency; a route is reachable without a token
only if its endpoint is explicitly decorated with `@public`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from sqlalchemy import String, Uuid, and_, bindparam, select
from sqlalchemy.orm import Session, joinedload

from app.auth import throttle
from app.auth.permissions import CASE_CREATORS, CasePermission, case_role_allows
from app.auth.tokens import looks_like_token, secret_digest
from app.db import SAFE_METHODS, DbSession, utcnow
from app.errors import AppError, CaseNotFound, Forbidden, NotAuthenticated
from app.kit.request_context import current_client_address
from app.models.case import Case, CaseMember, CaseRole
from app.models.user import ApiToken, GlobalRole, User

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_PUBLIC_MARK = "__casefile_public__"


def public(endpoint: F) -> F:
    """Opt an endpoint out of authentication. Use only for probes and documentation."""
    setattr(endpoint, _PUBLIC_MARK, True)
    return endpoint


def is_public_endpoint(endpoint: object) -> bool:
    return bool(getattr(endpoint, _PUBLIC_MARK, False))


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of this request."""

    user_id: uuid.UUID
    name: str
    role: GlobalRole
    token_id: uuid.UUID

    @property
    def is_admin(self) -> bool:
        return self.role == GlobalRole.ADMIN


def authenticate(request: Request, session: DbSession) -> Principal | None:
    """App-wide: resolve the bearer token, or refuse with 401 unless the route is public.
    An address that sent too many invalid tokens lately gets 429 (app.auth.throttle).

    On a safe-method route that loads a case, the case access is looked up too, in this same
    thread-pool hop, once the token is known good (see `load_case_access`)."""
    route = request.scope.get("route")
    if is_public_endpoint(getattr(route, "endpoint", None)):
        return None
    header = request.headers.get("authorization")
    if not header:
        raise NotAuthenticated("Send an API token: 'Authorization: Bearer <token>'.")
    key = throttle.client_key(current_client_address())
    try:
        principal = _principal_for(session, _bearer_secret(header), key)
    except NotAuthenticated:
        # A throttled address gets 429 whatever it sent, malformed or unknown tokens too
        # (a known token's query read the window itself).
        throttle.refuse_if_throttled(session, key)
        session.rollback()  # only reads so far; SQLite lets one writer in, the count's
        throttle.record_failure(request.app.state.database, key)
        raise
    _preload_case_access(request, session, principal, route)
    return principal


def _bearer_secret(header: str | None) -> str:
    if not header:
        raise NotAuthenticated("Send an API token: 'Authorization: Bearer <token>'.")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not looks_like_token(secret):
        raise NotAuthenticated("The Authorization header does not hold a Casefile API token.")
    return secret


# Statements that run on nearly every request are built once (see throttle.WINDOW_START).
# Columns, not entities: the principal needs seven values, not two ORM objects to build,
# track in the identity map and expire.
_TOKEN_USER_AND_THROTTLE = (
    select(
        ApiToken.id,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        User.id.label("user_id"),
        User.name,
        User.role,
        User.active,
        throttle.WINDOW_FAILURES,
        throttle.WINDOW_START,
    )
    .join(User, ApiToken.user_id == User.id)
    .where(ApiToken.secret_sha256 == bindparam("digest", type_=String()))
)


def _principal_for(session: Session, secret: str, throttle_key: str) -> Principal:
    """The token's user, unless `throttle_key` is throttled (checked first, right token or
    wrong). The throttle window is read in the token's query: one round trip per request."""
    row = session.execute(
        _TOKEN_USER_AND_THROTTLE,
        {"digest": secret_digest(secret), "throttle_key": throttle_key},
    ).first()
    if row is None:
        raise NotAuthenticated("The token is not valid.")
    token_id, revoked_at, expires_at, user_id, name, role, active, failures, window_start = row
    throttle.refuse_if_over(failures, window_start)
    if revoked_at is not None:
        raise NotAuthenticated("The token has been revoked.")
    if expires_at is not None and expires_at <= utcnow():
        raise NotAuthenticated("The token has expired.")
    if not active:
        raise NotAuthenticated("The user of this token is deactivated.")
    return Principal(user_id=user_id, name=name, role=GlobalRole(role), token_id=token_id)


# The dependencies below only look at what is already loaded: `async def` keeps them on the
# event loop instead of sending each through the thread pool (a hop costs more than the check).
async def current_principal(
    principal: Annotated[Principal | None, Depends(authenticate)],
) -> Principal:
    if principal is None:
        raise RuntimeError("a public endpoint asked for the current principal")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only admins may do this.")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


async def require_case_creator(principal: CurrentPrincipal) -> Principal:
    if principal.role not in CASE_CREATORS:
        raise Forbidden("Only admins and investigators may open cases.")
    return principal


CaseCreator = Annotated[Principal, Depends(require_case_creator)]


@dataclass(frozen=True)
class CaseAccess:
    """A case the caller may see, with the caller's standing on it."""

    case: Case
    principal: Principal
    role: CaseRole | None  # None: an admin who is not a member
    can_identify_witnesses: bool

    def allows(self, permission: CasePermission) -> bool:
        return case_role_allows(self.role, permission, admin=self.principal.is_admin)


async def load_case_access(
    request: Request,
    case_id: Annotated[uuid.UUID, Path(description="The case's id.")],
    principal: CurrentPrincipal,
    session: DbSession,
) -> CaseAccess:
    """The case of the path, for its members. On safe-method routes authentication already
    looked it up in its own thread-pool hop (each hop costs more than this query); its outcome,
    access or 404, is given here, where the dependency order expects it."""
    preloaded: _PreloadedAccess | None = getattr(request.state, _PRELOADED, None)
    if preloaded is not None and preloaded.case_id == case_id and preloaded.principal is principal:
        if preloaded.refusal is not None:
            raise preloaded.refusal
        if preloaded.access is not None:
            return preloaded.access
    return await run_in_threadpool(case_access, session, principal, case_id)


_PRELOADED = "casefile_preloaded_case_access"


@dataclass(frozen=True)
class _PreloadedAccess:
    case_id: uuid.UUID
    principal: Principal
    access: CaseAccess | None
    refusal: CaseNotFound | None


def _preload_case_access(
    request: Request, session: Session, principal: Principal, route: object
) -> None:
    """Look up the case a safe-method route's `load_case_access` will ask for. Kept, not
    raised: a 404 must come where that dependency stands, after the checks before it."""
    if request.method not in SAFE_METHODS or not _loads_case_access(route):
        return
    try:
        case_id = uuid.UUID(str(request.path_params["case_id"]))
    except (KeyError, ValueError):
        return  # no access will be asked for: the path parameter gets its 422
    try:
        access = case_access(session, principal, case_id)
    except CaseNotFound as refusal:
        setattr(request.state, _PRELOADED, _PreloadedAccess(case_id, principal, None, refusal))
        return
    setattr(request.state, _PRELOADED, _PreloadedAccess(case_id, principal, access, None))
    load = getattr(getattr(route, "endpoint", None), _READ_AHEAD_MARK, None)
    if load is not None:  # a read: if the permission check then refuses, it is never shown
        setattr(request.state, _READ_AHEAD, (access, load, load(session, access)))


_LOADS_CASE_ACCESS = "__casefile_loads_case_access__"


def _loads_case_access(route: object) -> bool:
    """Whether the route depends on `load_case_access`, directly or not (found once per route,
    kept on the route: routes are not hashable)."""
    known: bool | None = getattr(route, _LOADS_CASE_ACCESS, None)
    if known is None:
        dependant = getattr(route, "dependant", None)
        known = isinstance(dependant, Dependant) and _depends_on(dependant, load_case_access)
        if route is not None:
            setattr(route, _LOADS_CASE_ACCESS, known)
    return known


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


_READ_AHEAD = "casefile_case_read_ahead"
_READ_AHEAD_MARK = "__casefile_case_read_ahead__"


def case_read_ahead(load: Callable[[Session, CaseAccess], Any]) -> Callable[[F], F]:
    """Mark a safe-method endpoint on the path's case: `load(session, access)` is read in
    authentication's thread-pool hop, right after the case access, and handed over by
    `read_ahead`. An endpoint left with nothing but rendering can then be `async def`: no
    hop of its own. A mark, not a dependency: each dependency costs FastAPI a walk of its
    sub-dependencies on every request. Only for reads (the session is read-only there)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _READ_AHEAD_MARK, load)
        return endpoint

    return mark


async def read_ahead(
    request: Request, access: CaseAccess, session: Session, load: Callable[[Session, CaseAccess], T]
) -> T:
    """What `@case_read_ahead(load)` read for this access; read now, in a thread, if it was
    not (another method, or another access)."""
    stored: tuple[CaseAccess, Callable[..., Any], Any] | None = getattr(
        request.state, _READ_AHEAD, None
    )
    if stored is not None and stored[0] is access and stored[1] is load:
        value: T = stored[2]
        return value
    return await run_in_threadpool(load, session, access)


_CASE_AND_MEMBERSHIP = (
    select(Case, CaseMember)
    .outerjoin(
        CaseMember,
        and_(
            CaseMember.case_id == Case.id,
            CaseMember.user_id == bindparam("user_id", type_=Uuid()),
        ),
    )
    .where(Case.id == bindparam("case_id", type_=Uuid()))
    .options(joinedload(Case.tags))
)


def case_access(session: Session, principal: Principal, case_id: uuid.UUID) -> CaseAccess:
    """Load the case, or answer 404 to anyone who is not a member (its existence is private).

    The case, its tags and the caller's membership come in one query: this runs on nearly
    every request, where each extra round trip to the database costs more than the query."""
    row = (
        session.execute(_CASE_AND_MEMBERSHIP, {"case_id": case_id, "user_id": principal.user_id})
        .unique()
        .first()
    )
    case, member = row if row is not None else (None, None)
    if case is None or (member is None and not principal.is_admin):
        raise CaseNotFound()
    return CaseAccess(
        case=case,
        principal=principal,
        role=CaseRole(member.role) if member else None,
        can_identify_witnesses=principal.is_admin or bool(member and member.can_identify_witnesses),
    )


def require_case(
    permission: CasePermission,
) -> Callable[[CaseAccess], Coroutine[Any, Any, CaseAccess]]:
    async def check(access: Annotated[CaseAccess, Depends(load_case_access)]) -> CaseAccess:
        if not access.allows(permission):
            raise Forbidden(f"Your role on this case does not allow '{permission.value}'.")
        return access

    check.__name__ = f"require_case_{permission.value}"
    return check


def resource_case_access(
    session: Session,
    principal: Principal,
    case_id: uuid.UUID,
    permission: CasePermission,
    not_found: type[AppError],
) -> CaseAccess:
    """Access to the case a resource (testimony, …) belongs to: a non-member gets the
    resource's 404, so that neither the resource nor its case is revealed."""
    try:
        access = case_access(session, principal, case_id)
    except CaseNotFound:
        raise not_found() from None
    if not access.allows(permission):
        raise Forbidden(f"Your role on this case does not allow '{permission.value}'.")
    return access


CaseReader = Annotated[CaseAccess, Depends(require_case(CasePermission.READ))]
CaseEditor = Annotated[CaseAccess, Depends(require_case(CasePermission.EDIT))]
CaseMembershipManager = Annotated[CaseAccess, Depends(require_case(CasePermission.MANAGE_MEMBERS))]
