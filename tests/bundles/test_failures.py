"""An export that cannot be made is refused before anything is recorded or sent."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from app.audit import service as audit_service
from app.storage import S3ObjectStore
from tests.bundles.support import Dossier
from tests.evidence.support import assert_problem
from tests.evidence.test_failures import _unreachable_s3_client


def _exports(dossier: Dossier) -> int:
    events = dossier.client.get(
        f"/api/v1/cases/{dossier.case_id}/audit",
        params={"limit": 200},
        headers=dossier.lead.headers,
    ).json()["items"]
    return sum(1 for e in events if e["action"] == "bundle.exported")


def test_storage_down_is_a_503_before_any_export_is_recorded(
    dossier: Dossier, app: FastAPI
) -> None:
    dead = S3ObjectStore(_unreachable_s3_client(), "casefile-nowhere", "t")
    healthy = app.state.object_store
    app.state.object_store = dead
    try:
        problem = assert_problem(dossier.bundle(dossier.lead), 503)
        assert problem["type"] == "urn:casefile:problem:storage-unavailable"
    finally:
        app.state.object_store = healthy
        dead.close()
    assert _exports(dossier) == 0
    assert dossier.bundle(dossier.lead).status_code == 200
    assert _exports(dossier) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_database_failure_during_the_export_records_nothing(
    dossier: Dossier, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = audit_service.checkpoint

    def database_gone(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT INTO audit_checkpoints …", {}, ConnectionError("gone"))

    with monkeypatch.context() as patched:
        patched.setattr(audit_service, "checkpoint", database_gone)
        assert_problem(dossier.bundle(dossier.lead), 503, "database-unavailable")
    assert audit_service.checkpoint is real
    assert _exports(dossier) == 0  # the export event went with the failed transaction
