"""Faults under load, on two `casefile serve` processes sharing one PostgreSQL and one
SeaweedFS: object storage stopped and restarted, PostgreSQL restarted, a server killed with
SIGKILL in the middle of an upload and of a bundle export.

While a dependency is down the service answers 503 problems (never a 500) and needs no restart
to recover; afterwards nothing is half-made (every row has its object, every chain verifies,
no orphan object) and every original committed before the fault is byte-identical.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from app.uploads.service import LEASE
from tests.cluster.harness import Deployment, ServerProcess, wait_until
from tests.cluster.load import BackgroundLoad
from tests.cluster.workload import (
    TUS,
    assert_nothing_lost,
    assert_operator_checks_clean,
    case_events,
    case_evidence,
    export_bundle,
    open_case,
    photo_bytes,
    sha256_hex,
    start_tus,
    store_original,
    tus_patch_headers,
    upload,
)

MIB = 1024 * 1024
RECOVERY_S = 90


@dataclass
class Scene:
    case_id: str
    witness_id: str
    originals: dict[str, str]  # evidence id → sha256 of everything committed so far

    def keep(self, stored: dict[str, str]) -> None:
        self.originals.update(stored)


@pytest.fixture(scope="module")
def scene(deployment: Deployment) -> Scene:
    with deployment.servers[0].client(deployment.admin_token) as http:
        case_id, witness_id = open_case(http)
        originals = {}
        for number, size in enumerate((600 * 1024, MIB, 2 * MIB)):
            data = photo_bytes(f"before-{number}", size)
            originals.update(store_original(http, case_id, data, f"crater-{number}.jpg"))
    return Scene(case_id, witness_id, originals)


@pytest.fixture
def load(deployment: Deployment, scene: Scene) -> Iterator[BackgroundLoad]:
    background = BackgroundLoad(
        deployment.servers, deployment.admin_token, scene.case_id, scene.witness_id
    )
    with background:
        wait_until(lambda: background.mark() >= 8, 60, "load running")
        yield background
    scene.keep(background.stored)


def test_storage_outage_is_a_503_and_heals_by_itself(
    deployment: Deployment, scene: Scene, load: BackgroundLoad
) -> None:
    some_original = next(iter(scene.originals))
    deployment.seaweed.stop()
    try:
        for server in deployment.servers:
            with server.client(deployment.admin_token) as http:
                assert http.get("/readyz").status_code == 503
                assert_problem(upload(http, scene.case_id, b"\xff\xd8 x", "x.jpg"), "storage")
                content = http.get(f"/api/v1/evidence/{some_original}/content")
                assert_problem(content, "storage")
                assert_problem(http.get(f"/api/v1/cases/{scene.case_id}/bundle"), "storage")
                # What lives in the database is still served.
                assert http.get(f"/api/v1/cases/{scene.case_id}").status_code == 200
        time.sleep(2)  # the clients keep trying through the outage
    finally:
        deployment.seaweed.start()
    mark = load.mark()
    wait_until(lambda: load.successes_since(mark, "upload") >= 4, RECOVERY_S, "uploading again")
    statuses = load.statuses()
    assert statuses[503] > 0, statuses  # the outage was seen by the clients …
    assert_no_server_errors(load)  # … as 503s, never as a 500 or a dropped connection


def test_database_restart_is_a_503_and_heals_by_itself(
    deployment: Deployment, scene: Scene, load: BackgroundLoad
) -> None:
    deployment.postgres.stop()
    try:
        for server in deployment.servers:
            with server.client(deployment.admin_token) as http:
                assert http.get("/readyz").status_code == 503
                assert_problem(http.get(f"/api/v1/cases/{scene.case_id}"), "database")
                answer = upload(http, scene.case_id, photo_bytes("no-db", 64 * 1024), "n.jpg")
                assert_problem(answer, "database")
        time.sleep(2)
    finally:
        deployment.postgres.start()
    mark = load.mark()
    for operation in ("read", "testify", "upload"):
        wait_until(
            lambda op=operation: load.successes_since(mark, op) >= 4,  # type: ignore[misc]
            RECOVERY_S,
            f"{operation} working again",
        )
    assert load.statuses()[503] > 0
    assert_no_server_errors(load)


def test_a_server_killed_mid_upload_leaves_nothing_and_another_server_resumes(
    deployment: Deployment, scene: Scene
) -> None:
    victim, survivor = deployment.servers
    token = deployment.admin_token
    before = evidence_ids(survivor, token, scene.case_id)
    # One-request upload, cut by the death of the server that was receiving it.
    cut = send_half_an_upload(victim, token, scene.case_id, photo_bytes("cut", 6 * MIB))
    # A resumable upload whose second PATCH is cut the same way.
    data = photo_bytes("resumed", 3 * MIB)
    with victim.client(token) as http:
        path = start_tus(http, scene.case_id, len(data))
        first = http.patch(path, content=data[:MIB], headers=tus_patch_headers(0))
        assert first.status_code == 204, first.text
    stalled = send_half_a_patch(victim, token, path, data[MIB:], offset=MIB)
    victim.kill()
    cut.close()
    stalled.close()
    victim.start()
    with survivor.client(token) as http:
        # The bytes the dead server had not recorded are not counted, and its hold on the
        # upload lapses within the lease (renewed only while its server lives): then the
        # upload resumes on another server.
        head = http.head(path, headers=TUS)
        assert head.status_code == 200, head.headers
        assert int(head.headers["Upload-Offset"]) == MIB
        waited = time.monotonic()
        while (
            rest := http.patch(path, content=data[MIB:], headers=tus_patch_headers(MIB))
        ).status_code == 409:
            assert rest.json()["type"].endswith("upload-busy"), rest.text
            assert time.monotonic() - waited < LEASE.total_seconds() + 15
            time.sleep(1)
        assert rest.status_code == 204, rest.text
        evidence_id = rest.headers["Casefile-Evidence-Id"]
        assert sha256_hex(http.get(f"/api/v1/evidence/{evidence_id}/content").content) == (
            sha256_hex(data)
        )
    scene.keep({evidence_id: sha256_hex(data)})
    assert evidence_ids(survivor, token, scene.case_id) == before | {evidence_id}
    assert_operator_checks_clean(deployment)


def test_a_server_killed_mid_export_leaves_the_chain_whole(
    deployment: Deployment, scene: Scene, tmp_path: Path
) -> None:
    victim, survivor = deployment.servers
    token = deployment.admin_token
    with (
        victim.client(token) as http,
        http.stream("GET", f"/api/v1/cases/{scene.case_id}/bundle") as answer,
    ):
        assert answer.status_code == 200
        chunks = answer.iter_raw()
        assert next(chunks)[:2] == b"PK"
        victim.kill()
        with pytest.raises(httpx.TransportError):  # cut short of its Content-Length
            for _ in chunks:
                pass
    victim.start()
    with survivor.client(token) as http:
        exports = [e for e in case_events(http, scene.case_id) if e["action"] == "bundle.exported"]
        assert exports  # the cut export was recorded before a byte was sent: it stays recorded
    with victim.client(token) as http:
        export_bundle(http, scene.case_id, tmp_path / "after.zip")
    assert_operator_checks_clean(deployment)


def test_after_every_fault_each_committed_original_is_intact(
    deployment: Deployment, scene: Scene
) -> None:
    """Runs last in this module (pytest keeps file order within a worker); on its own it still
    holds for the scene's originals."""
    with deployment.servers[1].client(deployment.admin_token) as http:
        listed = {item["id"]: item["sha256"] for item in case_evidence(http, scene.case_id)}
        assert {k: listed[k] for k in scene.originals} == scene.originals
        assert_nothing_lost(deployment, http, scene.originals)


# -- helpers -----------------------------------------------------------------------------------
def assert_problem(answer: httpx.Response, dependency: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith(f"{dependency}-unavailable"), answer.text


def assert_no_server_errors(load: BackgroundLoad) -> None:
    bad = [a for a in load.answers if a.status is None or (a.status >= 500 and a.status != 503)]
    assert not bad, bad[:5]
    outage = {a.problem_type for a in load.answers if a.status == 503}
    assert all(t.endswith(("database-unavailable", "storage-unavailable")) for t in outage), outage


def evidence_ids(server: ServerProcess, token: str, case_id: str) -> set[str]:
    with server.client(token) as http:
        return {item["id"] for item in case_evidence(http, case_id)}


def send_half_an_upload(
    server: ServerProcess, token: str, case_id: str, data: bytes
) -> socket.socket:
    """A multipart upload whose client sends half of the file and waits, so that the server
    is holding (and storing) a partial original when it dies."""
    boundary = "casefile-cut-upload"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    request = (
        f"POST /api/v1/cases/{case_id}/evidence HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + len(data) + len(tail)}\r\n\r\n"
    ).encode()
    return server.send_and_hold(request + head + data[: len(data) // 2])


def send_half_a_patch(
    server: ServerProcess, token: str, path: str, rest: bytes, offset: int
) -> socket.socket:
    request = (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {offset}\r\nContent-Length: {len(rest)}\r\n\r\n"
    ).encode()
    return server.send_and_hold(request + rest[: len(rest) // 2])
