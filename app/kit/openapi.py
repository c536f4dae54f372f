"""The OpenAPI document, finished so that generated clients see the API as it really behaves."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.auth.dependencies import is_public_endpoint
from app.errors import PROBLEM_MEDIA_TYPE
from app.kit.routing import iter_api_routes

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_BEARER = "bearerAuth"
_REQUEST_ID_HEADER = {
    "description": "Identifies the request in logs; echoes the caller's X-Request-ID if valid.",
    "schema": {"type": "string"},
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
    for route in iter_api_routes(app):
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            _finish_operation(operation, public=is_public_endpoint(route.endpoint))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)
    app.openapi_schema = schema
    return schema


def _finish_operation(operation: dict[str, Any], *, public: bool) -> None:
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
    for status, response in responses.items():
        response.setdefault("headers", {})["X-Request-ID"] = _REQUEST_ID_HEADER
        if status[0] in "45":
            # Every error is problem+json (RFC 9457), whatever FastAPI assumed.
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
