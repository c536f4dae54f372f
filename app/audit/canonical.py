"""The byte-exact forms that are hashed and signed (docs/audit-format.md describes them).

Pure functions, no database and no server imports: the offline bundle verifier uses them too.

An event's hash binds its position in its chain, the resource it is about, and its body:

    SHA-256( "casefile-audit-v1\\n" chain "\\n" seq "\\n" prev_hash "\\n"
             resource_type "\\n" resource_id "\\n" body )

where `body` is the RFC 8785 (JCS) canonical JSON of the event's content. The fields before the
body are plain ASCII (validated here), so no field can smuggle in a line break.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

EVENT_PREFIX = b"casefile-audit-v1\n"
CHECKPOINT_CONTEXT = "casefile-audit-checkpoint-v1"
GENESIS_HASH = "0" * 64
SYSTEM_CHAIN = "system"

_CHAIN = re.compile(
    r"system|(?:case|protection):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
_TOKEN = re.compile(r"[a-z0-9_.:\-]{1,100}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def case_chain(case_id: object) -> str:
    return f"case:{case_id}"


def protection_chain(case_id: object) -> str:
    """The case's protected-match events: read only by those who may identify its witnesses
    (app/protection; a member who may not reads the case's own chain)."""
    return f"protection:{case_id}"


def timestamp(moment: datetime) -> str:
    """Event and checkpoint times: UTC, microseconds, 'Z' (what PostgreSQL keeps exactly)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(
    *,
    at: str,
    actor_id: str | None,
    action: str,
    case_id: str | None,
    request_id: str | None,
    client_address: str | None,
    payload: Mapping[str, Any],
) -> bytes:
    return rfc8785.dumps(
        {
            "at": at,
            "actor_id": actor_id,
            "action": action,
            "case_id": case_id,
            "request_id": request_id,
            "client_address": client_address,
            "payload": dict(payload),
        }
    )


def event_hash(
    *,
    chain: str,
    seq: int,
    prev_hash: str,
    resource_type: str,
    resource_id: str,
    body: bytes,
) -> str:
    if not _CHAIN.fullmatch(chain):
        raise ValueError(f"invalid chain id {chain!r}")
    if not (_TOKEN.fullmatch(resource_type) and _TOKEN.fullmatch(resource_id)):
        raise ValueError("resource type and id must be short lowercase tokens")
    if not _HEX64.fullmatch(prev_hash) or seq < 1:
        raise ValueError("invalid chain position")
    return event_hash_of_checked_fields(chain, seq, prev_hash, resource_type, resource_id, body)


def event_hash_of_checked_fields(
    chain: str, seq: int, prev_hash: str, resource_type: str, resource_id: str, body: bytes
) -> str:
    """The hash alone, for callers that have already ruled out line breaks in the fields
    (the verifier, a million times over)."""
    head = f"{chain}\n{seq}\n{prev_hash}\n{resource_type}\n{resource_id}\n".encode()
    return hashlib.sha256(EVENT_PREFIX + head + body).hexdigest()


def valid_chain(chain: str) -> bool:
    return _CHAIN.fullmatch(chain) is not None


def checkpoint_message(
    *, chain: str, length: int, head_hash: str, signed_at: str, key_id: str
) -> bytes:
    """What a checkpoint signature covers: the chain head, when, and by which key."""
    return rfc8785.dumps(
        {
            "context": CHECKPOINT_CONTEXT,
            "chain": chain,
            "length": length,
            "head_hash": head_hash,
            "signed_at": signed_at,
            "key_id": key_id,
        }
    )
