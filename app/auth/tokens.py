"""API token secrets: random, recognisable by prefix, stored only as a SHA-256 digest.

A plain hash (not a slow KDF) is right here: the secret has 256 bits of entropy, so it cannot be
guessed from its digest, and lookups by digest stay a single indexed query.
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_PREFIX = "cf_"  # noqa: S105 - a public marker that lets secret scanners spot leaks
_TOKEN_SHAPE = re.compile(r"cf_[A-Za-z0-9_\-]{43}")


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def looks_like_token(candidate: str) -> bool:
    return _TOKEN_SHAPE.fullmatch(candidate) is not None


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
