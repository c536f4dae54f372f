"""An interrupted PATCH keeps what arrived, on both stores: a large file on a bad link resumes
from where the link died, not from zero (tus clients send the whole rest in one PATCH by
default, so a drop used to cost everything that PATCH had carried).

A PATCH cut off (the client gone, or silent past CASEFILE_BODY_STALL_SECONDS) is recorded up to
the last byte the server read: local store fsynced, S3 the full parts sent plus the rest as the
upload's tail object. The next HEAD offers that offset, and the resumed upload's SHA-256 is the
file's. With Upload-Checksum a partial body cannot be checked, so it is discarded.
"""

from __future__ import annotations

import io
import logging
import socket
import time

import pytest
from tusclient import client as tus_client

from app.config import Settings
from app.storage.s3 import PART_BYTES
from tests.fixtures.api import DatabaseProbe, LiveServer
from tests.hostile.support import read_answer
from tests.uploads.support import (
    MIB,
    OCTETS,
    StoreProbe,
    Team,
    Tus,
    checksum,
    content,
    evidence,
    payload,
    sha256_hex,
    wait_for,
)

STALL_S = 1.0
SIZE = PART_BYTES + 4 * MIB + 3  # a full S3 part, then a tail
LEASED = "SELECT count(*) FROM uploads WHERE lease_until IS NOT NULL"
# uvicorn drops what it buffered but the app had not yet read when the connection closes
# (at most its 64 KiB high-water mark and one socket read): what arrived at the app is kept.
UNREAD_AT_MOST = MIB


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A short stall timeout, so that the stalled PATCH ends within the test."""
    return settings.model_copy(update={"body_stall_seconds": STALL_S})


def patch_head(team: Team, path: str, offset: int, length: int, *extra: str) -> bytes:
    lines = [
        f"PATCH {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: {team.lead.headers['Authorization']}",
        "Tus-Resumable: 1.0.0",
        f"Content-Type: {OCTETS}",
        f"Upload-Offset: {offset}",
        f"Content-Length: {length}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def resume_with_tuspy(server: LiveServer, team: Team, path: str, data: bytes) -> str:
    """A fresh tuspy uploader at the upload's URL: it asks HEAD and sends only the rest."""
    client = tus_client.TusClient(f"{server.url}/api/v1/uploads", headers=team.lead.headers)
    uploader = client.uploader(file_stream=io.BytesIO(data), url=server.url + path)
    uploader.upload()
    item_id: str = uploader.request.response_headers["casefile-evidence-id"]
    return item_id


@pytest.mark.parametrize("first", [0, 3 * MIB + 1], ids=["from-zero", "after-a-patch"])
def test_a_patch_cut_off_keeps_what_arrived(
    live_server: LiveServer,
    tus: Tus,
    team: Team,
    db: DatabaseProbe,
    store_probe: StoreProbe,
    backend: str,
    first: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = payload(SIZE, seed=41 + first)
    path = tus.start(team.lead, team.case_id, len(data))
    if first:
        assert tus.patch(team.lead, path, 0, data[:first]).status_code == 204
    sent = PART_BYTES + 2 * MIB + 5 - first  # past an S3 part boundary, short of the end
    with caplog.at_level(logging.INFO):
        with socket.create_connection(("127.0.0.1", live_server.port)) as connection:
            connection.sendall(patch_head(team, path, first, len(data) - first))
            connection.sendall(data[first : first + sent])
            wait_for(lambda: db.scalar(LEASED) == 1)
            time.sleep(0.5)  # let the server read what was sent before the link dies
        wait_for(lambda: db.scalar(LEASED) == 0)
    # A disconnect (499 in the access log), not an error of the server.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]

    offset = tus.offset(team.lead, path)
    assert first + sent - UNREAD_AT_MOST <= offset <= first + sent
    if backend == "postgres":  # S3: the full part went up, the rest is the tail object
        temp = store_probe.temp_objects()
        assert any(t.startswith("multipart:") for t in temp), temp
        assert any(t.startswith("object:") for t in temp), temp

    item_id = resume_with_tuspy(live_server, team, path, data)
    item = evidence(tus.http, team.lead, item_id)
    assert (item["sha256"], item["size"]) == (sha256_hex(data), len(data))
    assert content(tus.http, team.lead, item_id) == data
    assert store_probe.temp_objects() == []


def test_a_stalled_patch_keeps_what_arrived(
    live_server: LiveServer, tus: Tus, team: Team, store_probe: StoreProbe
) -> None:
    """A body silent past the stall timeout is 408, and what came before the silence stays."""
    data = payload(6 * MIB + 1, seed=43)
    path = tus.start(team.lead, team.case_id, len(data))
    sent = 4 * MIB + 7
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=15) as connection:
        connection.sendall(patch_head(team, path, 0, len(data)) + data[:sent])
        answer = read_answer(connection)
    assert answer.status == 408, answer.body
    assert tus.offset(team.lead, path) == sent  # a stall drops nothing: all of it was read

    item_id = resume_with_tuspy(live_server, team, path, data)
    assert evidence(tus.http, team.lead, item_id)["sha256"] == sha256_hex(data)
    assert store_probe.temp_objects() == []


def test_a_cut_off_patch_with_a_checksum_keeps_nothing(
    live_server: LiveServer, tus: Tus, team: Team, db: DatabaseProbe
) -> None:
    """Upload-Checksum covers the whole body: a part of it cannot be checked, so it goes."""
    data = payload(3 * MIB, seed=44)
    path = tus.start(team.lead, team.case_id, len(data))
    assert tus.patch(team.lead, path, 0, data[:MIB]).status_code == 204
    digest = checksum("sha256", data[MIB:])
    with socket.create_connection(("127.0.0.1", live_server.port)) as connection:
        connection.sendall(
            patch_head(team, path, MIB, len(data) - MIB, f"Upload-Checksum: {digest}")
        )
        connection.sendall(data[MIB : 2 * MIB])
        wait_for(lambda: db.scalar(LEASED) == 1)
        time.sleep(0.3)
    wait_for(lambda: db.scalar(LEASED) == 0)
    assert tus.offset(team.lead, path) == MIB
    done = tus.patch(team.lead, path, MIB, data[MIB:], Upload_Checksum=digest)
    assert done.status_code == 204, done.text
    assert evidence(tus.http, team.lead, done.headers["Casefile-Evidence-Id"])["sha256"] == (
        sha256_hex(data)
    )
