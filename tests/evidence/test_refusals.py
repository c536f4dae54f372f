"""Uploads that must be refused: each gets a 4xx problem and leaves nothing behind, neither a
row, nor an audit event, nor an object or a temp object in the store."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.evidence.support import (
    BOUNDARY,
    MIB,
    MULTIPART,
    Part,
    Scene,
    assert_problem,
    field_names,
    field_parts,
    file_part,
    multipart,
    multipart_stream,
    post_body,
    post_file,
    unique_bytes,
    upload,
    visit_and_testimony,
)
from tests.fixtures.api import GANJA, LiveServer, MakeUser

MakeCase = Callable[..., dict[str, Any]]
AddMember = Callable[..., None]


def _delimited(*raw_parts: bytes) -> bytes:
    delimiter = b"--" + BOUNDARY.encode()
    return b"".join(delimiter + b"\r\n" + p + b"\r\n" for p in raw_parts) + delimiter + b"--\r\n"


MALFORMED: dict[str, tuple[bytes, str]] = {
    "no file part": (multipart(field_parts({"title": "Crater"})), MULTIPART),
    "two file parts": (
        multipart([file_part(b"one", "a.jpg"), file_part(b"two", "b.jpg")]),
        MULTIPART,
    ),
    "JSON, not multipart": (b'{"file": "Y3JhdGVy"}', "application/json"),
    "form-urlencoded": (b"file=crater&title=x", "application/x-www-form-urlencoded"),
    "no boundary": (multipart([file_part(b"x")]), "multipart/form-data"),
    "boundary not in the body": (b"just some bytes, no delimiter\r\n", MULTIPART),
    "part without Content-Disposition": (
        _delimited(b"Content-Type: image/jpeg\r\n\r\ncrater"),
        MULTIPART,
    ),
    "part that is not form-data": (
        _delimited(b'Content-Disposition: attachment; name="file"\r\n\r\ncrater'),
        MULTIPART,
    ),
    "part header without a colon": (
        _delimited(b"Content-Disposition form-data name=file\r\n\r\ncrater"),
        MULTIPART,
    ),
    "form field not UTF-8": (
        multipart([Part("title", b"\xff\xfe crater"), file_part(b"crater")]),
        MULTIPART,
    ),
}


def test_a_body_that_is_not_a_proper_upload_is_refused(
    scene: Scene, subtests: pytest.Subtests
) -> None:
    """No `file` part, two of them, not multipart at all, or multipart that does not parse:
    a 400-class problem, and nothing stored (the upload's temp object is gone too)."""
    before = scene.state()
    for label, (body, content_type) in MALFORMED.items():
        with subtests.test(label):
            answer = post_body(scene.client, scene.lead, scene.case_id, body, None, content_type)
            assert answer.status_code in (400, 415, 422), answer.text
            assert_problem(answer, answer.status_code)
            assert scene.state() == before


def test_a_body_cut_before_its_closing_delimiter_is_refused(scene: Scene) -> None:
    """The closing delimiter is the only proof the file part is complete: a body that ends
    without it (a proxy or client that stopped early, with a Content-Length to match) must
    not become evidence holding a prefix of the file."""
    whole = multipart([file_part(unique_bytes("cut", 4096), "crater.jpg")])
    cut = whole[: len(whole) - 1000]
    before = scene.state()
    answer = post_body(scene.client, scene.lead, scene.case_id, cut)
    assert_problem(answer, 400)
    assert scene.state() == before


INVALID_FIELDS: dict[str, tuple[dict[str, str], str]] = {
    "unknown field": ({"colour": "red"}, "colour"),
    "unknown kind": ({"kind": "painting"}, "kind"),
    "captured_at in the future": ({"captured_at": "2999-01-01T00:00:00Z"}, "captured_at"),
    "captured_at naive": ({"captured_at": "2020-12-03T13:40:00"}, "captured_at"),
    "captured_at not a time": ({"captured_at": "early December"}, "captured_at"),
    "collected_at naive": ({"collected_at": "2020-12-04 10:00"}, "collected_at"),
    "collected_at in the future": ({"collected_at": "2999-01-01T00:00:00+04:00"}, "collected_at"),
    "source_url not a URL": ({"source_url": "not a url"}, "source_url"),
    "source_url not http": ({"source_url": "javascript:alert(1)"}, "source_url"),
    "title too long": ({"title": "x" * 301}, "title"),
    "title with a line break": ({"title": "Crater\r\nX-Injected: 1"}, "title"),
    "description with NUL": ({"description": "Crater\x00"}, "description"),
    "site_visit_id not a uuid": ({"site_visit_id": "visit-3"}, "site_visit_id"),
    "testimony_id not a uuid": ({"testimony_id": "12"}, "testimony_id"),
}


def test_invalid_metadata_is_refused_naming_the_field(
    scene: Scene, subtests: pytest.Subtests
) -> None:
    """Metadata is checked after the bytes arrived: the 422 names the field, and the stored
    bytes are discarded, not left as an orphan object."""
    before = scene.state()
    for label, (fields, name) in INVALID_FIELDS.items():
        with subtests.test(label):
            answer = post_file(
                scene.client, scene.lead, scene.case_id, unique_bytes(label), fields=fields
            )
            problem = assert_problem(answer, 422)
            assert name in field_names(problem), problem
            assert scene.state() == before


def test_links_to_a_visit_or_testimony_must_be_of_the_case(
    scene: Scene, make_case: MakeCase
) -> None:
    """A photo from a site visit, or the recording of a testimony, names it, and the item
    says so. A visit or testimony of another case (even one the uploader leads), or an
    unknown id, is refused on that field: evidence of one strike must not point into
    another's file."""
    client, lead = scene.client, scene.lead
    own_visit, own_testimony = visit_and_testimony(client, lead, scene.case_id)
    fields = {"site_visit_id": own_visit, "testimony_id": own_testimony}
    item = upload(client, lead, scene.case_id, unique_bytes("linked"), fields=fields)
    assert item["provenance"]["site_visit_id"] == own_visit
    assert item["provenance"]["testimony_id"] == own_testimony

    ganja = make_case(lead, GANJA)["id"]
    other_visit, other_testimony = visit_and_testimony(client, lead, ganja)
    before = scene.state()
    unknown = "6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b"
    for name, value in (
        ("site_visit_id", other_visit),
        ("testimony_id", other_testimony),
        ("site_visit_id", unknown),
        ("testimony_id", unknown),
        ("testimony_id", own_visit),
    ):
        answer = post_file(
            client, lead, scene.case_id, unique_bytes(name + value), fields={name: value}
        )
        problem = assert_problem(answer, 422)
        assert field_names(problem) == [name], problem
        assert scene.state() == before


def test_only_editors_of_the_case_may_upload(
    scene: Scene, make_user: MakeUser, add_member: AddMember
) -> None:
    """Viewer and legal members read but do not add evidence (403); someone outside the case
    cannot tell it exists (404, the same answer as for a case that does not exist); no token is
    401. None of them leaves anything behind. An investigator member may upload."""
    viewer, lawyer, outsider = make_user("viewer"), make_user("legal"), make_user("investigator")
    add_member(scene.case_id, viewer, "viewer")
    add_member(scene.case_id, lawyer, "legal")
    before = scene.state()
    data = unique_bytes("refused")
    for actor, status in ((viewer, 403), (lawyer, 403), (outsider, 404)):
        answer = post_file(scene.client, actor, scene.case_id, data)
        assert_problem(answer, status)
        assert scene.state() == before
    unknown = post_file(scene.client, outsider, "6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b", data)
    assert_problem(unknown, 404)
    hidden = post_file(scene.client, outsider, scene.case_id, data)
    assert unknown.json()["type"] == hidden.json()["type"]
    anonymous = scene.client.post(
        f"/api/v1/cases/{scene.case_id}/evidence",
        content=multipart([file_part(data)]),
        headers={"Content-Type": MULTIPART},
    )
    assert_problem(anonymous, 401)
    assert scene.state() == before

    member = make_user("investigator")
    add_member(scene.case_id, member, "investigator")
    assert upload(scene.client, member, scene.case_id, data)["uploaded_by"] == member.id


# -- the size limit -----------------------------------------------------------------------------
LIMIT = 1000


@pytest.fixture
def limited(settings: Settings) -> Settings:
    """This test's database and store, with CASEFILE_MAX_UPLOAD_BYTES=1000."""
    return settings.model_copy(update={"max_upload_bytes": LIMIT})


@pytest.fixture
def limited_client(limited: Settings) -> Iterator[TestClient]:
    """A second app on the same database and store, differently configured."""
    with TestClient(create_app(limited)) as client:
        yield client


@pytest.fixture
def limited_server(limited: Settings, scene: Scene) -> Iterator[LiveServer]:
    """The limited app on a real socket (after `scene` has migrated and populated the
    database it shares)."""
    server = LiveServer(create_app(limited))
    server.start()
    yield server
    server.stop()


def test_files_over_the_limit_are_refused_with_413(
    scene: Scene, limited_client: TestClient
) -> None:
    """With CASEFILE_MAX_UPLOAD_BYTES=1000 a file of exactly 1000 bytes is accepted; one more
    byte is refused, as is a file whose Content-Length announces megabytes; nothing is kept."""
    before = scene.state()
    for size in (LIMIT + 1, 2 * MIB):
        answer = post_file(limited_client, scene.lead, scene.case_id, unique_bytes("big", size))
        assert_problem(answer, 413)
        assert scene.state() == before
    at_limit = upload(limited_client, scene.lead, scene.case_id, unique_bytes("ok", LIMIT))
    assert at_limit["size"] == LIMIT


def test_a_file_within_the_limit_is_not_refused_for_its_metadata(
    scene: Scene, limited_client: TestClient
) -> None:
    """The limit is on the file. A file at the limit, with three long text fields as the
    schema allows them (100,000 characters each, here of a four-byte script: 1.2 MB), is a
    valid upload, not an oversized file."""
    text = "𠮷" * 100_000
    fields = {"description": text, "source": text, "collection_method": text}
    item = upload(
        limited_client, scene.lead, scene.case_id, unique_bytes("at", LIMIT), fields=fields
    )
    assert item["size"] == LIMIT
    assert item["description"] == text


def test_a_chunked_body_streaming_past_the_limit_is_refused(
    scene: Scene, limited_server: LiveServer
) -> None:
    """Without a Content-Length (chunked transfer coding) the limit is enforced while the bytes
    stream in, over a real socket: 413, and nothing stored."""
    before = scene.state()

    zeros = (b"\x00" * 4096 for _ in range(16))
    body = multipart_stream([], zeros, filename="video.mp4", content_type="video/mp4")

    with limited_server.client() as http:
        request = http.build_request(
            "POST",
            f"/api/v1/cases/{scene.case_id}/evidence",
            content=body,
            headers={**scene.lead.headers, "Content-Type": MULTIPART},
        )
        assert request.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in request.headers
        try:
            answer = http.send(request)
        except httpx.TransportError as exc:  # the server may close while we still send
            pytest.fail(f"no 413 answer before the connection closed: {exc!r}")
        assert_problem(answer, 413)
    assert scene.state() == before


def test_an_announced_oversize_body_is_refused_before_it_is_sent(
    scene: Scene, limited_server: LiveServer
) -> None:
    """A Content-Length of 10 GiB gets its 413 at once, from the headers alone: the server
    does not wait for (or store) a single byte of the body."""
    before = scene.state()
    head = (
        f"POST /api/v1/cases/{scene.case_id}/evidence HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{limited_server.port}\r\n"
        f"Authorization: Bearer {scene.lead.token}\r\n"
        f"Content-Type: {MULTIPART}\r\n"
        f"Content-Length: {10 * 1024**3}\r\n\r\n"
    )
    answer = b""
    with socket.create_connection(("127.0.0.1", limited_server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        while b"\r\n\r\n" not in answer:  # the status line and headers, body not needed
            received = sock.recv(65536)
            assert received, f"connection closed after {answer!r}"
            answer += received
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"application/problem+json" in answer
    assert scene.state() == before
