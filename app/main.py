"""The application factory: wiring of settings, database, object store, routes and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from app import __version__
from app.audit.router import router as audit_router
from app.audit.service import register_signing_key
from app.audit.signing import load_or_create_signer
from app.auth.dependencies import authenticate
from app.bundles.router import router as bundles_router
from app.cases.router import router as cases_router
from app.config import Settings
from app.db import POOL_SIZE, create_database
from app.docs_ui import install_docs_ui
from app.evidence.router import router as evidence_router
from app.kit.head import HeadWithoutBody
from app.kit.idempotency import IdempotentReplay, on_idempotent_replay
from app.kit.metrics import HttpMetrics
from app.kit.middleware import RequestContextMiddleware
from app.kit.openapi import build_openapi
from app.kit.problems import install_problem_handlers
from app.members.router import router as members_router
from app.migrate import schema_is_current
from app.ops.router import router as ops_router
from app.protection.refresh import backfill
from app.protection.router import router as protection_router
from app.site_visits.router import router as site_visits_router
from app.storage import S3ObjectStore, StorageMisconfigured, open_object_store
from app.testimonies.router import router as testimonies_router
from app.uploads.headers import TusResumableHeader
from app.uploads.router import router as uploads_router
from app.users.router import router as users_router
from app.witnesses.crypto import IdentityKeyring
from app.witnesses.router import router as witnesses_router

DESCRIPTION = """\
Evidence-tracking case management for human-rights investigations.

Every request needs `Authorization: Bearer <token>` except the probes. Errors are RFC 9457
`application/problem+json`. Lists are cursor-paginated (`limit`, `cursor` → `next_cursor`).
Single resources carry an `ETag`; `PATCH` needs `If-Match`. Creating `POST`s accept an
`Idempotency-Key`. Witness identities are shown only to members allowed to see them.
"""

TAGS = [
    {"name": "cases", "description": "Strikes under investigation."},
    {"name": "members", "description": "Who works on a case, and who may identify witnesses."},
    {"name": "witnesses", "description": "Witnesses: pseudonyms for all, identities for few."},
    {"name": "testimonies", "description": "What witnesses said, in their language."},
    {"name": "site-visits", "description": "Visits to strike sites, their team and findings."},
    {"name": "evidence", "description": "Original files: fingerprinted, never altered."},
    {"name": "uploads", "description": "Resumable uploads (tus 1.0) for bad connections."},
    {"name": "bundles", "description": "Signed case bundles for legal teams."},
    {"name": "users", "description": "People and their API tokens (admins)."},
    {"name": "audit", "description": "The tamper-evident audit trail and its signing keys."},
    {"name": "operations", "description": "Probes and metrics."},
]


class StartupError(RuntimeError):
    """The service cannot start as configured; the message says what to fix."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = HttpMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        signer = load_or_create_signer(settings.signing_key_file)
        keyring = IdentityKeyring(settings.identity_key_file)
        database = create_database(settings.database_url, signer=signer, keyring=keyring)
        try:
            if not schema_is_current(database.engine):
                raise StartupError("the database schema is not current: run `casefile migrate`")
            with database.write_sessions.begin() as session:
                register_signing_key(session, signer)
            backfill(database)  # texts a migration could not compute (no identity key there)
            store = open_object_store(settings)
            try:
                store.check()
                if settings.s3_object_lock_days and isinstance(store, S3ObjectStore):
                    store.check_retention_possible()
            except StorageMisconfigured as exc:
                raise StartupError(f"object storage ({store.description}): {exc}") from exc
        except BaseException:
            database.dispose()
            raise
        app.state.database = database
        app.state.object_store = store
        app.state.signer = signer
        app.state.identity_keyring = keyring
        try:
            yield
        finally:
            store.close()
            database.dispose()

    app = FastAPI(
        title="Casefile",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        # Swagger UI is served from the app's own files (app/docs_ui.py); no ReDoc.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # Authentication's thread-pool hop takes a connection: no more of them at once than the
        # pool keeps. Past that, a hop would only open an overflow connection, closed again when
        # given back: under load a new PostgreSQL backend (3 ms of CPU) every ten case reads
        # (bench/RESULTS.md: load). Waiting hops wait on the event loop, not in a thread.
        dependencies=[Depends(authenticate, max_concurrency=POOL_SIZE)],
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_problem_handlers(app)
    app.add_exception_handler(IdempotentReplay, on_idempotent_replay)
    app.add_middleware(TusResumableHeader)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        trusted_proxies=settings.trusted_proxy_networks,
        proxy_header=settings.proxy_header,
    )
    app.add_middleware(HeadWithoutBody)  # outermost: no byte of a HEAD's body leaves
    for router in (
        ops_router,
        users_router,
        cases_router,
        members_router,
        witnesses_router,
        testimonies_router,
        site_visits_router,
        evidence_router,
        uploads_router,
        bundles_router,
        audit_router,
        protection_router,
    ):
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    install_docs_ui(app)
    return app
