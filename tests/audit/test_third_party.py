"""A third party can check every event from the API's JSON alone, with hashlib and rfc8785,
as docs/audit-format.md describes; and a checkpoint with the published public key."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import rfc8785
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient

from tests.fixtures.api import MARTUNI, Actor

BODY_FIELDS = ("at", "actor_id", "action", "case_id", "request_id", "client_address", "payload")


def test_events_and_checkpoints_verify_from_the_api_alone(client: TestClient, admin: Actor) -> None:
    case = client.post(
        "/api/v1/cases", json={**MARTUNI, "summary": "Ünïcödé — Մարտունի"}, headers=admin.headers
    )
    case_id = case.json()["id"]
    patch = client.patch(
        f"/api/v1/cases/{case_id}",
        json={"location": {"lat": 39.8}, "casualties": {"injured": 2}},
        headers={**admin.headers, "If-Match": '"1"'},
    )
    assert patch.status_code == 200
    listing = client.get(f"/api/v1/cases/{case_id}/audit", headers=admin.headers).json()
    previous = "0" * 64
    for event in listing["items"]:
        body = rfc8785.dumps({field: event[field] for field in BODY_FIELDS})
        preimage = (
            b"casefile-audit-v1\n"
            + f"{event['chain']}\n{event['seq']}\n{event['prev_hash']}\n".encode()
            + f"{event['resource_type']}\n{event['resource_id']}\n".encode()
            + body
        )
        assert hashlib.sha256(preimage).hexdigest() == event["hash"]
        assert event["prev_hash"] == previous
        previous = event["hash"]

    checkpoint = listing["checkpoints"][0]
    keys = client.get("/api/v1/signing-keys", headers=admin.headers).json()["items"]
    pem = next(k["public_key_pem"] for k in keys if k["key_id"] == checkpoint["key_id"])
    message = rfc8785.dumps(
        {
            "context": "casefile-audit-checkpoint-v1",
            "chain": checkpoint["chain"],
            "length": checkpoint["length"],
            "head_hash": checkpoint["head_hash"],
            "signed_at": checkpoint["signed_at"],
            "key_id": checkpoint["key_id"],
        }
    )
    public_key = load_pem_public_key(pem.encode())
    public_key.verify(base64.b64decode(checkpoint["signature"]), message)  # type: ignore[union-attr, call-arg]


def test_checkpoint_signature_verifies_with_real_openssl(
    client: TestClient, admin: Actor, tmp_path: Path
) -> None:
    """The docs' openssl recipe, run for real: a court's expert needs no code of ours."""
    case_id = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()["id"]
    checkpoint = client.get(f"/api/v1/cases/{case_id}/audit", headers=admin.headers).json()[
        "latest_checkpoint"
    ]
    pem = client.get("/api/v1/signing-keys", headers=admin.headers).json()["items"][0]
    (tmp_path / "public.pem").write_text(pem["public_key_pem"])
    message = rfc8785.dumps(
        {
            "context": "casefile-audit-checkpoint-v1",
            **{k: checkpoint[k] for k in ("chain", "length", "head_hash", "signed_at", "key_id")},
        }
    )
    (tmp_path / "message.json").write_bytes(message)
    (tmp_path / "signature.bin").write_bytes(base64.b64decode(checkpoint["signature"]))
    command = [
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public.pem",
        "-rawin", "-in", "message.json", "-sigfile", "signature.bin",
    ]  # fmt: skip
    good = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr
    assert "Signature Verified Successfully" in good.stdout
    (tmp_path / "message.json").write_bytes(message.replace(b'"length":1', b'"length":2'))
    bad = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert bad.returncode != 0
