"""RFC 9457 problem+json: the response schema, the renderers and the exception handlers."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from app.errors import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    AppError,
    DatabaseUnavailable,
    UnprocessableContent,
)
from app.kit.request_context import current_request_id

log = logging.getLogger("casefile.errors")


class FieldError(BaseModel):
    """One invalid input: where it was, which field, and why (never the submitted value)."""

    location: str = Field(examples=["body"])
    field: str = Field(examples=["location.lat"])
    message: str = Field(examples=["Input should be less than or equal to 90"])
    type: str = Field(examples=["less_than_equal"])


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:casefile:problem:case-not-found",
                    "title": "Case not found",
                    "status": 404,
                    "detail": "Case not found",
                    "request_id": "4f0c6a1e9b2d4c8e8a7f3b6d5e2c1a90",
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    detail: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_uri: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {"type": type_uri, "title": title, "status": status, "detail": detail}
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(extra or {})
    return Response(
        content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def render_app_error(error: AppError) -> Response:
    return problem_response(
        error.status,
        error.title,
        error.detail,
        type_uri=error.type_uri,
        headers=error.headers,
        extra=error.extra,
    )


def _field_errors(errors: Sequence[Any], *, location: str | None = None) -> list[dict[str, str]]:
    """Pydantic errors as field errors. Messages name constraints, never inputs: the submitted
    value ("input") is deliberately dropped, as it may be a witness's name."""
    fields = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        if location is None:
            where, path = (loc[0] if loc else "body"), loc[1:]
        else:
            where, path = location, loc
        fields.append(
            {
                "location": where,
                "field": ".".join(path),
                "message": str(err.get("msg", "invalid")),
                "type": str(err.get("type", "invalid")),
            }
        )
    return fields


def invalid_field(field: str, message: str, *, location: str = "body") -> UnprocessableContent:
    """A 422 about one field, found invalid by a rule a schema cannot express."""
    return UnprocessableContent(
        f"'{field}' {message}.",
        [{"location": location, "field": field, "message": message, "type": "value_error"}],
    )


def validation_problem(exc: ValidationError) -> UnprocessableContent:
    """A body that is well-formed but invalid once merged or checked by a service."""
    errors = _field_errors(exc.errors(include_input=False), location="body")
    return UnprocessableContent(f"{len(errors)} invalid field(s); see errors.", errors)


async def _on_app_error(_request: Request, exc: Exception) -> Response:
    return render_app_error(cast(AppError, exc))


async def _on_validation_error(_request: Request, exc: Exception) -> Response:
    errors = _field_errors(cast(RequestValidationError, exc).errors())
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(
            400,
            "Malformed JSON",
            "The request body is not valid JSON.",
            type_uri=PROBLEM_TYPE_BASE + "malformed-json",
        )
    return problem_response(
        422,
        "Request is not valid",
        f"{len(errors)} invalid field(s); see errors.",
        type_uri=PROBLEM_TYPE_BASE + "validation-error",
        extra={"errors": errors},
    )


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)
    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; RFC 9110 wants them all.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(exc.status_code, title, detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        match, _ = context.original_route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(context.methods or ())
    return sorted(methods)


async def _on_database_error(_request: Request, exc: Exception) -> Response:
    exc = cast(DBAPIError, exc)
    if not exc.connection_invalidated and not _is_unavailability(exc):
        raise exc  # a real bug (constraint, SQL error): let the 500 path log it
    log.warning("database unavailable: %s", type(exc.orig).__name__)
    return render_app_error(DatabaseUnavailable("The database cannot be reached; retry later."))


def _is_unavailability(exc: DBAPIError) -> bool:
    """Connection loss, shutdown or lock timeout: conditions a retry can outlive."""
    return isinstance(exc, OperationalError | InterfaceError)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _on_app_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(DBAPIError, _on_database_error)


_ETAG_HEADER = {
    "description": "Version of the resource; send it back in If-Match to change it.",
    "schema": {"type": "string"},
}
_LOCATION_HEADER = {"description": "URL of the created resource.", "schema": {"type": "string"}}


_EXTENSION_PHRASES = {460: "Checksum Mismatch (tus)"}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return _EXTENSION_PHRASES.get(status, "Error")


def problem_responses(
    *statuses: int, success: int = 200, etag: bool = False, location: bool = False
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries: the error statuses a route can answer, and the headers
    of its success response."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": Problem, "description": _phrase(status)}
        for status in sorted(set(statuses))
    }
    headers = {}
    if etag:
        headers["ETag"] = _ETAG_HEADER
    if location:
        headers["Location"] = _LOCATION_HEADER
    if headers:
        responses[success] = {"headers": headers}
    return responses
