"""A refused completion (the case already holds these bytes) must reach the user as an error
naming the existing exhibit, with the real clients at their default settings: tus-js-client
(which Uppy wraps, with the same retry rule) and tuspy.

tus-js-client retries a 409 (it reads it as an offset mismatch), then asks HEAD, and a HEAD
that says `Upload-Offset == Upload-Length` is success to it: a 409 refusal was shown as a
successful upload. The last PATCH is now a 422 (retried by no client) naming the exhibit; every
later HEAD or PATCH of that upload is 410, so a client resuming it starts afresh and meets the
refusal again instead of taking the upload for finished.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError, TusUploadFailed

from tests.clients.tus_js import TusJs, installed_tus_js
from tests.fixtures.api import DatabaseProbe, LiveServer
from tests.uploads.support import (
    MIB,
    StoreProbe,
    Team,
    Tus,
    case_evidence,
    content,
    evidence,
    metadata_header,
    multipart_upload,
    payload,
    sha256_hex,
    upload_path,
)


@pytest.fixture(scope="session")
def tus_js() -> TusJs:
    return installed_tus_js()


def token(team: Team) -> str:
    return team.lead.headers["Authorization"].removeprefix("Bearer ")


def existing_exhibit(tus: Tus, team: Team, data: bytes) -> dict[str, Any]:
    first = multipart_upload(tus.http, team.lead, team.case_id, data, "first.bin")
    assert first.status_code == 201, first.text
    item: dict[str, Any] = first.json()
    return item


def js_upload(
    tus_js: TusJs, server: LiveServer, team: Team, file: Path, **options: Any
) -> dict[str, Any]:
    return tus_js.upload(
        endpoint=f"{server.url}/api/v1/uploads",
        token=token(team),
        file=str(file),
        metadata={"case_id": team.case_id, "filename": file.name, "filetype": "video/mp4"},
        **options,
    )


def test_tus_js_client_uploads_in_chunks(
    tus_js: TusJs, live_server: LiveServer, tus: Tus, team: Team, tmp_path: Path
) -> None:
    """The harness itself, and the happy path: chunks that cross no boundary of ours."""
    data = payload(3 * MIB + 17, seed=31)
    file = tmp_path / "clip.mp4"
    file.write_bytes(data)
    result = js_upload(tus_js, live_server, team, file, chunkSize=MIB)
    assert result["outcome"] == "success", result
    assert [r["method"] for r in result["requests"]] == ["POST"] + ["PATCH"] * 4
    item = evidence(tus.http, team.lead, result["evidenceId"])
    assert item["sha256"] == sha256_hex(data)
    assert content(tus.http, team.lead, result["evidenceId"]) == data


def test_tus_js_client_reports_a_refused_completion_as_an_error(
    tus_js: TusJs,
    live_server: LiveServer,
    tus: Tus,
    team: Team,
    tmp_path: Path,
    db: DatabaseProbe,
    store_probe: StoreProbe,
) -> None:
    """Default settings (retries on, one chunk): the refusal is the error the user sees, it
    names the exhibit, and the client neither retried nor asked HEAD."""
    data = payload(2 * MIB + 5, seed=32)
    first = existing_exhibit(tus, team, data)
    file = tmp_path / "again.mp4"
    file.write_bytes(data)

    result = js_upload(tus_js, live_server, team, file)

    assert result["outcome"] == "error", result
    assert result["status"] == 422
    assert first["exhibit_number"] in result["message"]  # what Uppy and the app show
    assert first["id"] in result["body"]
    assert [r["method"] for r in result["requests"]] == ["POST", "PATCH"]
    assert [i["id"] for i in case_evidence(tus.http, team.lead, team.case_id)] == [first["id"]]
    assert store_probe.temp_objects() == []

    head = tus.head(team.lead, upload_path(result["url"]))
    assert head.status_code == 410
    assert "Upload-Offset" not in head.headers
    assert head.headers["Casefile-Existing-Evidence-Id"] == first["id"]
    assert db.scalar("SELECT count(*) FROM evidence_items") == 1


def test_tus_js_client_resuming_a_refused_upload_meets_the_refusal_again(
    tus_js: TusJs, live_server: LiveServer, tus: Tus, team: Team, tmp_path: Path
) -> None:
    """Uppy's retry button resumes from the stored upload URL: HEAD must not say "complete".
    The 410 makes the client start a new upload, whose completion is refused in turn."""
    data = payload(MIB + 9, seed=33)
    first = existing_exhibit(tus, team, data)
    file = tmp_path / "again.mp4"
    file.write_bytes(data)
    refused = js_upload(tus_js, live_server, team, file)
    assert refused["outcome"] == "error", refused

    resumed = js_upload(tus_js, live_server, team, file, uploadUrl=refused["url"])

    assert resumed["outcome"] == "error", resumed
    assert [(r["method"], r["status"]) for r in resumed["requests"]] == [
        ("HEAD", 410),
        ("POST", 201),
        ("PATCH", 422),
    ]
    assert first["exhibit_number"] in resumed["message"]
    assert len(case_evidence(tus.http, team.lead, team.case_id)) == 1


def test_tuspy_reports_a_refused_completion_and_will_not_resume_it(
    live_server: LiveServer, tus: Tus, team: Team
) -> None:
    data = payload(MIB + 3, seed=34)
    first = existing_exhibit(tus, team, data)
    client = tus_client.TusClient(f"{live_server.url}/api/v1/uploads", headers=team.lead.headers)
    uploader = client.uploader(
        file_stream=io.BytesIO(data), metadata={"case_id": team.case_id, "filename": "a.bin"}
    )
    with pytest.raises(TusUploadFailed) as failed:
        uploader.upload()
    assert failed.value.status_code == 422
    assert first["exhibit_number"] in failed.value.response_content.decode()

    with pytest.raises(TusCommunicationError) as resumed:
        client.uploader(file_stream=io.BytesIO(data), url=uploader.url)
    assert resumed.value.status_code == 410


def test_a_refused_upload_takes_no_bytes_and_may_be_terminated(
    tus: Tus, team: Team, db: DatabaseProbe, store_probe: StoreProbe
) -> None:
    data = payload(MIB, seed=35)
    first = existing_exhibit(tus, team, data)
    path = tus.start(team.lead, team.case_id, len(data))
    refused = tus.patch(team.lead, path, 0, data)
    assert refused.status_code == 422, refused.text
    assert refused.json()["existing"] == {
        "id": first["id"],
        "exhibit_number": first["exhibit_number"],
    }
    assert refused.headers["Casefile-Existing-Evidence-Id"] == first["id"]
    assert refused.headers["content-type"].startswith("application/problem+json")

    before = db.snapshot()
    for offset, body in ((len(data), b""), (0, data[:10])):
        again = tus.patch(team.lead, path, offset, body)
        assert again.status_code == 410, again.text
        assert again.json()["existing"]["exhibit_number"] == first["exhibit_number"]
    assert db.snapshot() == before

    assert tus.delete(team.lead, path).status_code == 204
    assert tus.head(team.lead, path).status_code == 404
    assert store_probe.temp_objects() == []


def test_an_empty_file_already_held_is_refused_at_creation(tus: Tus, team: Team) -> None:
    """A zero-length upload completes at its POST: the refusal comes there, as a 422."""
    first = existing_exhibit(tus, team, b"")
    answer = tus.create(team.lead, 0, metadata_header(case_id=team.case_id, filename="e.txt"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["existing"]["id"] == first["id"]
