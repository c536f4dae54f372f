"""Text folding shared by the search queries and SQLite's `casefile_fold` SQL function."""

from __future__ import annotations

import unicodedata


def fold(value: str | None) -> str | None:
    """Case-insensitive comparison form: NFC, Unicode case folding, and 'İ' folded to a plain
    'i' (as PostgreSQL does) rather than to 'i' plus a combining dot."""
    if value is None:
        return None
    return unicodedata.normalize("NFC", value).casefold().replace("i\u0307", "i")
