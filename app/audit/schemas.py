"""Response bodies for the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from app.kit.pagination import Page
from app.kit.schemas import ReadSchema

_EXAMPLE_EVENT: dict[str, Any] = {
    "chain": "case:6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b",
    "seq": 2,
    "prev_hash": "3f7a…",
    "hash": "9c41…",
    "at": "2020-12-01T09:31:12.004512Z",
    "actor_id": "0b7c5a7e-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
    "action": "case.updated",
    "resource_type": "case",
    "resource_id": "6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b",
    "case_id": "6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b",
    "request_id": "4f0c6a1e9b2d4c8e8a7f3b6d5e2c1a90",
    "client_address": "203.0.113.7",
    "payload": {"version": 2, "changes": {"status": {"from": "open", "to": "under_review"}}},
}


class AuditTextRead(ReadSchema):
    """A text an event refers to (`{"$text": ref}` in its payload), as the caller may see it."""

    text: str = Field(description="The text, or as shown: protected strings `[withheld]`.")
    salt: str | None = Field(
        description="Hex; with a text shown as written: sha256(salt bytes ‖ UTF-8 text) = ref."
    )
    withheld: bool = Field(description="Something of the text is withheld from the caller.")


class AuditEventRead(ReadSchema):
    """One event with its hash-chain link; docs/audit-format.md says how to recompute `hash`."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_EVENT]})

    chain: str
    seq: int
    prev_hash: str
    hash: str
    at: str = Field(description="UTC time exactly as hashed (microseconds, Z).")
    actor_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: str
    case_id: uuid.UUID | None
    request_id: str | None
    client_address: str | None
    payload: dict[str, Any] = Field(
        description="As stored (its hash can be recomputed), unless `payload_redacted`."
    )
    payload_redacted: bool = Field(
        default=False,
        description="An event from before text references held a protected string inline, "
        "shown here as `[withheld]`: its hash cannot be recomputed from this payload.",
    )
    texts: dict[str, AuditTextRead] = Field(
        default_factory=dict, description="The texts the payload refers to, by ref."
    )


class CheckpointRead(ReadSchema):
    """A signed chain head: Ed25519 over the canonical checkpoint message."""

    chain: str
    length: int
    head_hash: str
    signed_at: str = Field(description="Exactly as signed (UTC, microseconds, Z).")
    key_id: str
    algorithm: str = "ed25519"
    signature: str = Field(description="Base64 Ed25519 signature.")


class ChainHeadRead(ReadSchema):
    chain: str
    length: int
    head_hash: str


class AuditPage(Page[AuditEventRead]):
    chain_head: ChainHeadRead | None
    checkpoints: list[CheckpointRead] = Field(
        description="Checkpoints signed at a position within this page."
    )
    latest_checkpoint: CheckpointRead | None


class SigningKeyRead(ReadSchema):
    key_id: str
    algorithm: str
    public_key_pem: str
    created_at: datetime
    current: bool = Field(description="The key this server signs with now.")


class SigningKeyList(ReadSchema):
    items: list[SigningKeyRead]


class VerificationProblem(ReadSchema):
    chain: str
    seq: int | None
    kind: str
    expected: str | None
    found: str | None
    description: str


class VerificationReport(ReadSchema):
    ok: bool
    chains: int
    events: int
    checkpoints: int
    broken_chains: int
    first_problem: VerificationProblem | None
    problems: list[VerificationProblem]
    keys_used: list[str]
