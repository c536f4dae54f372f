"""Resumable uploads (tus 1.0 core + creation, checksum, expiration, termination), on both
backends: SQLite with local files, PostgreSQL with S3 (SeaweedFS).

Investigators upload from places with bad connections: an upload must survive a dropped
connection and a server restart, never take a corrupt chunk, never leave bytes behind when it
is abandoned, and end as exactly the evidence item the multipart endpoint would have made.
The happy paths use the real tus client `tuspy`; the protocol details use raw HTTP.
"""

from __future__ import annotations

import hashlib
import io
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2 as httpx
import pytest
from tusclient import client as tus_client
from tusclient.uploader import Uploader

from app.config import Settings
from app.storage.s3 import PART_BYTES, S3ObjectStore, make_s3_client
from tests.fixtures.api import GANJA, Actor, DatabaseProbe, LiveServer, MakeUser
from tests.fixtures.cli import casefile, environment
from tests.uploads.support import (
    MIB,
    OCTETS,
    TUS,
    StoreProbe,
    Team,
    Tus,
    audit_events,
    b64,
    case_evidence,
    checksum,
    comparable,
    content,
    custody_actions,
    evidence,
    jpeg_with_exif,
    metadata_header,
    multipart_upload,
    payload,
    set_upload_expiry,
    sha256_hex,
    upload_id,
    upload_path,
    wait_for,
)

LARGE = 2 * PART_BYTES + 3 * MIB + 7  # two full S3 parts and a tail
MakeCase = Callable[..., dict[str, Any]]
LEASED = "SELECT count(*) FROM uploads WHERE lease_until IS NOT NULL"  # a PATCH is writing


def uploader(
    server: LiveServer, actor: Actor, data: bytes, chunk_size: int, **kwargs: Any
) -> Uploader:
    """tuspy's uploader for `data`, sending sha1 checksums as it does for real clients."""
    client = tus_client.TusClient(f"{server.url}/api/v1/uploads", headers=actor.headers)
    return client.uploader(
        file_stream=io.BytesIO(data), chunk_size=chunk_size, upload_checksum=True, **kwargs
    )


def problem_type(answer: httpx.Response) -> str:
    kind: str = answer.json()["type"]
    return kind.rsplit(":", 1)[-1]


def upload_rows(db: DatabaseProbe) -> int:
    count: int = db.scalar("SELECT count(*) FROM uploads")
    return count


# -- full uploads with a real tus client -------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "size", "chunks"),
    [
        pytest.param("document", LARGE, (3 * MIB, 5 * MIB + 1), id="35MiB-in-3MiB-and-5MiB+1"),
        pytest.param("photo", None, (97, 131), id="small-jpeg-in-97B-and-131B"),
    ],
)
def test_tus_upload_makes_the_same_evidence_as_a_multipart_upload(
    live_server: LiveServer,
    http: httpx.Client,
    team: Team,
    make_case: MakeCase,
    kind: str,
    size: int | None,
    chunks: tuple[int, int],
) -> None:
    """Chunk sizes that line up with nothing (S3 parts, read slices) cross every boundary: the
    item must still be byte-identical and described exactly as a one-shot upload describes it."""
    data = jpeg_with_exif() if size is None else payload(size, seed=size)
    filetype = "image/jpeg" if size is None else "application/octet-stream"
    filename = "courtyard.jpg" if size is None else "drone-footage.bin"
    fields = {
        "kind": kind,
        "title": "North courtyard",
        "description": "Impact site, seen from the east",
        "captured_at": "2020-09-27T06:15:00Z",
    }
    upload = uploader(
        live_server,
        team.lead,
        data,
        chunks[0],
        metadata={"case_id": team.case_id, "filename": filename, "filetype": filetype, **fields},
    )
    sent = 0
    while upload.offset < len(data):
        upload.chunk_size = chunks[sent % 2]
        upload.upload_chunk()
        sent += 1
    assert sent > 4

    item_id = upload.request.response_headers["casefile-evidence-id"]
    head = http.head(upload.url, headers={"Tus-Resumable": "1.0.0", **team.lead.headers})
    assert head.headers["Casefile-Evidence-Id"] == item_id
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(data))

    item = evidence(http, team.lead, item_id)
    assert item["sha256"] == sha256_hex(data)
    assert item["size"] == len(data)
    assert item["original_filename"] == filename
    assert item["kind"] == kind
    assert item["exhibit_number"] == "MRT-0001"
    assert content(http, team.lead, item_id) == data
    # Custody begins when the upload started, not when its last chunk arrived.
    assert custody_actions(http, team.lead, item_id)[:2] == ["upload.started", "evidence.ingested"]

    # The same bytes and fields through the multipart endpoint, in another case.
    other_case = make_case(team.lead, GANJA)["id"]
    answer = http.post(
        f"/api/v1/cases/{other_case}/evidence",
        files={"file": (filename, data, filetype)},
        data=fields,
        headers=team.lead.headers,
    )
    assert answer.status_code == 201, answer.text
    assert comparable(item) == comparable(answer.json())
    assert item["declared_media_type"] == filetype  # tus clients send it as `filetype`
    if size is None:
        assert item["media_type"] == "image/jpeg"
        assert item["extracted"], "EXIF of the JPEG was not extracted"
    # Both endpoints count exhibits on one counter per case.
    later = multipart_upload(http, team.lead, team.case_id, b"later", "later.txt")
    assert later.json()["exhibit_number"] == "MRT-0002"


def test_interrupted_upload_resumes_with_a_new_uploader(
    live_server: LiveServer, http: httpx.Client, team: Team
) -> None:
    """A dropped connection loses the client's state, not the server's: a fresh uploader at the
    stored URL learns the offset by HEAD and sends only the rest."""
    data = payload(PART_BYTES + 6 * MIB + 11, seed=1)
    chunk = 5 * MIB + 1
    first = uploader(
        live_server, team.lead, data, chunk, metadata={"case_id": team.case_id, "filename": "a"}
    )
    for _ in range(4):  # one full S3 part and a tail are held when the connection drops
        first.upload_chunk()
    url, held = first.url, first.offset
    assert held == 4 * chunk
    del first

    resumed = uploader(live_server, team.lead, data, chunk, url=url)
    assert resumed.offset == held
    resumed.upload()

    item_id = resumed.request.response_headers["casefile-evidence-id"]
    assert content(http, team.lead, item_id) == data
    assert evidence(http, team.lead, item_id)["sha256"] == sha256_hex(data)


def test_upload_resumes_on_a_restarted_server(
    live_server: LiveServer,
    start_server: Callable[[], LiveServer],
    team: Team,
) -> None:
    """Upload state lives in the database and the store, not in the process: after a restart
    (a deploy, a crash) the offset is still there and the upload completes on the new server."""
    data = payload(PART_BYTES + 4 * MIB + 3, seed=2)
    chunk = 3 * MIB
    first = uploader(
        live_server, team.lead, data, chunk, metadata={"case_id": team.case_id, "filename": "b"}
    )
    for _ in range(6):  # 18 MiB: one part and a 2 MiB tail
        first.upload_chunk()
    path, held = upload_path(first.url), first.offset
    live_server.stop()

    server = start_server()
    resumed = uploader(server, team.lead, data, chunk, url=server.url + path)
    assert resumed.offset == held
    resumed.upload()

    item_id = resumed.request.response_headers["casefile-evidence-id"]
    with server.client() as http:
        assert content(http, team.lead, item_id) == data


def test_a_connection_dropped_mid_patch_leaves_the_upload_resumable(
    tus: Tus, team: Team, live_server: LiveServer, db: DatabaseProbe
) -> None:
    """The usual failure in the field: the link dies halfway through a chunk. The server must
    notice, free the upload at once (not hold it busy for the lease's 15 minutes), and hold a
    consistent offset from which the client resumes to an intact file."""
    data = payload(3 * MIB, seed=10)
    path = tus.start(team.lead, team.case_id, len(data))
    assert tus.patch(team.lead, path, 0, data[:MIB]).status_code == 204
    request = (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {team.lead.headers['Authorization']}\r\nTus-Resumable: 1.0.0\r\n"
        f"Content-Type: {OCTETS}\r\nUpload-Offset: {MIB}\r\n"
        f"Content-Length: {len(data) - MIB}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", live_server.port)) as connection:
        connection.sendall(request + data[MIB : MIB + MIB // 2])
        wait_for(lambda: db.scalar(LEASED) == 1)
    wait_for(lambda: db.scalar(LEASED) == 0)

    offset = tus.offset(team.lead, path)
    assert MIB <= offset <= MIB + MIB // 2  # what arrived was kept (test_tus_interrupted)
    done = tus.patch(team.lead, path, offset, data[offset:])
    assert done.status_code == 204, done.text
    assert content(tus.http, team.lead, done.headers["Casefile-Evidence-Id"]) == data


# -- discovery and headers ---------------------------------------------------------------------
def test_options_announces_the_capabilities(tus: Tus, team: Team, settings: Settings) -> None:
    """Clients decide what to send (checksums, sizes) from OPTIONS alone."""
    answer = tus.options(team.lead)
    assert answer.status_code in (200, 204)
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert "1.0.0" in answer.headers["Tus-Version"].split(",")
    extensions = {e.strip() for e in answer.headers["Tus-Extension"].split(",")}
    assert {"creation", "checksum", "expiration", "termination"} <= extensions
    assert answer.headers["Tus-Max-Size"] == str(settings.max_upload_bytes)
    algorithms = {a.strip() for a in answer.headers["Tus-Checksum-Algorithm"].split(",")}
    assert algorithms == {"sha1", "sha256"}


def test_every_successful_answer_carries_tus_resumable(tus: Tus, team: Team) -> None:
    """tus: the Tus-Resumable header MUST be in every response (OPTIONS aside)."""
    created = tus.create(team.lead, 4, metadata_header(case_id=team.case_id, filename="x"))
    path = upload_path(created.headers["Location"])
    answers = [
        created,
        tus.head(team.lead, path),
        tus.patch(team.lead, path, 0, b"ab"),
        tus.delete(team.lead, path),
    ]
    assert [a.status_code for a in answers] == [201, 200, 204, 204]
    assert all(a.headers.get("Tus-Resumable") == "1.0.0" for a in answers)
    assert "no-store" in answers[1].headers["Cache-Control"]  # tus: HEAD must not be cached


def test_every_error_answer_carries_tus_resumable(tus: Tus, team: Team, settings: Settings) -> None:
    """Clients tell a tus server's refusal from a proxy's by this header."""
    path = tus.start(team.lead, team.case_id, 4)
    gone = tus.start(team.lead, team.case_id, 4)
    set_upload_expiry(settings, upload_id(gone), datetime.now(UTC) - timedelta(minutes=1))
    answers = {
        "expired": tus.head(team.lead, gone),  # first: any creation purges expired uploads
        "metadata": tus.create(team.lead, 4, metadata_header(filename="x")),
        "length": tus.create(
            team.lead,
            settings.max_upload_bytes + 1,
            metadata_header(case_id=team.case_id, filename="big.bin"),
        ),
        "unknown": tus.head(team.lead, "/api/v1/uploads/" + "0" * 32),
        "offset": tus.patch(team.lead, path, 3, b"a"),
        "type": tus.patch(team.lead, path, 0, b"a", Content_Type="text/plain"),
        "body": tus.patch(team.lead, path, 0, b"abcdef"),
    }
    seen = {name: (a.status_code, a.headers.get("Tus-Resumable")) for name, a in answers.items()}
    assert seen == {
        "metadata": (422, "1.0.0"),
        "length": (413, "1.0.0"),
        "unknown": (404, "1.0.0"),
        "offset": (409, "1.0.0"),
        "type": (415, "1.0.0"),
        "body": (413, "1.0.0"),
        "expired": (410, "1.0.0"),
    }


def test_tus_resumable_is_required_on_every_request(
    tus: Tus, team: Team, db: DatabaseProbe
) -> None:
    """A client of another protocol version must be told which one this server speaks (412 with
    Tus-Version) before anything happens."""
    path = tus.start(team.lead, team.case_id, 4)
    meta = metadata_header(case_id=team.case_id, filename="x")
    statuses = {}
    for version in (None, "0.2.2", "1.0", "1.0.0-rc1"):
        headers = {**team.lead.headers}
        if version is not None:
            headers["Tus-Resumable"] = version
        answers = {
            "POST": tus.http.post(
                "/api/v1/uploads",
                headers={**headers, "Upload-Length": "4", "Upload-Metadata": meta},
            ),
            "HEAD": tus.http.head(path, headers=headers),
            "PATCH": tus.http.patch(
                path,
                content=b"ab",
                headers={**headers, "Upload-Offset": "0", "Content-Type": OCTETS},
            ),
            "DELETE": tus.http.delete(path, headers=headers),
        }
        for method, answer in answers.items():
            statuses[f"{method} {version}"] = (
                answer.status_code,
                answer.headers.get("Tus-Version"),
            )
    assert set(statuses.values()) == {(412, "1.0.0")}, statuses
    assert upload_rows(db) == 1
    assert tus.offset(team.lead, path) == 0


# -- creation ----------------------------------------------------------------------------------
def test_upload_length_must_be_a_whole_number(tus: Tus, team: Team, db: DatabaseProbe) -> None:
    """Without a trustworthy length nothing can be checked against the limit: 400, no upload."""
    meta = metadata_header(case_id=team.case_id, filename="x")
    statuses = {
        repr(length): tus.create(team.lead, length, meta).status_code
        for length in (None, "", "abc", "-1", "1.5", "0x10", "4 4", "1e3")
    }
    assert set(statuses.values()) == {400}, statuses
    assert upload_rows(db) == 0


def test_superscript_digits_are_not_a_number(tus: Tus, team: Team) -> None:
    """Headers arrive as latin-1, where '²' and '³' pass str.isdigit() but not int(): bad input
    must be a 400, never a 500 (this was a 500 once)."""
    meta = metadata_header(case_id=team.case_id, filename="x")
    created = tus.http.post(
        "/api/v1/uploads",
        headers={**TUS, **team.lead.headers, "Upload-Length": b"\xb2", "Upload-Metadata": meta},
    )
    path = tus.start(team.lead, team.case_id, 4)
    patched = tus.http.patch(
        path,
        content=b"ab",
        headers={**TUS, **team.lead.headers, "Upload-Offset": b"\xb2", "Content-Type": OCTETS},
    )
    assert (created.status_code, patched.status_code) == (400, 400)


def test_upload_over_the_size_limit_is_refused_before_any_byte(
    tus: Tus, team: Team, db: DatabaseProbe, settings: Settings
) -> None:
    """413 at creation: an investigator on a satellite link must not send gigabytes in vain."""
    meta = metadata_header(case_id=team.case_id, filename="x")
    answer = tus.create(team.lead, settings.max_upload_bytes + 1, meta)
    assert answer.status_code == 413, answer.text
    assert upload_rows(db) == 0
    at_limit = tus.create(team.lead, settings.max_upload_bytes, meta)
    assert at_limit.status_code == 201, at_limit.text


def test_bad_metadata_is_refused_before_any_byte(
    tus: Tus, team: Team, db: DatabaseProbe, store_probe: StoreProbe
) -> None:
    """Metadata errors found after gigabytes would waste the upload: they are found at creation,
    and nothing (row or temp object) is made."""
    case = f"case_id {b64(team.case_id)}"
    cases = {
        "no metadata": None,
        "no case_id": metadata_header(filename="x.jpg"),
        "no filename": case,
        "malformed base64": f"{case},filename !!!notbase64",
        "repeated key": f"{case},filename eA==,filename eQ==",
        "case_id not a uuid": metadata_header(case_id="not-a-uuid", filename="x"),
        "unknown kind": f"{case},filename eA==,kind {b64('sculpture')}",
        "bad captured_at": f"{case},filename eA==,captured_at {b64('yesterday')}",
        "future captured_at": f"{case},filename eA==,captured_at {b64('2999-01-01T00:00:00Z')}",
        "non-UTF-8 value": f"{case},filename eA==,title /w==",
    }
    answers = {name: tus.create(team.lead, 10, meta) for name, meta in cases.items()}
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert set(statuses.values()) <= {400, 422}, statuses
    assert all(
        a.headers["Content-Type"].startswith("application/problem+json") for a in answers.values()
    )
    assert upload_rows(db) == 0
    assert store_probe.temp_objects() == []


def test_outsiders_get_404_and_viewers_403(
    tus: Tus,
    team: Team,
    make_user: MakeUser,
    add_member: Callable[..., None],
    db: DatabaseProbe,
) -> None:
    """A case's existence is private (404 to non-members); a viewer may look but not add (403)."""
    outsider = make_user("investigator")
    viewer = make_user("viewer")
    add_member(team.case_id, viewer, "viewer")
    meta = metadata_header(case_id=team.case_id, filename="x")
    assert tus.create(outsider, 10, meta).status_code == 404
    assert tus.create(viewer, 10, meta).status_code == 403
    assert tus.http.post("/api/v1/uploads", headers={"Tus-Resumable": "1.0.0"}).status_code == 401
    assert upload_rows(db) == 0


def test_creation_is_idempotent_with_a_key(tus: Tus, team: Team, db: DatabaseProbe) -> None:
    """A POST retried after a lost answer must not start a second upload (whose bytes would
    then never come): the same key answers the same upload; another request with it is 422."""
    meta = metadata_header(case_id=team.case_id, filename="x")
    key = {"Idempotency-Key": "create-upload-1"}
    first = tus.create(team.lead, 4, meta, **key)
    again = tus.create(team.lead, 4, meta, **key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Location"] == first.headers["Location"]
    assert again.json() == first.json()
    assert tus.create(team.lead, 5, meta, **key).status_code == 422
    assert upload_rows(db) == 1


def test_a_replayed_creation_answers_like_the_first(tus: Tus, team: Team) -> None:
    """The client that retried never saw the first answer: the replay is all it has."""
    meta = metadata_header(case_id=team.case_id, filename="x")
    first = tus.create(team.lead, 4, meta, **{"Idempotency-Key": "create-upload-2"})
    again = tus.create(team.lead, 4, meta, **{"Idempotency-Key": "create-upload-2"})
    for header in ("Tus-Resumable", "Upload-Expires"):
        assert again.headers.get(header) == first.headers[header], header


# -- PATCH -------------------------------------------------------------------------------------
def test_patch_at_the_wrong_offset_conflicts(tus: Tus, team: Team) -> None:
    """Bytes at the wrong place would corrupt the original: 409, and the client asks HEAD."""
    path = tus.start(team.lead, team.case_id, 10)
    assert tus.patch(team.lead, path, 0, b"abcd").status_code == 204
    for offset in (0, 3, 5, 9):
        answer = tus.patch(team.lead, path, offset, b"e")
        assert answer.status_code == 409, offset
        assert problem_type(answer) == "offset-mismatch"
    missing = tus.patch(team.lead, path, 4, b"e", Upload_Offset="")
    assert missing.status_code == 400
    assert tus.offset(team.lead, path) == 4


def test_patch_needs_the_offset_octet_stream_type(tus: Tus, team: Team) -> None:
    """tus core: PATCH bodies are application/offset+octet-stream; anything else is 415."""
    path = tus.start(team.lead, team.case_id, 10)
    statuses = {
        kind: tus.patch(team.lead, path, 0, b"abcd", Content_Type=kind).status_code
        for kind in ("application/octet-stream", "text/plain", "multipart/form-data; boundary=x")
    }
    assert set(statuses.values()) == {415}, statuses
    assert tus.offset(team.lead, path) == 0


def test_checksum_mismatch_discards_the_chunk(tus: Tus, team: Team, http: httpx.Client) -> None:
    """A chunk corrupted in transit (460) must leave no trace, even when it crossed an S3 part
    boundary and a part was already sent: the correct chunk then completes an intact file."""
    data = payload(PART_BYTES + 2 * MIB + 5, seed=3)
    first, rest = data[: 15 * MIB], data[15 * MIB :]
    corrupt = bytes([rest[0] ^ 1]) + rest[1:]
    path = tus.start(team.lead, team.case_id, len(data))
    ok = tus.patch(team.lead, path, 0, first, Upload_Checksum=checksum("sha1", first))
    assert ok.status_code == 204, ok.text

    for algorithm in ("sha1", "sha256"):
        answer = tus.patch(
            team.lead, path, len(first), corrupt, Upload_Checksum=checksum(algorithm, rest)
        )
        assert answer.status_code == 460, answer.text
        assert problem_type(answer) == "checksum-mismatch"
        assert tus.offset(team.lead, path) == len(first)

    done = tus.patch(team.lead, path, len(first), rest, Upload_Checksum=checksum("sha256", rest))
    assert done.status_code == 204, done.text
    assert content(http, team.lead, done.headers["Casefile-Evidence-Id"]) == data


def test_unusable_checksum_header_is_a_bad_request(tus: Tus, team: Team) -> None:
    """An algorithm the server cannot check (or a garbled header) must not be silently ignored,
    and must not be taken for a mismatch either."""
    path = tus.start(team.lead, team.case_id, 10)
    headers = ("md5 rL0Y20zC+Fzt72VPzMSk2A==", "crc32 AAAAAA==", "sha512 AAAA", "sha1 not*base64")
    statuses = {
        header: tus.patch(team.lead, path, 0, b"abcd", Upload_Checksum=header).status_code
        for header in headers
    }
    assert set(statuses.values()) == {400}, statuses
    assert tus.offset(team.lead, path) == 0


def test_checksum_without_a_digest_is_a_bad_request(tus: Tus, team: Team) -> None:
    """A header that names an algorithm but carries no digest is malformed, not a mismatch: a
    client told 460 would resend the same chunk forever."""
    path = tus.start(team.lead, team.case_id, 10)
    answer = tus.patch(team.lead, path, 0, b"abcd", Upload_Checksum="sha1")
    assert answer.status_code == 400, answer.text


def test_body_longer_than_the_rest_is_refused(tus: Tus, team: Team, http: httpx.Client) -> None:
    """An upload cannot grow past its declared length (the size limit was checked against it)."""
    data = payload(3 * MIB, seed=4)
    path = tus.start(team.lead, team.case_id, len(data))
    assert tus.patch(team.lead, path, 0, data[: 2 * MIB]).status_code == 204
    too_long = tus.patch(team.lead, path, 2 * MIB, data[2 * MIB :] + b"extra")
    assert too_long.status_code == 413, too_long.text
    assert tus.offset(team.lead, path) == 2 * MIB
    done = tus.patch(team.lead, path, 2 * MIB, data[2 * MIB :])
    assert done.status_code == 204, done.text
    assert content(http, team.lead, done.headers["Casefile-Evidence-Id"]) == data


def test_a_completed_upload_takes_no_more_bytes(tus: Tus, team: Team) -> None:
    """Once it is evidence, its bytes are fixed: a further PATCH is a conflict, not an append."""
    path = tus.start(team.lead, team.case_id, 4)
    done = tus.patch(team.lead, path, 0, b"abcd")
    assert done.status_code == 204
    for offset in (4, 0):
        assert tus.patch(team.lead, path, offset, b"e").status_code == 409
    assert tus.patch(team.lead, path, 4, b"").status_code == 409
    head = tus.head(team.lead, path)
    assert head.headers["Casefile-Evidence-Id"] == done.headers["Casefile-Evidence-Id"]
    assert tus.delete(team.lead, path).status_code == 409  # it is evidence now: withdraw it


def test_uploads_belong_to_their_uploader(
    tus: Tus,
    team: Team,
    make_user: MakeUser,
    add_member: Callable[..., None],
    admin: Actor,
    http: httpx.Client,
) -> None:
    """Even the case's lead cannot see, feed or cancel a colleague's upload (404, as for a
    stranger); an admin can, to help a stuck colleague."""
    uploader_ = make_user("investigator")
    add_member(team.case_id, uploader_, "investigator")
    path = tus.start(uploader_, team.case_id, 4)
    other = tus.start(uploader_, team.case_id, 4)

    for someone in (team.lead, make_user("investigator")):
        assert tus.head(someone, path).status_code == 404
        assert tus.patch(someone, path, 0, b"ab").status_code == 404
        assert tus.delete(someone, path).status_code == 404
    assert tus.offset(uploader_, path) == 0

    assert tus.offset(admin, path) == 0
    done = tus.patch(admin, path, 0, b"abcd")
    assert done.status_code == 204, done.text
    assert content(http, uploader_, done.headers["Casefile-Evidence-Id"]) == b"abcd"
    assert tus.delete(admin, other).status_code == 204
    assert tus.head(uploader_, other).status_code == 404


# -- concurrency -------------------------------------------------------------------------------
def test_concurrent_patches_at_one_offset_one_wins(
    tus: Tus, team: Team, live_server: LiveServer
) -> None:
    """Two retries of one chunk racing (a client that timed out and resent): exactly one is
    appended, the other refused with 409, and the file holds the chunk once."""
    data = payload(4 * MIB, seed=5)
    half = 2 * MIB
    path = tus.start(team.lead, team.case_id, len(data))
    barrier = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def send() -> None:
        with live_server.client() as http:
            barrier.wait(timeout=10)
            answers.append(Tus(http).patch(team.lead, path, 0, data[:half]))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(a.status_code for a in answers) == [204, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert problem_type(loser) in ("upload-busy", "offset-mismatch")
    assert tus.offset(team.lead, path) == half
    done = tus.patch(team.lead, path, half, data[half:])
    assert done.status_code == 204, done.text
    assert content(tus.http, team.lead, done.headers["Casefile-Evidence-Id"]) == data


def test_patch_while_another_is_streaming_is_busy(
    tus: Tus, team: Team, live_server: LiveServer, db: DatabaseProbe
) -> None:
    """While one PATCH is still sending, a second at the same offset must not write into the
    same temp object: 409 upload-busy, and the first then completes intact."""
    data = payload(2 * MIB, seed=6)
    path = tus.start(team.lead, team.case_id, len(data))
    release = threading.Event()
    first: list[httpx.Response] = []

    def slow_body() -> Iterator[bytes]:
        yield data[:MIB]
        release.wait(timeout=30)
        yield data[MIB:]

    def send_slowly() -> None:
        with live_server.client() as http:
            first.append(Tus(http).patch(team.lead, path, 0, slow_body()))

    thread = threading.Thread(target=send_slowly)
    thread.start()
    try:
        wait_for(lambda: db.scalar(LEASED) == 1)
        second = tus.patch(team.lead, path, 0, data)
        assert second.status_code == 409, second.text
        assert problem_type(second) == "upload-busy"
    finally:
        release.set()
        thread.join(timeout=60)
    assert first[0].status_code == 204, first[0].text
    assert content(tus.http, team.lead, first[0].headers["Casefile-Evidence-Id"]) == data


# -- termination -------------------------------------------------------------------------------
def test_termination_discards_the_bytes(tus: Tus, team: Team, store_probe: StoreProbe) -> None:
    """An abandoned upload is not evidence: DELETE removes it and its temp bytes (a full S3
    part and a tail here), leaving nothing for anyone to find later."""
    data = payload(PART_BYTES + MIB + 1, seed=7)
    path = tus.start(team.lead, team.case_id, len(data) + 10)
    assert tus.patch(team.lead, path, 0, data).status_code == 204
    assert store_probe.temp_objects() != []

    answer = tus.delete(team.lead, path)
    assert answer.status_code == 204, answer.text
    assert tus.head(team.lead, path).status_code == 404
    assert tus.patch(team.lead, path, len(data), b"x").status_code == 404
    assert tus.delete(team.lead, path).status_code == 404
    assert store_probe.temp_objects() == []
    assert store_probe.evidence_keys() == []
    actions = [e["action"] for e in audit_events(tus.http, team.lead, team.case_id)]
    assert actions[-2:] == ["upload.started", "upload.terminated"]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_s3_termination_tolerates_a_multipart_upload_already_gone(
    settings: Settings, store_probe: StoreProbe
) -> None:
    """AWS answers NoSuchUpload to aborting a multipart upload that was completed (an upload
    refused as a duplicate) or aborted (a bucket lifecycle rule): purging or terminating such
    an upload must treat "already gone" as done, not as an outage."""
    store = S3ObjectStore(
        make_s3_client(settings.s3_endpoint_url), store_probe.bucket, store_probe.prefix
    )
    try:
        state = store.start_resumable("evidence/case/item")
        state["upload_id"] = "no-such-upload"  # what S3 no longer knows
        store.abort_resumable(state)
    finally:
        store.close()


def test_termination_during_a_patch_leaves_no_bytes(
    tus: Tus,
    team: Team,
    live_server: LiveServer,
    db: DatabaseProbe,
    store_probe: StoreProbe,
) -> None:
    """An investigator cancels while a chunk is still in flight: whatever the two requests
    answer, the upload must end up wholly gone (or wholly there), never as temp bytes that no
    row refers to and no sweep removes."""
    data = payload(2 * MIB, seed=11)
    path = tus.start(team.lead, team.case_id, len(data))
    release = threading.Event()
    answers: list[httpx.Response] = []

    def slow_body() -> Iterator[bytes]:
        yield data[:MIB]
        release.wait(timeout=30)
        yield data[MIB:]

    def send_slowly() -> None:
        with live_server.client() as http:
            answers.append(Tus(http).patch(team.lead, path, 0, slow_body()))

    thread = threading.Thread(target=send_slowly)
    thread.start()
    try:
        wait_for(lambda: db.scalar(LEASED) == 1)
        terminated = tus.delete(team.lead, path)
    finally:
        release.set()
        thread.join(timeout=60)

    if terminated.status_code == 204:
        assert tus.head(team.lead, path).status_code == 404
        assert answers[0].status_code in (404, 409, 410), answers[0].text
        assert store_probe.temp_objects() == [], answers[0].text
    else:  # refusing to terminate a busy upload is fine too, if it stays whole
        assert terminated.status_code == 409, terminated.text
        assert answers[0].status_code == 204
    assert store_probe.evidence_keys() == []


# -- expiration --------------------------------------------------------------------------------
def _expires(answer: httpx.Response) -> datetime:
    return parsedate_to_datetime(answer.headers["Upload-Expires"])


def test_uploads_announce_when_they_expire(tus: Tus, team: Team) -> None:
    """Clients check Upload-Expires before resuming; it is an RFC 9110 date about a day away."""
    before = datetime.now(UTC)
    created = tus.create(team.lead, 10, metadata_header(case_id=team.case_id, filename="x"))
    assert created.status_code == 201
    expires = _expires(created)
    assert before + timedelta(hours=23) < expires <= before + timedelta(hours=24, minutes=1)
    assert created.headers["Upload-Expires"].endswith(" GMT")
    head = tus.head(team.lead, upload_path(created.headers["Location"]))
    assert _expires(head) == expires
    assert datetime.fromisoformat(created.json()["expires_at"]) - expires < timedelta(seconds=1)


def test_patch_answers_say_when_the_upload_expires(tus: Tus, team: Team) -> None:
    """A client between chunks learns the deadline from the PATCH it just made."""
    path = tus.start(team.lead, team.case_id, 10)
    answer = tus.patch(team.lead, path, 0, b"abcd")
    assert answer.status_code == 204
    assert "Upload-Expires" in answer.headers


def test_expired_upload_is_gone_and_reconcile_removes_it(
    tus: Tus, team: Team, settings: Settings, store_probe: StoreProbe
) -> None:
    """Past its expiry an upload answers 410 upload-expired; `storage reconcile --fix` then
    drops it and its temp bytes, and says so in the case's audit trail."""
    path = tus.start(team.lead, team.case_id, 10)
    assert tus.patch(team.lead, path, 0, b"abcd").status_code == 204
    set_upload_expiry(settings, upload_id(path), datetime.now(UTC) - timedelta(seconds=1))

    assert tus.head(team.lead, path).status_code == 410
    refused = tus.patch(team.lead, path, 4, b"ef")
    assert refused.status_code == 410, refused.text
    assert problem_type(refused) == "upload-expired"
    assert store_probe.temp_objects() != []

    fixed = casefile("storage", "reconcile", "--fix", env=environment(settings))
    assert fixed.returncode == 0, fixed.stderr
    assert "1 expired upload" in fixed.stderr
    assert tus.head(team.lead, path).status_code == 404
    assert store_probe.temp_objects() == []
    expired = [
        e
        for e in audit_events(tus.http, team.lead, team.case_id)
        if e["action"] == "upload.expired"
    ]
    assert len(expired) == 1
    assert expired[0]["resource_id"] == upload_id(path)
    assert expired[0]["actor_id"] is None


def test_a_new_upload_purges_expired_ones(
    tus: Tus, team: Team, settings: Settings, store_probe: StoreProbe
) -> None:
    """Without any operator, the next creation sweeps expired uploads away."""
    old = tus.start(team.lead, team.case_id, 10)
    assert tus.patch(team.lead, old, 0, b"abcd").status_code == 204
    set_upload_expiry(settings, upload_id(old), datetime.now(UTC) - timedelta(seconds=1))
    held = set(store_probe.temp_objects())
    assert held

    tus.start(team.lead, team.case_id, 10)
    assert tus.head(team.lead, old).status_code == 404
    assert held.isdisjoint(store_probe.temp_objects())
    actions = [e["action"] for e in audit_events(tus.http, team.lead, team.case_id)]
    assert actions.count("upload.expired") == 1


# -- edge cases of completion ------------------------------------------------------------------
def test_zero_length_upload_completes_at_creation(
    tus: Tus, team: Team, store_probe: StoreProbe
) -> None:
    """No PATCH will ever come for an empty file: the POST itself must make the item."""
    answer = tus.create(team.lead, 0, metadata_header(case_id=team.case_id, filename="empty.txt"))
    assert answer.status_code == 201, answer.text
    item_id = answer.headers["Casefile-Evidence-Id"]
    item = evidence(tus.http, team.lead, item_id)
    assert (item["size"], item["sha256"]) == (0, hashlib.sha256(b"").hexdigest())
    assert item["original_filename"] == "empty.txt"
    assert content(tus.http, team.lead, item_id) == b""
    head = tus.head(team.lead, upload_path(answer.headers["Location"]))
    assert head.headers["Casefile-Evidence-Id"] == item_id
    assert head.headers["Upload-Offset"] == "0"
    assert store_probe.temp_objects() == []


def test_completing_a_duplicate_leaves_nothing_behind(
    tus: Tus, team: Team, store_probe: StoreProbe, db: DatabaseProbe
) -> None:
    """The same bytes twice in one case are refused (422, see test_tus_refusal) when the last
    chunk arrives; the placed object is discarded, so no row and no unreferenced original
    remain."""
    data = payload(PART_BYTES + MIB + 3, seed=8)
    first = multipart_upload(tus.http, team.lead, team.case_id, data, "first.bin")
    assert first.status_code == 201, first.text
    keys = store_probe.evidence_keys()
    assert len(keys) == 1

    path = tus.start(team.lead, team.case_id, len(data))
    assert tus.patch(team.lead, path, 0, data[:MIB]).status_code == 204
    answer = tus.patch(team.lead, path, MIB, data[MIB:])
    assert answer.status_code == 422, answer.text
    assert problem_type(answer) == "duplicate-evidence"
    assert "Casefile-Evidence-Id" not in answer.headers

    assert [i["id"] for i in case_evidence(tus.http, team.lead, team.case_id)] == [
        first.json()["id"]
    ]
    assert db.scalar("SELECT count(*) FROM evidence_items") == 1
    assert store_probe.evidence_keys() == keys
    assert store_probe.temp_objects() == []
    head = tus.head(team.lead, path)
    assert head.status_code == 410
    assert "Casefile-Evidence-Id" not in head.headers


def test_expired_duplicate_upload_is_purged_cleanly(
    tus: Tus, team: Team, settings: Settings, store_probe: StoreProbe
) -> None:
    """An upload refused as a duplicate lingers until it expires; purging it must not fail on
    its already-completed storage (else every later creation fails with it)."""
    data = payload(PART_BYTES + MIB + 3, seed=9)
    assert multipart_upload(tus.http, team.lead, team.case_id, data, "a").status_code == 201
    path = tus.start(team.lead, team.case_id, len(data))
    assert tus.patch(team.lead, path, 0, data).status_code == 422
    set_upload_expiry(settings, upload_id(path), datetime.now(UTC) - timedelta(seconds=1))

    answer = tus.create(team.lead, 4, metadata_header(case_id=team.case_id, filename="x"))
    assert answer.status_code == 201, answer.text
    assert tus.head(team.lead, path).status_code == 404
    fixed = casefile("storage", "reconcile", "--fix", env=environment(settings))
    assert fixed.returncode == 0, fixed.stderr


def test_a_repeated_metadata_key_is_422_naming_it(
    tus: Tus, team: Team, db: DatabaseProbe, store_probe: StoreProbe
) -> None:
    """`title` twice would mean one title to one tus server and another to the next."""
    case = f"case_id {b64(team.case_id)}"
    answer = tus.create(team.lead, 10, f"{case},filename eA==,title {b64('a')},title {b64('b')}")
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert [e["field"] for e in problem["errors"]] == ["Upload-Metadata"]
    assert "'title'" in problem["detail"]
    assert upload_rows(db) == 0
    assert store_probe.temp_objects() == []


def test_a_member_removed_from_the_case_loses_their_uploads(
    tus: Tus,
    team: Team,
    admin: Actor,
    make_user: MakeUser,
    add_member: Callable[..., None],
    db: DatabaseProbe,
) -> None:
    """Access is checked on every request of an upload, not only at its creation: someone
    removed from the case must not add evidence to it through an upload begun before."""
    colleague = make_user("investigator")
    add_member(team.case_id, colleague, "investigator")
    meta = metadata_header(case_id=team.case_id, filename="late.jpg")
    path = tus.create(colleague, 8, meta).headers["Location"]
    assert tus.patch(colleague, path, 0, b"abcd").status_code == 204
    removed = tus.http.delete(
        f"/api/v1/cases/{team.case_id}/members/{colleague.id}", headers=admin.headers
    )
    assert removed.status_code in (200, 204), removed.text
    before = db.snapshot()
    for answer in (
        tus.head(colleague, path),
        tus.patch(colleague, path, 4, b"efgh"),
        tus.delete(colleague, path),
    ):
        assert answer.status_code == 404, answer.text
    assert db.snapshot() == before
    assert db.scalar("SELECT count(*) FROM evidence_items") == 0


def test_a_member_made_a_viewer_may_send_no_more_bytes(
    tus: Tus, team: Team, make_user: MakeUser, add_member: Callable[..., None], db: DatabaseProbe
) -> None:
    """Refused at the first byte, not only when the item would be recorded at the end."""
    colleague = make_user("investigator")
    add_member(team.case_id, colleague, "investigator")
    path = tus.create(
        colleague, 8, metadata_header(case_id=team.case_id, filename="x.jpg")
    ).headers["Location"]
    add_member(team.case_id, colleague, "viewer")
    before = db.snapshot()
    refused = tus.patch(colleague, path, 0, b"abcd")
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert db.snapshot() == before
