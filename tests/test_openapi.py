"""The OpenAPI document describes the API as it behaves, for generated clients and scripts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth.dependencies import is_public_endpoint
from app.kit.routing import LimitedBodyRoute, iter_api_routes
from app.kit.server import MAX_HEAD_BYTES

PUBLIC_OPERATIONS = {"getHealth", "getReadiness", "getMetrics"}


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_is_named_tagged_and_summarised(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for path, method, operation in operations(spec):
        assert operation.get("tags"), (method, path)
        assert operation.get("summary"), (method, path)
        assert operation["operationId"][0].islower(), operation["operationId"]


def test_only_the_probes_are_public(spec: dict[str, Any], app: FastAPI) -> None:
    public = {op["operationId"] for _, _, op in operations(spec) if op["security"] == []}
    assert public == PUBLIC_OPERATIONS
    marked = {
        route.operation_id for route in iter_api_routes(app) if is_public_endpoint(route.endpoint)
    }
    assert marked == PUBLIC_OPERATIONS
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_protected_operation_documents_its_errors_as_problems(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        if operation["operationId"] in PUBLIC_OPERATIONS:
            continue
        assert operation["security"] == [{"bearerAuth": []}]
        responses = operation["responses"]
        assert "401" in responses, (method, path)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert set(response["content"]) == {"application/problem+json"}, (status, path)
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}
            if status != "431":  # answered below the app, before a request id exists
                assert "X-Request-ID" in response["headers"], (status, method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_every_operation_documents_the_refusals_made_before_routing(spec: dict[str, Any]) -> None:
    """`casefile serve` answers 431 (head too large) and 408 (head too slow) before a request
    is routed, public ones included; an operation with a body also gets 408 when it stalls."""
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        for status in ("408", "431"):
            assert responses[status]["content"] == problem, (status, method, path)
        assert "X-Request-ID" not in responses["431"].get("headers", {}), (method, path)
        assert f"{MAX_HEAD_BYTES} bytes" in responses["431"]["description"]
        body_stalls = "body stalled" in responses["408"]["description"]
        assert body_stalls == ("requestBody" in operation), (method, path)


def test_creating_posts_take_an_idempotency_key(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        if method == "post" and "201" in operation["responses"]:
            names = {p["name"] for p in operation.get("parameters", [])}
            assert "Idempotency-Key" in names, path
            assert "Location" in operation["responses"]["201"]["headers"], path


def test_patches_require_if_match_and_document_the_preconditions(spec: dict[str, Any]) -> None:
    # tus PATCHes append at Upload-Offset: their precondition is the offset, not an ETag.
    patches = [
        (path, op)
        for path, method, op in operations(spec)
        if method == "patch" and op["operationId"] != "appendUpload"
    ]
    assert patches
    for path, operation in patches:
        names = {p["name"] for p in operation.get("parameters", [])}
        assert "If-Match" in names, path
        assert {"412", "428"} <= set(operation["responses"]), path
        assert "ETag" in operation["responses"]["200"]["headers"], path


def test_request_bodies_have_examples(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("CaseCreate", "CasePatch", "UserCreate", "MemberPut", "CaseRead", "Problem"):
        assert schemas[name].get("examples"), name


def test_every_route_refuses_oversized_bodies(app: FastAPI) -> None:
    """Routers must be made with kit.routing.api_router, whose routes bound the body size."""
    for route in iter_api_routes(app):
        assert isinstance(route, LimitedBodyRoute), route.path
