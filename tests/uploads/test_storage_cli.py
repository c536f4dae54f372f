"""`casefile storage verify` and `casefile storage reconcile [--fix]`, run as an operator runs
them (subprocesses with CASEFILE_* set), on both backends.

Originals can rot on disk, be overwritten by an intruder or deleted by a mistaken script: the
operator must learn which exhibits are affected, by number, and the finding must enter each
case's audit trail. Reconciliation may tidy temp objects, but never deletes an original: an
object without a row is for a person to judge.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.storage.s3 import S3ObjectStore, make_s3_client
from tests.fixtures.cli import casefile, environment
from tests.uploads.support import (
    MIB,
    StoreProbe,
    Team,
    Tus,
    audit_events,
    multipart_upload,
    payload,
)

SendOriginal = Callable[[bytes], dict[str, Any]]


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return environment(settings)


@pytest.fixture
def upload(client: TestClient, team: Team) -> SendOriginal:
    """Upload one original to the team's case through the API; return the item."""

    def send(data: bytes) -> dict[str, Any]:
        answer = multipart_upload(client, team.lead, team.case_id, data, "photo.bin")
        assert answer.status_code == 201, answer.text
        item: dict[str, Any] = answer.json()
        return item

    return send


def key_of(item: dict[str, Any]) -> str:
    return f"evidence/{item['case_id']}/{item['id']}"


def verified(client: TestClient, team: Team) -> dict[str, str]:
    """exhibit number → status, from the evidence.verified events of the case's audit trail."""
    return {
        e["payload"]["exhibit_number"]: e["payload"]["status"]
        for e in audit_events(client, team.lead, team.case_id)
        if e["action"] == "evidence.verified"
    }


def test_a_clean_store_verifies_and_reconciles(
    env: dict[str, str], upload: SendOriginal, client: TestClient, team: Team, tus: Tus
) -> None:
    """The routine nightly run on a healthy store: exit 0, and every check is on the record.
    An upload in progress is not evidence yet: not counted, and its temp bytes are no orphan."""
    upload(b"first original")
    upload(payload(MIB + 7, seed=20))
    path = tus.start(team.lead, team.case_id, 10)
    assert tus.patch(team.lead, path, 0, b"abc").status_code == 204

    checked = casefile("storage", "verify", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "2 originals checked, 0 missing or altered" in checked.stdout
    assert verified(client, team) == {"MRT-0001": "intact", "MRT-0002": "intact"}

    reconciled = casefile("storage", "reconcile", env=env)
    assert reconciled.returncode == 0, reconciled.stderr
    assert "consistent" in reconciled.stdout.splitlines()[-1]


def test_verify_names_altered_and_missing_originals(
    env: dict[str, str],
    upload: SendOriginal,
    client: TestClient,
    team: Team,
    store_probe: StoreProbe,
) -> None:
    """An original overwritten with bytes of the same size (nothing but the hash can tell) and
    one deleted: verify exits 1 naming both exhibits and records what it found, per exhibit."""
    altered = upload(b"the original photograph")
    missing = upload(b"the original video")
    upload(b"an untouched document")
    store_probe.put(key_of(altered), b"a doctored photograph!!")
    store_probe.remove(key_of(missing))

    checked = casefile("storage", "verify", env=env)
    assert checked.returncode == 1, checked.stderr
    assert f"ALTERED: MRT-0001 ({altered['id']})" in checked.stdout
    assert f"MISSING: MRT-0002 ({missing['id']})" in checked.stdout
    assert "MRT-0003" not in checked.stdout
    assert "3 originals checked, 2 missing or altered" in checked.stdout
    assert verified(client, team) == {
        "MRT-0001": "altered",
        "MRT-0002": "missing",
        "MRT-0003": "intact",
    }
    by_exhibit = {
        e["payload"]["exhibit_number"]: e["payload"]
        for e in audit_events(client, team.lead, team.case_id)
        if e["action"] == "evidence.verified"
    }
    assert {p["via"] for p in by_exhibit.values()} == {"cli"}
    assert by_exhibit["MRT-0001"]["found_sha256"] != by_exhibit["MRT-0001"]["expected_sha256"]
    assert by_exhibit["MRT-0002"]["found_sha256"] is None


def test_reconcile_reports_an_orphan_and_fix_keeps_it(
    env: dict[str, str], upload: SendOriginal, team: Team, store_probe: StoreProbe
) -> None:
    """An object under evidence/ that no row names may be an original whose row was lost: it
    is reported, and --fix leaves it where it is for a person to judge."""
    upload(b"a recorded original")
    orphan = f"evidence/{team.case_id}/{uuid.uuid4()}"
    store_probe.put(orphan, b"bytes nobody recorded")

    for args in (("reconcile",), ("reconcile", "--fix")):
        answer = casefile("storage", *args, env=env)
        assert answer.returncode == 1, answer.stderr
        assert f"ORPHAN OBJECT (no evidence row): {orphan}" in answer.stdout
        assert "MISSING OBJECT" not in answer.stdout
        assert "inconsistent" in answer.stdout.splitlines()[-1]
    assert orphan in store_probe.evidence_keys()


def test_reconcile_lists_a_row_whose_original_is_missing(
    env: dict[str, str], upload: SendOriginal, store_probe: StoreProbe
) -> None:
    """A row pointing at nothing is the worse half of an inconsistency: it must be listed
    (with its exhibit number, for the operator to find the paper trail)."""
    kept = upload(b"still here")
    lost = upload(b"gone from the store")
    store_probe.remove(key_of(lost))

    answer = casefile("storage", "reconcile", "--fix", env=env)
    assert answer.returncode == 1, answer.stderr
    assert f"MISSING OBJECT (row without its original): MRT-0002 {key_of(lost)}" in answer.stdout
    assert key_of(kept) not in answer.stdout
    assert "ORPHAN OBJECT" not in answer.stdout


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_fix_removes_stale_local_temp_files_only(
    env: dict[str, str], tus: Tus, team: Team, store_probe: StoreProbe
) -> None:
    """A temp file untouched for more than a day belongs to a writer that died; a fresh one may
    belong to an upload in progress (here: a live tus upload), which must survive."""
    incoming = store_probe.root / ".incoming"
    stale, fresh = incoming / f"{uuid.uuid4().hex}.part", incoming / f"{uuid.uuid4().hex}.part"
    stale.write_bytes(b"abandoned")
    fresh.write_bytes(b"being written")
    day_ago = time.time() - 25 * 3600
    os.utime(stale, (day_ago, day_ago))
    path = tus.start(team.lead, team.case_id, 10)
    assert tus.patch(team.lead, path, 0, b"abcd").status_code == 204
    in_progress = [p.name for p in incoming.glob("tus-*.part")]
    assert len(in_progress) == 1

    answer = casefile("storage", "reconcile", "--fix", env=env)
    assert answer.returncode == 0, answer.stderr
    assert "removed 1 stale temp object(s)" in answer.stderr
    assert not stale.exists()
    assert fresh.exists()
    assert [p.name for p in incoming.glob("tus-*.part")] == in_progress
    assert tus.offset(team.lead, path) == 4


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_fix_keeps_a_fresh_s3_multipart_upload(
    env: dict[str, str], store_probe: StoreProbe
) -> None:
    """S3 cannot be told a multipart upload is old, so only the other half is checked here: a
    fresh one (a writer still at work) survives --fix, and is no orphan original either."""
    assert store_probe.s3 is not None
    key = f"{store_probe.prefix}evidence/{uuid.uuid4()}/{uuid.uuid4()}"
    started = store_probe.s3.create_multipart_upload(Bucket=store_probe.bucket, Key=key)
    store_probe.s3.upload_part(
        Bucket=store_probe.bucket,
        Key=key,
        UploadId=started["UploadId"],
        PartNumber=1,
        Body=b"part of something",
    )

    answer = casefile("storage", "reconcile", "--fix", env=env)
    assert answer.returncode == 0, answer.stderr
    assert "removed 0 stale temp object(s)" in answer.stderr
    assert "ORPHAN" not in answer.stdout
    assert key in store_probe.multipart_keys()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_sweep_also_removes_abandoned_s3_tails(
    settings: Settings, store_probe: StoreProbe
) -> None:
    """A tus upload's bytes short of a part live in an `incoming/` tail object; one left by a
    crashed or cancelled PATCH is as much a temp object as an open multipart upload. Swept with
    no grace period, both kinds must go (S3 ages cannot be backdated, hence the store call)."""
    assert store_probe.s3 is not None
    tail = f"incoming/{uuid.uuid4().hex}/tail-5"
    store_probe.put(tail, b"bytes")
    store = S3ObjectStore(
        make_s3_client(settings.s3_endpoint_url), store_probe.bucket, store_probe.prefix
    )
    try:
        time.sleep(1.1)  # S3 times have whole seconds: make the tail strictly older than now
        store.purge_incomplete(timedelta(0))
    finally:
        store.close()
    assert store_probe.temp_objects() == []
