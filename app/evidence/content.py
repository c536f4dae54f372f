"""Serving an original: byte ranges (RFC 9110 §14) and the headers that describe it."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from app.errors import AppError

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(AppError):
    status, slug, title = 416, "range-not-satisfiable", "Range not satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(
            f"The requested range is outside the {size} bytes of this file.",
            headers={"Content-Range": f"bytes */{size}"},
        )


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int, if_range: str | None, etag: str) -> ByteRange | None:
    """The single range to send, or None for the whole file. Multiple ranges, and ranges made
    stale by If-Range, are answered with the whole file (RFC 9110 allows ignoring Range)."""
    if not header:
        return None
    if if_range is not None and if_range.strip() != etag:
        return None
    spec = header.strip()
    if "," in spec:
        return None
    match = _RANGE.fullmatch(spec.replace(" ", ""))
    if match is None:
        return None  # not a byte range we understand: ignore it, as RFC 9110 says
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - count), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or (last and end < start):
        raise RangeNotSatisfiable(size)
    return ByteRange(start, min(end, size - 1))


def repr_digest(sha256_hex: str) -> str:
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"


def strong_etag(sha256_hex: str) -> str:
    return f'"{sha256_hex}"'
