"""Authentication and authorisation as FastAPI dependencies.

Every route is authenticated by an app-wide dependency; a route is reachable without a token
only if its endpoint is explicitly decorated with `@public`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from sqlalchemy import ColumnElement, Row, Select, String, Uuid, and_, bindparam, select
from sqlalchemy.orm import Session, joinedload

from app.auth import throttle
from app.auth.permissions import CASE_CREATORS, CasePermission, case_role_allows
from app.auth.tokens import looks_like_token, secret_digest
from app.db import SAFE_METHODS, DbSession, release_connection, utcnow
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
    A known token always authenticates (or gets its own 401: revoked, expired, deactivated);
    an unknown or malformed one is counted against the client address, which gets 429 once
    it sent too many lately (app.auth.throttle).

    On a safe-method route that loads a case, the case access (and the endpoint's
    `@case_read_ahead` columns) come in the token's own statement: one round trip, in this
    one thread-pool hop. They are looked at only once the token is known good (see
    `load_case_access`)."""
    principal: Principal | None = getattr(request.state, _PRINCIPAL, None)
    if isinstance(principal, Principal):
        return principal  # decided before the body was read (app.auth.before_body)
    route = request.scope.get("route")
    endpoint = getattr(route, "endpoint", None)
    if is_public_endpoint(endpoint):
        return None
    header = request.headers.get("authorization")
    if not header:
        raise NotAuthenticated("Send an API token: 'Authorization: Bearer <token>'.")
    case_id = _case_to_preload(request, route)
    ahead: CaseReadAhead[Any] | None = getattr(endpoint, _READ_AHEAD_MARK, None)
    row: Row[Any] | None = None
    try:
        secret = _bearer_secret(header)
        if case_id is None:
            row = _token_row(session, secret)
        else:
            row = _token_and_case(session, secret, case_id, ahead)
        if row is None:
            raise NotAuthenticated("The token is not valid.")
    except NotAuthenticated:
        _count_guess(request, session)
        raise
    principal = _principal_from(row)
    if case_id is not None:  # the token is good: its case part may be used
        _keep_case_access(request, principal, case_id, row, ahead)
        if ahead is not None:  # all the endpoint reads came in that statement
            release_connection(session)
    setattr(request.state, _PRINCIPAL, principal)
    return principal


def _count_guess(request: Request, session: Session) -> None:
    """An unknown or malformed token: 429 if its address is over the limit (then not counted),
    else one more failure for it."""
    key = throttle.client_key(current_client_address())
    throttle.refuse_if_throttled(session, key)
    session.rollback()  # only reads so far; SQLite lets one writer in, the count's
    throttle.record_failure(request.app.state.database, key)


def _bearer_secret(header: str | None) -> str:
    if not header:
        raise NotAuthenticated("Send an API token: 'Authorization: Bearer <token>'.")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not looks_like_token(secret):
        raise NotAuthenticated("The Authorization header does not hold a Casefile API token.")
    return secret


# Statements that run on nearly every request are built once: a statement's cache key is
# computed once per statement object.
# Columns, not entities: the principal needs seven values, not two ORM objects to build,
# track in the identity map and expire.
_TOKEN_COLUMNS = (
    ApiToken.id,
    ApiToken.revoked_at,
    ApiToken.expires_at,
    User.id.label("user_id"),
    User.name,
    User.role,
    User.active,
)
_TOKEN_WIDTH = len(_TOKEN_COLUMNS)  # a token statement's row: these first, then any others


def _token_select(*more: Any) -> Select[Any]:
    return (
        select(*_TOKEN_COLUMNS, *more)
        .select_from(ApiToken)
        .join(User, ApiToken.user_id == User.id)
        .where(ApiToken.secret_sha256 == bindparam("digest", type_=String()))
    )


_TOKEN_AND_USER = _token_select()


def _token_row(session: Session, secret: str) -> Row[Any] | None:
    """The token's row with its user's columns, None if the token is unknown. Run on the
    session's connection (Core), not through the ORM: only columns are read, and the ORM's
    execution machinery costs about as much CPU again as the statement itself."""
    return (
        session.connection()
        .execute(_TOKEN_AND_USER, {"digest": secret_digest(secret)})
        .first()
    )


def _principal_from(row: Row[Any]) -> Principal:
    """The principal of a known token's row (its first columns), or 401. Never throttled: the
    token exists, so it is not a guess (app.auth.throttle)."""
    token_id, revoked_at, expires_at, user_id, name, role, active = row[:_TOKEN_WIDTH]
    if revoked_at is not None:
        raise NotAuthenticated("The token has been revoked.")
    if expires_at is not None and expires_at <= utcnow():
        raise NotAuthenticated("The token has expired.")
    if not active:
        raise NotAuthenticated("The user of this token is deactivated.")
    return Principal(user_id=user_id, name=name, role=GlobalRole(role), token_id=token_id)


_PRINCIPAL = "casefile_principal"


# The dependencies below only look at what is already loaded: `async def` keeps them on the
# event loop instead of sending each through the thread pool (a hop costs more than the check).
async def current_principal(request: Request) -> Principal:
    """The caller `authenticate` found for this request.

    Read from the request, where that app-wide dependency (solved before any route's own)
    left it, rather than by depending on `authenticate` again: FastAPI caches the value but
    walks a dependency's whole sub-tree again wherever it is named, on every request. No
    principal there is a bug (a public endpoint, or an app without `authenticate`), never a
    pass: it fails the request."""
    return authenticated(request)


def authenticated(request: Request) -> Principal:
    """The principal `authenticate` left on this request, or a RuntimeError (a 500): a public
    endpoint asked for one, or the app does not authenticate."""
    principal: Principal | None = getattr(request.state, _PRINCIPAL, None)
    if not isinstance(principal, Principal):
        raise RuntimeError("no authenticated principal: a public route, or no `authenticate`")
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
    session: DbSession,
) -> CaseAccess:
    """The case of the path, for its members. On safe-method routes authentication already
    read it, in the token's statement; its outcome, access or 404, is given here, where the
    dependency order expects it (after the checks before this dependency). The caller is
    `authenticated(request)`, as in `current_principal`, without a dependency's walk."""
    principal = authenticated(request)
    preloaded: _PreloadedAccess | None = getattr(request.state, _PRELOADED, None)
    if preloaded is not None and preloaded.case_id == case_id and preloaded.principal is principal:
        if preloaded.refusal is not None:
            raise preloaded.refusal
        if preloaded.access is not None:
            return preloaded.access
    return await run_in_threadpool(case_access, session, principal, case_id)


# The path's case id in statements that read a case (and its read-ahead columns) for a request.
CASE_ID = bindparam("case_id", type_=Uuid())


@dataclass(frozen=True, eq=False)
class CaseReadAhead(Generic[T]):
    """What a safe-method endpoint on the path's case reads besides the case: `columns` that
    depend on the `CASE_ID` parameter alone (scalar subqueries; never on the token, user or
    case rows beside them), made into the endpoint's value by `result`. Compared by identity:
    each is the key of its statement."""

    columns: tuple[ColumnElement[Any], ...]
    result: Callable[[tuple[Any, ...]], T]


_PRELOADED = "casefile_preloaded_case_access"


@dataclass(frozen=True)
class _PreloadedAccess:
    case_id: uuid.UUID
    principal: Principal
    access: CaseAccess | None
    refusal: CaseNotFound | None
    ahead: CaseReadAhead[Any] | None = None
    ahead_value: Any = None


def _case_to_preload(request: Request, route: object) -> uuid.UUID | None:
    """The path's case id on a safe-method route that will ask for `load_case_access`."""
    if request.method not in SAFE_METHODS or not _loads_case_access(route):
        return None
    try:
        return uuid.UUID(str(request.path_params["case_id"]))
    except (KeyError, ValueError):
        return None  # no access will be asked for: the path parameter gets its 422


# One statement per read-ahead (None: the case access alone), built on first use.
_TOKEN_AND_CASE: dict[CaseReadAhead[Any] | None, Select[Any]] = {}


def _token_and_case_select(ahead: CaseReadAhead[Any] | None) -> Select[Any]:
    """The token's row with, beside it, the path's case, its tags, the token user's membership
    and the read-ahead columns: left joins, so that a valid token gets its row whether or not
    the case exists or the user is a member. The case side is used only after the token side
    passed every check (`authenticate`)."""
    statement = _TOKEN_AND_CASE.get(ahead)
    if statement is None:
        statement = (
            _token_select(
                Case,
                CaseMember.role,
                CaseMember.can_identify_witnesses,
                *(ahead.columns if ahead is not None else ()),
            )
            .outerjoin(Case, Case.id == CASE_ID)
            .outerjoin(
                CaseMember, and_(CaseMember.case_id == Case.id, CaseMember.user_id == User.id)
            )
            .options(joinedload(Case.tags))
        )
        _TOKEN_AND_CASE[ahead] = statement
    return statement


def _token_and_case(
    session: Session,
    secret: str,
    case_id: uuid.UUID,
    ahead: CaseReadAhead[Any] | None,
) -> Row[Any] | None:
    """The row of `_token_and_case_select`; None if the token is unknown. ORM, not Core: the
    case is an entity, with its tags, in the request's session like any loaded case."""
    return (
        session.execute(
            _token_and_case_select(ahead),
            {"digest": secret_digest(secret), "case_id": case_id},
        )
        .unique()
        .first()
    )


def _keep_case_access(
    request: Request,
    principal: Principal,
    case_id: uuid.UUID,
    row: Row[Any],
    ahead: CaseReadAhead[Any] | None,
) -> None:
    """Keep, not raise, the case access of a token's row (the token already passed): a 404
    must come where `load_case_access` stands, after the checks before it."""
    case, role, can_identify = row[_TOKEN_WIDTH : _TOKEN_WIDTH + 3]
    try:
        access = _granted(principal, case, role, can_identify)
    except CaseNotFound as refusal:
        setattr(request.state, _PRELOADED, _PreloadedAccess(case_id, principal, None, refusal))
        return
    value = ahead.result(tuple(row[_TOKEN_WIDTH + 3 :])) if ahead is not None else None
    setattr(
        request.state,
        _PRELOADED,
        _PreloadedAccess(case_id, principal, access, None, ahead, value),
    )


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


_READ_AHEAD_MARK = "__casefile_case_read_ahead__"


def case_read_ahead(ahead: CaseReadAhead[Any]) -> Callable[[F], F]:
    """Mark a safe-method endpoint on the path's case: `ahead`'s columns are read in
    authentication's statement, with the case access, and handed over by `read_ahead`. An
    endpoint left with nothing but rendering can then be `async def`: no hop of its own. A
    mark, not a dependency: each dependency costs FastAPI a walk of its sub-dependencies on
    every request. Only for reads (the session is read-only there)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _READ_AHEAD_MARK, ahead)
        return endpoint

    return mark


async def read_ahead(
    request: Request, access: CaseAccess, session: Session, ahead: CaseReadAhead[T]
) -> T:
    """What `@case_read_ahead(ahead)` read with this access; read now, in a thread, if it was
    not (another method, or another access). Given only for the very access the endpoint
    got, so only past that endpoint's permission checks."""
    preloaded: _PreloadedAccess | None = getattr(request.state, _PRELOADED, None)
    if preloaded is not None and preloaded.access is access and preloaded.ahead is ahead:
        value: T = preloaded.ahead_value
        return value
    return await run_in_threadpool(_read_ahead_now, session, access, ahead)


def _read_ahead_now(session: Session, access: CaseAccess, ahead: CaseReadAhead[T]) -> T:
    row = session.connection().execute(select(*ahead.columns), {"case_id": access.case.id}).one()
    return ahead.result(tuple(row))


_CASE_AND_MEMBERSHIP = (
    select(Case, CaseMember.role, CaseMember.can_identify_witnesses)
    .outerjoin(
        CaseMember,
        and_(
            CaseMember.case_id == Case.id,
            CaseMember.user_id == bindparam("user_id", type_=Uuid()),
        ),
    )
    .where(Case.id == CASE_ID)
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
    case, role, can_identify = row if row is not None else (None, None, None)
    return _granted(principal, case, role, can_identify)


def _granted(
    principal: Principal, case: Case | None, role: str | None, can_identify: bool | None
) -> CaseAccess:
    """The access of `principal` to a loaded case with its membership columns (`role` is None
    for a non-member: the column is NOT NULL), or 404 for non-members and missing cases."""
    if case is None or (role is None and not principal.is_admin):
        raise CaseNotFound()
    return CaseAccess(
        case=case,
        principal=principal,
        role=CaseRole(role) if role is not None else None,
        can_identify_witnesses=principal.is_admin or bool(role is not None and can_identify),
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
