"""The bundle's own files, rendered once into an unlinked temporary file and read back while
the ZIP streams: memory stays bounded however many testimonies or events a case has."""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from app.storage.base import READ_CHUNK_BYTES


@dataclass(frozen=True)
class SpoolEntry:
    offset: int
    size: int
    sha256: str
    crc32: int


class Spool:
    """An unlinked temporary file of rendered files, read back by offset (thread-safe)."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile(prefix="casefile-bundle-")
        self.end = 0

    def add(self, pieces: Iterable[bytes]) -> SpoolEntry:
        start, digest, crc = self.end, hashlib.sha256(), 0
        for piece in pieces:
            self.file.write(piece)
            digest.update(piece)
            crc = zlib.crc32(piece, crc)
            self.end += len(piece)
        self.file.flush()
        return SpoolEntry(start, self.end - start, digest.hexdigest(), crc)

    def read(self, entry: SpoolEntry) -> Iterator[bytes]:
        position, left = entry.offset, entry.size
        while left > 0:
            chunk = os.pread(self.file.fileno(), min(READ_CHUNK_BYTES, left), position)
            if not chunk:
                raise OSError("bundle spool ended early")
            position += len(chunk)
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.file.close()
