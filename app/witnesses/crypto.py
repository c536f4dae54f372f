"""Encryption of witness identities at rest: AES-256-GCM, a key id beside every ciphertext.

The key file (`CASEFILE_IDENTITY_KEY_FILE`, created on first start, mode 0600) holds a keyring:
`{"current": "<key id>", "keys": {"<key id>": "<base64 32 bytes>", …}}`. New ciphertexts use the
current key; older keys stay so that rows not yet re-encrypted (and old backups) remain
readable. `casefile keys rotate-identity` adds a key and re-encrypts every identity with it.
A database dump or backup without this file reveals no witness.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import threading
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class IdentityKeyError(Exception):
    """The key file is unusable, or a ciphertext's key is missing or does not open it."""


class IdentityKeyring:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.current_key_id = ""
        self._keys: dict[str, AESGCM] = {}
        self._loaded_stamp: tuple[int, int] | None = None
        if not path.exists():
            _write_new_keyring(path)
        self._load()

    def seal(self, plaintext: bytes, context: str) -> tuple[str, bytes]:
        """Encrypt with the current key; `context` (e.g. the witness id) is authenticated, so
        a ciphertext copied onto another row does not open there. The file is re-read if it
        changed, so that a server running during a rotation seals with the new key at once."""
        self._reload_if_changed()
        key_id = self.current_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[key_id].encrypt(nonce, plaintext, context.encode())
        return key_id, nonce + sealed

    def open(self, key_id: str, blob: bytes, context: str) -> bytes:
        key = self._key(key_id)
        try:
            return key.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise IdentityKeyError("a protected record does not decrypt: altered or moved") from exc

    def rotate(self) -> str:
        """Add a new current key to the file (keeping the old ones); return its id."""
        with self._lock:
            document = json.loads(self.path.read_text())
            raw = AESGCM.generate_key(bit_length=256)
            key_id = _key_id(raw)
            document["keys"][key_id] = base64.b64encode(raw).decode()
            document["current"] = key_id
            _write_atomically(self.path, json.dumps(document, indent=2).encode())
        self._load()
        return key_id

    def _key(self, key_id: str) -> AESGCM:
        key = self._keys.get(key_id)
        if key is None:
            self._load()  # another process may have rotated the keyring since we read it
            key = self._keys.get(key_id)
        if key is None:
            raise IdentityKeyError(f"identity key {key_id} is not in {self.path}")
        return key

    def _reload_if_changed(self) -> None:
        try:
            if _stamp(self.path) != self._loaded_stamp:
                self._load()
        except OSError as exc:
            raise IdentityKeyError(f"{self.path} cannot be read: {exc.strerror}") from exc

    def _load(self) -> None:
        try:
            stamp = _stamp(self.path)
            document = json.loads(self.path.read_text())
            keys = _parse_keys(document)
            current = document["current"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IdentityKeyError(f"{self.path} is not a Casefile identity keyring") from exc
        if not isinstance(current, str) or current not in keys:
            raise IdentityKeyError(f"{self.path}: the current key is missing")
        with self._lock:
            self._keys, self.current_key_id, self._loaded_stamp = keys, current, stamp


def _stamp(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_mtime_ns, status.st_size


def _parse_keys(document: object) -> dict[str, AESGCM]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), dict):
        raise ValueError("not a keyring")
    keys = {}
    for key_id, raw in document["keys"].items():
        secret = base64.b64decode(raw, validate=True)
        if len(secret) != 32:
            raise ValueError("identity keys are 256 bits")
        keys[str(key_id)] = AESGCM(secret)
    return keys


def _key_id(raw: bytes) -> str:
    return "aes256gcm:" + hashlib.sha256(b"casefile-identity-key-id" + raw).hexdigest()[:16]


def _write_new_keyring(path: Path) -> None:
    raw = AESGCM.generate_key(bit_length=256)
    document = {"current": _key_id(raw), "keys": {_key_id(raw): base64.b64encode(raw).decode()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _private_temp(path, json.dumps(document, indent=2).encode())
    try:
        os.link(temp, path)  # no-overwrite: if another process created one first, use theirs
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _write_atomically(path: Path, content: bytes) -> None:
    temp = _private_temp(path, content)
    os.replace(temp, path)


def _private_temp(path: Path, content: bytes) -> Path:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    return temp
