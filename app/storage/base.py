"""The object store interface shared by the local-filesystem and S3 implementations.

Contract, checked by one test suite against both implementations:
- writes stream through a writer and become visible under their key only on `commit()`;
  a writer that fails or is abandoned leaves nothing under the key (at most a temp object
  that `purge_incomplete` removes);
- a committed key is never overwritten (evidence is immutable): committing to a taken key fails;
- reads stream in bounded chunks, optionally a byte range, never loading a whole object;
- resumable uploads (tus) append to a temp object across requests and processes, their state
  being a small JSON-able dict the caller keeps (in the database) between appends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

READ_CHUNK_BYTES = 1024 * 1024

_SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9._\-]{0,127}")


class ObjectMissing(Exception):
    """No committed object under this key."""


class ObjectExists(Exception):
    """A committed object already holds this key; it is never replaced."""


class RangeNotSatisfiable(ValueError):
    """A read that starts at or beyond the end of a non-empty object."""


class StorageMisconfigured(Exception):
    """The store can never work as configured (missing bucket, denied access, bad path)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    # On a versioned S3 bucket, the version written: reads by version id are immune to a later
    # delete marker or overwrite of the key.
    version_id: str | None = None


ResumableState = dict[str, Any]


def validate_key(key: str) -> str:
    """Keys are slash-separated safe segments: no traversal, no hidden names, no surprises."""
    segments = key.split("/")
    if len(key) > 512 or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(f"invalid object key {key!r}")
    return key


def validate_range(start: int, length: int | None) -> None:
    if start < 0 or (length is not None and length < 0):
        raise ValueError("range start and length must not be negative")


# What writers take: a memoryview lets a request body's chunks pass through uncopied.
Bytes = bytes | bytearray | memoryview


class ObjectWriter(Protocol):
    def write(self, data: Bytes) -> None: ...

    def commit(self) -> StoredObject:
        """Make the object visible under its key, durably. Fails with ObjectExists if taken."""
        ...

    def abort(self) -> None:
        """Discard everything written; safe to call more than once."""
        ...

    def __enter__(self) -> ObjectWriter: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ResumableAppender(Protocol):
    def write(self, data: Bytes) -> None: ...

    def finish(self) -> tuple[ResumableState, int]:
        """Make the appended bytes durable; return the new state and the new offset."""
        ...

    def abort(self) -> None: ...


class ObjectStore(Protocol):
    description: str

    def check(self) -> None:
        """Raise StorageMisconfigured or StorageUnavailable unless reads and writes can work."""
        ...

    def writer(self, key: str) -> ObjectWriter: ...

    def read(
        self,
        key: str,
        start: int = 0,
        length: int | None = None,
        *,
        version_id: str | None = None,
        transport_check: bool = True,
    ) -> Iterator[bytes]:
        """Stream the bytes [start, start+length) of a committed object. A caller that checks
        the bytes itself against their SHA-256 may skip the store's own transport checksum
        (`transport_check=False`: S3's CRC of the response, which costs CPU on every chunk)."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str, *, version_id: str | None = None) -> int: ...

    def retain(self, stored: StoredObject, until: datetime) -> None:
        """Make the object undeletable and unchangeable until `until` (S3 Object Lock,
        compliance mode). The local store has nothing stronger than read-only files."""
        ...

    def discard(self, stored: StoredObject) -> None:
        """Remove an object that no evidence refers to (a duplicate, or one whose database
        row could not be written). Never called for evidence."""
        ...

    def keys(self, prefix: str) -> Iterator[str]:
        """Every committed key under `prefix` (for reconciliation with the database)."""
        ...

    def start_resumable(self, key: str) -> ResumableState: ...

    def resumable_appender(self, state: ResumableState, offset: int) -> ResumableAppender:
        """Append at `offset` (the bytes held so far). Until the caller records the state that
        `finish()` returns, the old one remains valid: a failed append is as if never made."""
        ...

    def release_resumable(self, old: ResumableState, new: ResumableState) -> None:
        """After the caller recorded `new`: drop what only `old` needed."""
        ...

    def finish_resumable(self, state: ResumableState) -> StoredObject:
        """Place the whole upload under its key, atomically, like a writer's commit."""
        ...

    def abort_resumable(self, state: ResumableState) -> None: ...

    def purge_incomplete(self, older_than: timedelta) -> int:
        """Remove temp objects of writers abandoned longer ago than `older_than`; return count."""
        ...

    def close(self) -> None: ...


class WriterBase:
    """Context-manager behaviour shared by the writers: abort unless committed."""

    committed = False

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            self.abort()


def put_chunks(store: ObjectStore, key: str, chunks: Iterable[bytes]) -> StoredObject:
    """Write an iterable of chunks as one object (convenience over `writer`)."""
    with store.writer(key) as writer:
        for chunk in chunks:
            writer.write(chunk)
        return writer.commit()
