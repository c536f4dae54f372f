"""Opening a witness's sealed identity: the one place that knows how it is bound to its row."""

from __future__ import annotations

import json
import uuid
from typing import Any

from app.models.witness import Witness
from app.witnesses.crypto import IdentityKeyring


def identity_context(witness_id: uuid.UUID) -> str:
    """Authenticated with the ciphertext: a sealed identity copied onto another row does not
    open there."""
    return f"casefile-witness-identity-v1:{witness_id}"


def open_identity(
    keyring: IdentityKeyring, witness_id: uuid.UUID, key_id: str, ciphertext: bytes
) -> dict[str, Any]:
    plaintext = keyring.open(key_id, ciphertext, identity_context(witness_id))
    identity: dict[str, Any] = json.loads(plaintext)
    return identity


def read_identity(witness: Witness, keyring: IdentityKeyring) -> dict[str, Any]:
    return open_identity(keyring, witness.id, witness.identity_key_id, witness.identity_ciphertext)
