"""Application errors, each rendered as one RFC 9457 problem+json response.

Details are written for the caller and must never carry what the caller may not see: no witness
identity, no token secret, no stack trace, no echo of submitted values.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "urn:casefile:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class AppError(Exception):
    """Base of every expected failure; subclasses fix the status, slug and title."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_BASE + self.slug


# -- 400 -------------------------------------------------------------------------------------
class InvalidCursor(AppError):
    status, slug, title = 400, "invalid-cursor", "Invalid pagination cursor"


class InvalidParameter(AppError):
    status, slug, title = 400, "invalid-parameter", "Invalid parameter"


# -- 401 / 403 -------------------------------------------------------------------------------
class NotAuthenticated(AppError):
    status, slug, title = 401, "not-authenticated", "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="casefile"'})


class TooManyFailedAuthentications(AppError):
    status, slug, title = 429, "too-many-failed-authentications", "Too many failed authentications"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many requests with invalid tokens from this address; try again in "
            f"{retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Not allowed"


# -- 404 -------------------------------------------------------------------------------------
class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class CaseNotFound(NotFound):
    slug, title = "case-not-found", "Case not found"


class UserNotFound(NotFound):
    slug, title = "user-not-found", "User not found"


class TokenNotFound(NotFound):
    slug, title = "token-not-found", "Token not found"


class MemberNotFound(NotFound):
    slug, title = "member-not-found", "Member not found"


# -- 409 / 412 / 413 / 422 / 428 -------------------------------------------------------------
class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class UserNameTaken(Conflict):
    slug, title = "user-name-taken", "User name already taken"


class LastLeadRequired(Conflict):
    slug, title = "last-lead", "A case needs at least one lead"


class LastAdminRequired(Conflict):
    slug, title = "last-admin", "At least one active admin is required"


class IdempotencyInFlight(Conflict):
    slug, title = "idempotency-in-flight", "A request with this Idempotency-Key is in progress"

    def __init__(self) -> None:
        super().__init__(
            "The first request with this key has not finished; retry shortly.",
            headers={"Retry-After": "1"},
        )


class IdempotencyNotReplayable(Conflict):
    slug, title = "idempotency-not-replayable", "This response cannot be replayed"


class PreconditionFailed(AppError):
    status, slug, title = 412, "precondition-failed", "Resource has changed"


class PreconditionRequired(AppError):
    status, slug, title = 428, "precondition-required", "If-Match header required"


class RequestBodyStalled(AppError):
    status, slug, title = 408, "request-timeout", "The request body stalled"

    def __init__(self, seconds: float) -> None:
        # RFC 9110 §15.5.9: the rest of the body may still arrive; the connection is unusable.
        super().__init__(
            f"No data for {seconds:g} s; the request was abandoned.",
            headers={"Connection": "close"},
        )


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnprocessableContent(AppError):
    status, slug, title = 422, "validation-error", "Request is not valid"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, extra={"errors": errors or []})


class IdempotencyKeyReused(UnprocessableContent):
    slug, title = "idempotency-key-reused", "Idempotency-Key reused with a different request"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different request body or path."
        )


# -- 503 -------------------------------------------------------------------------------------
class ServiceUnavailable(AppError):
    status, slug, title = 503, "service-unavailable", "Service temporarily unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


class DatabaseUnavailable(ServiceUnavailable):
    slug, title = "database-unavailable", "Database unavailable"


class StorageUnavailable(ServiceUnavailable):
    slug, title = "storage-unavailable", "Object storage unavailable"
