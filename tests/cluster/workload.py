"""What investigators and lawyers do to a deployment, as plain HTTP calls, and the checks that
prove afterwards that nothing was lost, duplicated or half-made."""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx

from app.bundles.verify import verify_bundle
from tests.cluster.harness import Deployment

GANJA = {
    "title": "Ballistic missile strike on Ganja",
    "occurred_at": "2020-10-17T01:00:00Z",
    "summary": "A ballistic missile strike on a residential area killed 21 civilians.",
    "weapon": "Ballistic missile",
    "location": {"name": "Ganja", "country": "Azerbaijan", "lat": 40.6828, "lon": 46.3606},
    "casualties": {"killed": 21, "injured": 0},
}
TUS = {"Tus-Resumable": "1.0.0"}


def photo_bytes(label: str, size: int) -> bytes:
    """Content no other upload has (a JPEG start, so it is sniffed as the photo it claims)."""
    seed = f"{label}:{uuid.uuid4()}".encode()
    out = bytearray(b"\xff\xd8\xff\xe0")
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed * 64
    return bytes(out[:size])


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def create_case(http: httpx.Client, **changes: Any) -> str:
    answer = http.post("/api/v1/cases", json={**GANJA, **changes})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def register_witness(http: httpx.Client, case_id: str, full_name: str) -> str:
    answer = http.post(f"/api/v1/cases/{case_id}/witnesses", json={"full_name": full_name})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def open_case(http: httpx.Client, witness_via: httpx.Client | None = None) -> tuple[str, str]:
    """The Ganja case and a witness in it (registered through `witness_via` if given): ids."""
    case_id = create_case(http)
    return case_id, register_witness(witness_via or http, case_id, "Ramiz Gahramanov")


def upload(http: httpx.Client, case_id: str, data: bytes, filename: str) -> httpx.Response:
    return http.post(
        f"/api/v1/cases/{case_id}/evidence",
        files={"file": (filename, data, "image/jpeg")},
        data={"kind": "photo", "title": filename},
    )


def store_original(http: httpx.Client, case_id: str, data: bytes, filename: str) -> dict[str, str]:
    """An upload that must be accepted: {evidence id: sha256}, as the checks below take it."""
    answer = upload(http, case_id, data, filename)
    assert answer.status_code == 201, answer.text
    return {answer.json()["id"]: sha256_hex(data)}


def start_tus(http: httpx.Client, case_id: str, length: int) -> str:
    """A resumable upload of `length` bytes, created: its path."""
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("case_id", case_id), ("filename", "resumed.jpg"), ("kind", "photo"))
    )
    answer = http.post(
        "/api/v1/uploads",
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata},
    )
    assert answer.status_code == 201, answer.text
    location = answer.headers["Location"]
    return location[location.index("/api/") :]


def tus_patch_headers(offset: int) -> dict[str, str]:
    return {
        **TUS,
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
    }


def add_testimony(
    http: httpx.Client, case_id: str, witness_id: str, statement: str, key: str
) -> httpx.Response:
    return http.post(
        f"/api/v1/cases/{case_id}/testimonies",
        json={
            "witness_id": witness_id,
            "recorded_at": "2020-12-02T10:00:00Z",
            "statement": statement,
        },
        headers={"Idempotency-Key": key},
    )


def count_one_more_injured(http: httpx.Client, case_id: str) -> int:
    """Read-modify-write with If-Match, retried on 412 as a careful client does: a lost update
    would show as a final count below the number of increments. Returns the 412s seen."""
    conflicts = 0
    while True:
        case = http.get(f"/api/v1/cases/{case_id}")
        assert case.status_code == 200, case.text
        injured = case.json()["casualties"]["injured"] or 0
        answer = http.patch(
            f"/api/v1/cases/{case_id}",
            json={"casualties": {"injured": injured + 1}},
            headers={"If-Match": case.headers["ETag"]},
        )
        if answer.status_code == 200:
            return conflicts
        assert answer.status_code == 412, answer.text
        conflicts += 1


def export_bundle(http: httpx.Client, case_id: str, path: Path) -> Path:
    """Download the bundle and check it offline, as a court's expert would."""
    with http.stream("GET", f"/api/v1/cases/{case_id}/bundle") as answer:
        assert answer.status_code == 200, answer.read()
        with path.open("wb") as out:
            for chunk in answer.iter_bytes():
                out.write(chunk)
    report = verify_bundle(path)
    assert report.ok, report.problems
    return path


def all_pages(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        answer = http.get(path, params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def case_events(http: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    return all_pages(http, f"/api/v1/cases/{case_id}/audit")


def case_evidence(http: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    return all_pages(http, f"/api/v1/cases/{case_id}/evidence")


def assert_operator_checks_clean(deployment: Deployment) -> None:
    """The operator's three whole-deployment checks, run as the operator runs them."""
    for command in (("audit", "verify"), ("storage", "verify"), ("storage", "reconcile")):
        result = deployment.casefile(*command)
        assert result.returncode == 0, f"casefile {' '.join(command)}: {result.stderr}"


def assert_originals_intact(http: httpx.Client, expected: dict[str, str]) -> None:
    """Every committed original is still there, byte for byte (evidence id → sha256)."""
    for evidence_id, digest in expected.items():
        answer = http.get(f"/api/v1/evidence/{evidence_id}/content")
        assert answer.status_code == 200, answer.text
        assert sha256_hex(answer.content) == digest, evidence_id


def assert_nothing_lost(
    deployment: Deployment, http: httpx.Client, originals: dict[str, str]
) -> None:
    """Every committed original intact (through `http`), and the operator's checks clean."""
    assert_originals_intact(http, originals)
    assert_operator_checks_clean(deployment)
