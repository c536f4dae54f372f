"""Uploaded file names: kept for the record, but never trusted as a path or a header value."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote

MAX_FILENAME_BYTES = 255
FALLBACK = "upload"
_RFC5987 = re.compile(r"filename\*\s*=\s*([A-Za-z0-9_\-]+)'[^']*'([^;\s]+)", re.IGNORECASE)


def safe_filename(raw: str | None) -> str:
    """The last path component, without control or formatting characters (NUL, bidi
    overrides that disguise extensions), without leading dots, at most 255 UTF-8 bytes."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if not name or set(name) <= {"."}:
        return FALLBACK
    return _truncate(name)


def _truncate(name: str) -> str:
    if len(name.encode()) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, extension = name, ""
    budget = MAX_FILENAME_BYTES - len(extension.encode()) - (1 if extension else 0)
    cut = stem.encode()[:budget].decode(errors="ignore")
    return f"{cut}.{extension}" if extension else cut


def printable_media_type(declared: str) -> bool:
    """A client's declared media type is kept for the record only (the served type is sniffed);
    media types are ASCII tokens (RFC 6838), so NUL, CR/LF or escapes in one are refused."""
    return declared.isascii() and declared.isprintable()


def filename_from_disposition(header: str, plain: bytes | None) -> str | None:
    """RFC 5987 `filename*` wins over `filename` (which browsers send as raw UTF-8)."""
    encoded = _RFC5987.search(header)
    if encoded:
        charset, value = encoded.groups()
        try:
            return unquote(value, encoding=charset, errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass
    if plain is None:
        return None
    try:
        return plain.decode()
    except UnicodeDecodeError:
        return plain.decode("latin-1")


def content_disposition(filename: str) -> str:
    """An attachment header that no file name can break: an ASCII fallback, and RFC 5987."""
    ascii_name = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\;%' else "_" for ch in filename
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
