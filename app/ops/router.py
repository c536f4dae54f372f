"""Probes and metrics for operators and orchestrators. Public, and free of case data."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from app.auth.dependencies import public
from app.db import Database
from app.errors import AppError
from app.kit.metrics import HttpMetrics
from app.kit.problems import problem_response, problem_responses
from app.kit.responses import json_response
from app.kit.routing import api_router
from app.storage import ObjectStore, StorageMisconfigured

router = api_router(tags=["operations"])
log = logging.getLogger("casefile.ops")

CheckResult = Literal["ok", "unavailable"]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    database: CheckResult
    storage: CheckResult


@router.get(
    "/healthz",
    operation_id="getHealth",
    summary="Liveness: the process is up and serving",
    response_model=Health,
)
@public
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness: the database and the object store are reachable",
    response_model=Readiness,
    responses=problem_responses(503),
)
@public
def readyz(request: Request) -> Response:
    database: Database = request.app.state.database
    store: ObjectStore = request.app.state.object_store
    result = Readiness(status="ready", database="ok", storage="ok")
    try:
        database.ping()
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        result.database = "unavailable"
    try:
        store.check()
    except (AppError, StorageMisconfigured) as exc:
        log.warning("readiness: storage unusable: %s", exc)
        result.storage = "unavailable"
    if result.database == "ok" and result.storage == "ok":
        return json_response(result)
    return problem_response(
        503,
        "Not ready",
        f"database: {result.database}; storage: {result.storage}",
        headers={"Retry-After": "5"},
        extra={"database": result.database, "storage": result.storage},
    )


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics (request counts and latencies; no case data)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
@public
def metrics(request: Request) -> Response:
    registry: HttpMetrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
