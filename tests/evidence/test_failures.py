"""Failures in the middle of an upload leave nothing half-made: no row pointing at missing bytes,
no bytes that no row points at, no temp object; and the service carries on."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from app.evidence import service
from app.storage import S3ObjectStore
from app.storage.s3 import PART_BYTES, make_s3_client
from tests.evidence.support import (
    MIB,
    MULTIPART,
    Scene,
    assert_problem,
    download,
    file_part,
    multipart,
    post_file,
    unique_bytes,
    upload,
)
from tests.fixtures.api import LiveServer


def _wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _unreachable_s3_client() -> Any:
    """The app's S3 client configuration (timeouts; retries cut to one attempt, to keep the
    test short) aimed at a port nobody listens on. Its own boto3 session with explicit
    credentials: `make_s3_client` would resolve them through boto3's default session, which
    caches them for the whole test process, and the fake ones would then lock every later S3
    test of this worker out of SeaweedFS."""
    real: Any = make_s3_client("http://127.0.0.1:1")
    session = boto3.session.Session(
        aws_access_key_id="casefile-test",
        aws_secret_access_key="not-a-secret",
        region_name="us-east-1",
    )
    config = real.meta.config.merge(Config(retries={"mode": "standard", "max_attempts": 1}))
    return session.client("s3", endpoint_url="http://127.0.0.1:1", config=config)


def test_unreachable_storage_is_a_503_and_records_nothing(scene: Scene, app: FastAPI) -> None:
    """With the object store down (an S3 endpoint nobody listens on), an upload fails with a
    503 problem, whether it fails at the end (one PutObject) or mid-stream (the first part of
    a multipart upload): no row, no audit event. Once storage is back, uploads work again."""
    dead = S3ObjectStore(_unreachable_s3_client(), "casefile-nowhere", "t")
    healthy = app.state.object_store
    before = scene.state()
    app.state.object_store = dead
    try:
        for size in (100, PART_BYTES + 1):
            answer = post_file(scene.client, scene.lead, scene.case_id, unique_bytes("x", size))
            problem = assert_problem(answer, 503)
            assert problem["type"] == "urn:casefile:problem:storage-unavailable"
            assert scene.state() == before
    finally:
        app.state.object_store = healthy
        dead.close()
    item = upload(scene.client, scene.lead, scene.case_id, unique_bytes("back"))
    assert item["exhibit_number"] == "MRT-0001"


def test_a_database_failure_after_storing_removes_the_object(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes are stored first, then recorded: if the database fails at that moment, the
    answer is a 503 and the stored object is removed, so no original exists without its row
    (and a retry is not refused as a duplicate of something nobody can see)."""
    data = unique_bytes("db-down", 3 * MIB)
    before = scene.state()

    def database_gone(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT INTO evidence_items …", {}, ConnectionError("gone"))

    with monkeypatch.context() as patched:
        patched.setattr(service, "record_arrival", database_gone)
        answer = post_file(scene.client, scene.lead, scene.case_id, data)
        assert_problem(answer, 503, "database-unavailable")
        assert scene.state() == before
    retried = upload(scene.client, scene.lead, scene.case_id, data)
    assert retried["exhibit_number"] == "MRT-0001"


def test_a_client_that_disconnects_midway_leaves_nothing(
    scene: Scene, live_server: LiveServer
) -> None:
    """Over a real socket, a client announces 64 MiB, sends 20 (past an S3 part, so a multipart
    upload is open), then vanishes. The server notices, aborts the temp object, records
    nothing, and goes on serving: the next upload and download work."""
    before = scene.state()
    preamble = multipart([file_part(b"", "video.mp4", "video/mp4")]).split(b"\r\n\r\n", 1)[0]
    preamble += b"\r\n\r\n"
    head = (
        f"POST /api/v1/cases/{scene.case_id}/evidence HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{live_server.port}\r\n"
        f"Authorization: Bearer {scene.lead.token}\r\n"
        f"Content-Type: {MULTIPART}\r\n"
        f"Content-Length: {64 * MIB}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=30) as sock:
        sock.sendall(head + preamble)
        block = unique_bytes("partial", MIB)
        for _ in range(20):
            sock.sendall(block)
        _wait_for(lambda: scene.store.incoming_bytes() > 0, "the upload to reach the store")
    _wait_for(lambda: scene.store.leftovers() == [], "the temp object to be aborted")
    assert scene.state() == before

    with live_server.client(headers=scene.lead.headers) as http:
        data = unique_bytes("after", 1000)
        item = upload(http, scene.lead, scene.case_id, data)
        assert download(http, scene.lead, item["id"]).content == data
    assert scene.evidence_rows() == 1
