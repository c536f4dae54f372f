"""The OpenAPI document, finished so that generated clients see the API as it really behaves."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.auth.dependencies import is_public_endpoint
from app.errors import PROBLEM_MEDIA_TYPE
from app.kit.routing import iter_api_routes
from app.kit.server import HEAD_TIMEOUT_S, MAX_HEAD_BYTES

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_BEARER = "bearerAuth"
_REQUEST_ID_HEADER = {
    "description": "Identifies the request in logs; echoes the caller's X-Request-ID if valid.",
    "schema": {"type": "string"},
}


# What app.kit.idempotency.valid_idempotency_key accepts; anything else is a 400.
_IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[\\x21-\\x7e]+$",
}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[_BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token issued by an admin (`casefile users create` prints one).",
    }
    stall = float(app.state.settings.body_stall_seconds)
    for route in iter_api_routes(app):
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            _finish_operation(operation, public=is_public_endpoint(route.endpoint), stall=stall)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)
    app.openapi_schema = schema
    return schema


def _finish_operation(operation: dict[str, Any], *, public: bool, stall: float) -> None:
    # Authentication is enforced app-wide; the document says so operation by operation.
    operation["security"] = [] if public else [{_BEARER: []}]
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if not public and "401" not in responses:
        responses["401"] = {"description": "Unauthorized"}
    if not public:
        responses["429"] = {
            "description": "Too many invalid tokens from this address lately (see Retry-After)",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        }
    if _reads_json_body(operation) or _idempotency_key(operation) is not None:
        # Malformed JSON and a malformed Idempotency-Key are refused before any validation.
        responses.setdefault("400", {"description": "Bad Request"})
    if (key := _idempotency_key(operation)) is not None:
        key["schema"] = _IDEMPOTENCY_KEY_SCHEMA
    _add_transport_refusals(operation, responses, stall)
    for status, response in responses.items():
        if status != "431":  # made below the app, before a request id exists
            response.setdefault("headers", {})["X-Request-ID"] = _REQUEST_ID_HEADER
        if status[0] in "45":
            # Every error is problem+json (RFC 9457), whatever FastAPI assumed.
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}


def _add_transport_refusals(
    operation: dict[str, Any], responses: dict[str, Any], stall: float
) -> None:
    """408 and 431, documented on every operation, public ones included.

    `casefile serve`'s HTTP protocol (app.kit.server) reads each request head before any
    routing: a head past MAX_HEAD_BYTES is answered 431, one not complete within HEAD_TIMEOUT_S
    408, whichever operation it was for, so no operation is exempt. An operation that takes a
    request body can also end in 408 when the body stalls (silent for `stall` seconds,
    CASEFILE_BODY_STALL_SECONDS), and its 408 says so. Both answers
    are problem+json like every other error; the 431 carries no X-Request-ID.
    """
    timeout = f"Request Timeout: the request head did not arrive within {HEAD_TIMEOUT_S:.0f} s"
    if "requestBody" in operation:
        timeout += (
            f", or the body stalled (no data for {stall:g} s)"
        )
    responses.setdefault("408", {"description": timeout})
    responses.setdefault(
        "431",
        {
            "description": "Request Header Fields Too Large: the request line and headers exceed "
            f"{MAX_HEAD_BYTES} bytes"
        },
    )


def _reads_json_body(operation: dict[str, Any]) -> bool:
    return "application/json" in operation.get("requestBody", {}).get("content", {})


def _idempotency_key(operation: dict[str, Any]) -> dict[str, Any] | None:
    for parameter in operation.get("parameters", ()):
        if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
            found: dict[str, Any] = parameter
            return found
    return None
