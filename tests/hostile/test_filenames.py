"""Hostile file names and declared types that reach response headers and bundle paths.

Multipart file names are swept in tests/evidence/test_upload.py (FILENAMES) and a traversal
name in the bundle in tests/bundles; here the same hostility arrives by the other door (tus
Upload-Metadata, where a value is base64 and may hold any byte), and every header of the
download and of the bundle is read off a raw socket, where an injected line would show.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from fastapi.testclient import TestClient

from tests.evidence.support import BOUNDARY, PROBLEM, Part, post_body
from tests.fixtures.api import LiveServer
from tests.hostile.routes import World
from tests.hostile.support import Probes, raw_request, request_head
from tests.uploads.support import OCTETS, TUS, metadata_header

INJECTED = "X-Injected"
NAMES = {
    "CR LF and a header": f"evil\r\n{INJECTED}: 1\r\n\r\n.jpg",
    "traversal and NUL": "../../..\\..\\etc/passwd\x00.jpg",
    "quotes and semicolons": 'a"; filename="b.exe',
    "bidi override": "photo\u202egpj.exe",
    "absolute": "/etc/shadow",
}
CONTROL_TYPES = {
    "NUL": "image/jpeg\x00",
    "CR LF": f"image/jpeg\r\n{INJECTED}: 1",
    "escape": "image/\x1b[31mjpeg",
}


def _tus_upload(client: TestClient, world: World, data: bytes, **pairs: str) -> str:
    """A complete tus upload with these metadata pairs; the evidence id."""
    headers = {**TUS, **world.admin.headers, "Upload-Length": str(len(data))}
    headers["Upload-Metadata"] = metadata_header(case_id=world.case_id, **pairs)
    created = client.post("/api/v1/uploads", headers=headers)
    assert created.status_code == 201, created.text
    headers = {**TUS, **world.admin.headers, "Content-Type": OCTETS, "Upload-Offset": "0"}
    done = client.patch(created.headers["location"], content=data, headers=headers)
    assert done.status_code == 204, done.text
    evidence_id: str = done.headers["casefile-evidence-id"]
    return evidence_id


def _raw_get(live_server: LiveServer, world: World, path: str) -> dict[str, str]:
    answer = raw_request(live_server.port, request_head("GET", path, world.admin))
    assert answer.status == 200, answer.body[:300]
    return answer.headers


@pytest.mark.parametrize("name", list(NAMES.values()), ids=list(NAMES))
def test_a_hostile_tus_file_name_never_breaks_a_header_or_a_zip_path(
    client: TestClient, live_server: LiveServer, world: World, name: str
) -> None:
    evidence_id = _tus_upload(client, world, b"hostile name " + name.encode(), filename=name)
    kept = client.get(f"/api/v1/evidence/{evidence_id}", headers=world.admin.headers).json()
    stored = kept["original_filename"]
    assert not any(ch in stored for ch in "/\\\x00\r\n\u202e"), stored
    assert not stored.startswith(".")
    headers = _raw_get(live_server, world, f"/api/v1/evidence/{evidence_id}/content")
    assert INJECTED.lower() not in headers
    disposition = headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert disposition.count('"') == 2, disposition
    bundle = client.get(f"/api/v1/cases/{world.case_id}/bundle", headers=world.admin.headers)
    assert bundle.status_code == 200
    for entry in zipfile.ZipFile(io.BytesIO(bundle.content)).namelist():
        assert not entry.startswith(("/", "\\")), entry
        assert ".." not in entry.split("/"), entry
        assert not any(ch in entry for ch in "\\\x00\r\n\u202e"), entry


@pytest.mark.parametrize("declared", list(CONTROL_TYPES.values()), ids=list(CONTROL_TYPES))
def test_a_declared_tus_type_with_controls_is_refused(
    client: TestClient, world: World, probes: Probes, declared: str
) -> None:
    """tus `filetype` is the client's word for the media type, kept for the record (the served
    type is sniffed): NUL, CR/LF or escapes in it are refused when the upload is created, not
    stored (they were, on both backends)."""
    before = probes.state()
    headers = {**TUS, **world.admin.headers, "Upload-Length": "5"}
    headers["Upload-Metadata"] = metadata_header(
        case_id=world.case_id, filename="a.jpg", filetype=declared
    )
    answer = client.post("/api/v1/uploads", headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert probes.state() == before


@pytest.mark.parametrize("declared", [b"image/jpeg\x00", b"image/\x1b[31mjpeg", b"image/\xe9"])
def test_a_declared_part_type_with_controls_is_refused(
    client: TestClient, world: World, probes: Probes, declared: bytes
) -> None:
    """The same in a multipart upload's file part (where CR/LF would end the header line)."""
    before = probes.state()
    part = Part("file", b"declared type", disposition=b'; name="file"; filename="a.jpg"')
    head = part.head().replace(b"\r\n\r\n", b"\r\nContent-Type: " + declared + b"\r\n\r\n")
    body = b"--" + BOUNDARY.encode() + b"\r\n" + head + part.data
    body += b"\r\n--" + BOUNDARY.encode() + b"--\r\n"
    answer = post_body(client, world.admin, world.case_id, body)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert probes.state() == before
