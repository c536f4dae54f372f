"""S3 Object Lock (compliance mode): with CASEFILE_S3_OBJECT_LOCK_DAYS set, no one (not the app,
not an operator with the bucket's keys) can delete or overwrite an original before its
retention ends, and the app keeps serving the exact version it stored.

S3 only: SeaweedFS with a bucket created with Object Lock enabled (and so versioned).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import StartupError, create_app
from app.storage.s3 import PART_BYTES
from tests.fixtures.api import DatabaseProbe
from tests.fixtures.seaweed import S3Endpoint
from tests.uploads.support import MIB, Team, Tus, content, multipart_upload, payload

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture(scope="module")
def locked_bucket(s3_endpoint: S3Endpoint) -> str:
    name = f"casefile-lock-{uuid.uuid4().hex[:12]}"
    s3_endpoint.client().create_bucket(  # type: ignore[attr-defined]
        Bucket=name, ObjectLockEnabledForBucket=True
    )
    return name


def with_storage(settings: Settings, **changes: Any) -> Settings:
    """The test's settings with another store. Built anew rather than by `model_copy`: a copy
    would carry the `storage` cached property of the original, pointing at the old bucket."""
    return Settings(_env_file=None, **{**settings.model_dump(), **changes})  # type: ignore[call-arg]


@pytest.fixture
def locked_settings(settings: Settings, locked_bucket: str) -> Settings:
    return with_storage(
        settings,
        storage_url=f"s3://{locked_bucket}/lock-{uuid.uuid4().hex[:12]}",
        s3_object_lock_days=1,
    )


@pytest.fixture
def locked(locked_settings: Settings) -> Iterator[TestClient]:
    """The API on the Object Lock bucket."""
    with TestClient(create_app(locked_settings)) as client:
        yield client


@pytest.fixture
def s3(s3_endpoint: S3Endpoint) -> Any:
    return s3_endpoint.client()


Located = Callable[[str], tuple[str, str]]


@pytest.fixture
def located(db: DatabaseProbe, locked_settings: Settings) -> Located:
    """An item's full S3 key and the version id the app recorded for it."""

    def locate(item_id: str) -> tuple[str, str]:
        key = db.scalar("SELECT object_key FROM evidence_items WHERE id = :id", id=item_id)
        version = db.scalar("SELECT object_version FROM evidence_items WHERE id = :id", id=item_id)
        assert key is not None
        assert version, "an original on a locked bucket must be recorded by version"
        return f"{locked_settings.storage.prefix}/{key}", version

    return locate


def tus_upload(client: TestClient, team: Team, data: bytes) -> str:
    tus = Tus(client)
    path = tus.start(team.lead, team.case_id, len(data), filename="locked.bin")
    done = tus.patch(team.lead, path, 0, data)
    assert done.status_code == 204, done.text
    return done.headers["Casefile-Evidence-Id"]


@pytest.mark.parametrize("via", ["multipart", "tus"])
def test_originals_are_retained_in_compliance_mode(
    locked: TestClient,
    team: Team,
    s3: Any,
    locked_settings: Settings,
    located: Located,
    via: str,
) -> None:
    """Whichever way it arrived, the original is locked for the configured days, and the app
    says until when; the lock is on the very version the app recorded."""
    data = payload(PART_BYTES + MIB + 9, seed=30) if via == "tus" else b"locked photograph"
    before = datetime.now(UTC)
    if via == "multipart":
        answer = multipart_upload(locked, team.lead, team.case_id, data, "locked.jpg")
        assert answer.status_code == 201, answer.text
        item_id = answer.json()["id"]
    else:
        item_id = tus_upload(locked, team, data)
    item = locked.get(f"/api/v1/evidence/{item_id}", headers=team.lead.headers).json()

    retained_until = datetime.fromisoformat(item["retained_until"])
    assert before + timedelta(days=1) <= retained_until <= datetime.now(UTC) + timedelta(days=1)
    key, version = located(item_id)
    retention = s3.get_object_retention(
        Bucket=locked_settings.storage.bucket, Key=key, VersionId=version
    )["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert abs(retention["RetainUntilDate"] - retained_until) < timedelta(seconds=2)
    assert content(locked, team.lead, item_id) == data


def test_a_locked_version_cannot_be_deleted_and_a_delete_marker_hides_nothing(
    locked: TestClient,
    team: Team,
    s3: Any,
    locked_settings: Settings,
    located: Located,
) -> None:
    """Someone with the bucket's keys tries to destroy an original: deleting the version is
    refused, and a plain delete only hides the key behind a marker, while the app, reading by
    version id, still serves the original byte for byte."""
    data = b"evidence that someone wants gone"
    answer = multipart_upload(locked, team.lead, team.case_id, data, "target.jpg")
    assert answer.status_code == 201, answer.text
    item_id = answer.json()["id"]
    key, version = located(item_id)
    bucket = locked_settings.storage.bucket

    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    marker = s3.delete_object(Bucket=bucket, Key=key)
    assert marker.get("DeleteMarker") is True
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key=key)  # the key now looks deleted ...
    assert content(locked, team.lead, item_id) == data  # ... but the version is still there
    verified = locked.post(f"/api/v1/evidence/{item_id}/verify", headers=team.lead.headers)
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "intact"


def test_lock_days_on_a_bucket_without_object_lock_fail_at_start(
    settings: Settings, s3_bucket: str
) -> None:
    """Promising retention the bucket cannot give would be worse than not starting: the app
    refuses to start and says what is missing."""
    unlocked = with_storage(
        settings,
        storage_url=f"s3://{s3_bucket}/nolock-{uuid.uuid4().hex[:8]}",
        s3_object_lock_days=1,
    )
    with pytest.raises(StartupError, match="Object Lock"), TestClient(create_app(unlocked)):
        pass
