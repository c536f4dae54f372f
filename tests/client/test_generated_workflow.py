"""The generated client drives a whole investigation against a served app, on both backends.

workflow.py is the script (typed, generated-client only); these tests run it and check what it
got back: typed models, enums, parsed datetimes, the originals byte for byte, a custody log,
typed problems for refusals, and a bundle that `casefile verify-bundle` accepts offline.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import zipfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from tests.client.generation import PACKAGE, GeneratedClient
from tests.evidence.support import Shot, degrees, jpeg
from tests.fixtures.api import Actor, DatabaseProbe, LiveServer
from tests.fixtures.cli import CASEFILE


def test_an_investigation_runs_end_to_end_through_the_generated_client(
    generated: GeneratedClient, live_server: LiveServer, admin: Actor, tmp_path: Path
) -> None:
    from tests.client import workflow  # imports the generated package: only now it exists

    models = importlib.import_module(f"{PACKAGE}.models")
    shot = Shot()
    photo = jpeg(shot, size=(320, 240))
    wide_photo = jpeg(None, size=(640, 240), seed=7)
    done = workflow.investigate(live_server.url, admin.token, photo, wide_photo)

    assert done.investigator.role is models.GlobalRole.INVESTIGATOR
    case = done.case
    assert case.status is models.CaseStatus.OPEN
    assert case.occurred_at == datetime(2020, 9, 27, 6, 0, tzinfo=UTC)
    assert case.created_at.tzinfo is not None
    assert case.created_by == done.investigator.id
    assert case.location is not None
    assert case.location.name == "Martuni"
    assert case.casualties.children_killed == 1
    assert case.tags == ["missile", "residential-area"]

    witness = done.witness
    assert re.fullmatch(r"W-\d{4}", witness.pseudonym), witness.pseudonym
    assert witness.identity.full_name == "Anahit Gevorgyan"
    assert witness.risk_level is models.RiskLevel.HIGH
    assert witness.consent.share_identity_with_courts is True
    assert witness.case_ids == [case.id]
    assert done.testimony.witness_id == witness.id
    assert done.testimony.witness_pseudonym == witness.pseudonym
    assert done.testimony.recorded_at == datetime(2020, 12, 2, 10, 0, tzinfo=UTC)
    assert done.visit.case_ids == [case.id]
    assert done.visit.location is not None
    assert done.visit.location.lat == 39.7953

    item = done.photo
    assert item.kind is models.EvidenceKind.PHOTO
    assert item.media_type == "image/jpeg"
    assert item.size == len(photo)
    assert item.provenance.site_visit_id == done.visit.id
    assert item.captured_at == datetime(2020, 12, 3, 9, 40, tzinfo=UTC)
    assert item.withdrawn is None
    assert done.downloaded == photo
    assert done.first_bytes == photo[:16]
    _assert_exif(item, shot)
    resumed = done.resumed
    assert (resumed.kind, resumed.size) == (models.EvidenceKind.PHOTO, len(wide_photo))
    assert resumed.original_filename == "crater-wide.jpg"
    assert resumed.extracted is not None
    assert resumed.extracted.exif is None  # written without EXIF, and said so

    custody = done.custody
    assert all(isinstance(e, models.AuditEventRead) for e in custody.items)
    actions = [event.action for event in custody.items]
    assert actions == ["evidence.ingested", "evidence.downloaded", "evidence.downloaded"]
    assert all(event.resource_id == str(item.id) for event in custody.items)
    assert [e.seq for e in custody.items] == sorted(e.seq for e in custody.items)
    assert all(re.fullmatch(r"[0-9a-f]{64}", e.hash_) for e in custody.items)
    assert custody.next_cursor is None

    verification = done.verification
    assert verification.status is models.IntegrityStatus.INTACT
    assert verification.found_sha256 == verification.expected_sha256 == item.sha256
    assert verification.checked_at.tzinfo is not None

    counts = done.case_after.counts
    assert counts is not None
    assert (counts.witnesses, counts.testimonies, counts.site_visits, counts.evidence) == (
        1,
        1,
        1,
        2,
    )
    assert done.reviewed.status is models.CaseStatus.UNDER_REVIEW
    assert done.reviewed.version == case.version + 1
    assert [found.id for found in done.found.items] == [case.id]
    assert done.found.next_cursor is None
    _assert_bundle_verifies(done, tmp_path, {photo, wide_photo})

    case_again, listed, custody_again = workflow.read_back_concurrently(
        live_server.url, done.token, done
    )
    assert case_again.status is models.CaseStatus.UNDER_REVIEW
    assert case_again.id == case.id
    assert len(listed.items) == 1
    assert listed.next_cursor is not None  # two items, one per page
    assert [e.hash_ for e in custody_again.items][:3] == [e.hash_ for e in custody.items]


def test_refusals_come_out_as_typed_problems(
    generated: GeneratedClient, live_server: LiveServer, admin: Actor, db: DatabaseProbe
) -> None:
    from tests.client import workflow

    models = importlib.import_module(f"{PACKAGE}.models")
    refused = workflow.refusals(live_server.url, admin.token)
    assert refused.unknown_case.status == 404
    assert refused.bad_token.status == 401
    invalid = refused.invalid_case
    assert invalid.status == 422
    assert isinstance(invalid.errors, list)
    assert all(isinstance(error, models.FieldError) for error in invalid.errors)
    assert [error.field for error in invalid.errors] == ["occurred_at"]
    for problem in (refused.unknown_case, invalid, refused.bad_token):
        assert problem.type_
        assert problem.title
    assert db.scalar("SELECT count(*) FROM cases") == 0


def _assert_exif(item: Any, shot: Shot) -> None:
    assert item.extracted is not None
    assert item.extracted.exif is not None
    exif = item.extracted.exif
    assert (exif.make, exif.model, exif.orientation) == (shot.make, shot.model, shot.orientation)
    assert exif.captured_at == "2020-12-03T09:40:12Z"
    assert exif.gps is not None
    assert abs(exif.gps.lat - degrees(shot.lat or (0, 0, 0), shot.lat_ref)) < 1e-6
    assert abs(exif.gps.lon - degrees(shot.lon or (0, 0, 0), shot.lon_ref)) < 1e-6
    assert exif.gps.alt == shot.alt


def _assert_bundle_verifies(done: Any, tmp_path: Path, originals: set[bytes]) -> None:
    """The downloaded ZIP passes `casefile verify-bundle`, pinned to the key the server
    publishes, and holds the originals byte for byte."""
    [key] = [k for k in done.keys.items if k.current]
    pem = tmp_path / "signing-key.pem"
    pem.write_text(key.public_key_pem)
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(done.bundle)
    checked = subprocess.run(  # noqa: S603 - the installed command on our own files
        [CASEFILE, "verify-bundle", str(bundle), "--public-key", str(pem), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert (report["ok"], report["key_id"], report["key_pinned"]) == (True, key.key_id, True)
    with zipfile.ZipFile(BytesIO(done.bundle)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        listed = manifest["exhibits"]
        assert {e["sha256"] for e in listed} == {done.photo.sha256, done.resumed.sha256}
        assert {archive.read(e["path"]) for e in listed} == originals
