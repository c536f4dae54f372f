"""The hashed and signed byte forms are stable: a fixed event gives a fixed, checked-in hash.

If one of these tests fails, every audit trail ever written would stop verifying: change the
format only with a new version prefix, never in place.
"""

from __future__ import annotations

import hashlib

import pytest

from app.audit import canonical
from app.audit.signing import load_or_create_signer, verify_signature

CASE = "6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b"
FIXED_EVENT = {
    "at": "2020-12-02T10:00:00.000000Z",
    "actor_id": "0b7c5a7e-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
    "action": "case.updated",
    "case_id": CASE,
    "request_id": "req-1",
    "client_address": "203.0.113.7",
    "payload": {
        "version": 2,
        "changes": {
            "status": {"from": "open", "to": "under_review"},
            "location.lat": {"from": 39.7946, "to": 39.8},
        },
        "note": "Մարտունի",
    },
}
# RFC 8785: keys sorted by UTF-16 code units, no whitespace, UTF-8, shortest number forms.
FIXED_BODY = (
    '{"action":"case.updated","actor_id":"0b7c5a7e-1d2f-4e3a-9b8c-7d6e5f4a3b2c",'
    '"at":"2020-12-02T10:00:00.000000Z","case_id":"6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b",'
    '"client_address":"203.0.113.7","payload":{"changes":{"location.lat":{"from":39.7946,'
    '"to":39.8},"status":{"from":"open","to":"under_review"}},"note":"Մարտունի","version":2},'
    '"request_id":"req-1"}'
).encode()
FIXED_HASH = "4f152c2b4d95d184cdb4bd22dfc389d18028411f1f9e8fea3b41150ca8d08d94"


def test_fixed_event_body_is_byte_exact() -> None:
    assert canonical.event_body(**FIXED_EVENT) == FIXED_BODY  # type: ignore[arg-type]


def test_fixed_event_hash_is_stable() -> None:
    digest = canonical.event_hash(
        chain=f"case:{CASE}",
        seq=2,
        prev_hash="a" * 64,
        resource_type="case",
        resource_id=CASE,
        body=FIXED_BODY,
    )
    assert digest == FIXED_HASH


def test_hash_is_reproducible_without_casefile_code() -> None:
    """What docs/audit-format.md tells a third party to compute, done with hashlib alone."""
    preimage = (
        b"casefile-audit-v1\n" + f"case:{CASE}\n2\n{'a' * 64}\ncase\n{CASE}\n".encode() + FIXED_BODY
    )
    assert hashlib.sha256(preimage).hexdigest() == FIXED_HASH


def test_checkpoint_message_is_byte_exact() -> None:
    message = canonical.checkpoint_message(
        chain="system",
        length=500,
        head_hash="b" * 64,
        signed_at="2026-11-26T10:00:00.000000Z",
        key_id="ed25519:0123456789abcdef",
    )
    assert message == (
        b'{"chain":"system","context":"casefile-audit-checkpoint-v1","head_hash":"'
        + b"b" * 64
        + b'","key_id":"ed25519:0123456789abcdef","length":500,'
        b'"signed_at":"2026-11-26T10:00:00.000000Z"}'
    )


@pytest.mark.parametrize(
    "position",
    [
        {"chain": "case:not-a-uuid"},
        {"chain": "system\ncase"},
        {"seq": 0},
        {"prev_hash": "A" * 64},
        {"prev_hash": "a" * 63},
        {"resource_type": "Case"},
        {"resource_id": "x\ny"},
        {"resource_id": ""},
    ],
)
def test_malformed_positions_cannot_be_hashed(position: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "chain": "system",
        "seq": 1,
        "prev_hash": canonical.GENESIS_HASH,
        "resource_type": "user",
        "resource_id": CASE,
        "body": b"{}",
        **position,
    }
    with pytest.raises(ValueError):  # noqa: PT011 - each of these is simply refused
        canonical.event_hash(**arguments)  # type: ignore[arg-type]


def test_any_change_changes_the_hash() -> None:
    base = {
        "chain": f"case:{CASE}",
        "seq": 2,
        "prev_hash": "a" * 64,
        "resource_type": "case",
        "resource_id": CASE,
        "body": FIXED_BODY,
    }
    variants = [
        {"seq": 3},
        {"prev_hash": "b" * 64},
        {"resource_type": "member"},
        {"resource_id": CASE.replace("6", "7")},
        {"body": FIXED_BODY.replace(b"39.8", b"39.9")},
        {"chain": "system"},
    ]
    hashes = {canonical.event_hash(**{**base, **v}) for v in variants}  # type: ignore[arg-type]
    assert FIXED_HASH not in hashes
    assert len(hashes) == len(variants)


def test_signing_key_is_created_once_and_signs(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "keys" / "signing-key.pem"
    first = load_or_create_signer(path)
    second = load_or_create_signer(path)
    assert first.key_id == second.key_id
    assert first.key_id.startswith("ed25519:")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    message = b"casefile"
    signature = first.sign(message)
    assert verify_signature(first.public_pem, message, signature)
    assert not verify_signature(first.public_pem, b"casefilf", signature)
    assert not verify_signature(first.public_pem, message, "not base64!")
