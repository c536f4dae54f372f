"""What investigators and lawyers do to a deployment, as plain HTTP calls, and the checks that
prove afterwards that nothing was lost, duplicated or half-made."""

from __future__ import annotations

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


def upload(http: httpx.Client, case_id: str, data: bytes, filename: str) -> httpx.Response:
    return http.post(
        f"/api/v1/cases/{case_id}/evidence",
        files={"file": (filename, data, "image/jpeg")},
        data={"kind": "photo", "title": filename},
    )


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
