"""Object store on the local filesystem: the zero-setup default for a single machine.

Each write goes to a private temp file under `.incoming/`, is fsynced, then hard-linked to its
final path (an atomic, no-overwrite placement), and the directory is fsynced so the new name
survives a power cut.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from app.errors import StorageUnavailable
from app.storage.base import (
    READ_CHUNK_BYTES,
    Bytes,
    ObjectExists,
    ObjectMissing,
    RangeNotSatisfiable,
    ResumableState,
    StorageMisconfigured,
    StoredObject,
    WriterBase,
    validate_key,
    validate_range,
)

_INCOMING = ".incoming"


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.incoming = self.root / _INCOMING
        self.description = f"local directory {self.root}"
        try:
            self.incoming.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageMisconfigured(f"cannot create {self.incoming}: {exc.strerror}") from exc

    def check(self) -> None:
        probe = self.incoming / f"probe-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageUnavailable(f"object directory not writable: {exc.strerror}") from exc

    def writer(self, key: str) -> LocalObjectWriter:
        final = self._path(key)
        temp = self.incoming / f"{uuid.uuid4().hex}.part"
        with _disk_full_is_unavailability():
            return LocalObjectWriter(key=key, root=self.root, temp=temp, final=final)

    def read(
        self,
        key: str,
        start: int = 0,
        length: int | None = None,
        *,
        version_id: str | None = None,
        transport_check: bool = True,  # nothing crosses a network here
    ) -> Iterator[bytes]:
        validate_range(start, length)
        handle = self._open(key)
        return _read_range(handle, start, length)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str, *, version_id: str | None = None) -> int:
        path = self._path(key)
        if not path.is_file():  # a directory is a key prefix, not an object
            raise ObjectMissing(key)
        return path.stat().st_size

    def retain(self, stored: StoredObject, until: datetime) -> None:
        """Files are already read-only (0440); a filesystem offers no compliance lock."""

    def discard(self, stored: StoredObject) -> None:
        path = self._path(stored.key)
        with contextlib.suppress(FileNotFoundError):
            path.chmod(0o640)
            path.unlink()

    def keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(self.root)
            if path.is_file() and relative.parts[0] != _INCOMING:
                yield relative.as_posix()

    # -- resumable uploads: one temp file, appended in place ----------------------------------
    def start_resumable(self, key: str) -> ResumableState:
        self._path(key)  # validates
        temp = self.incoming / f"tus-{uuid.uuid4().hex}.part"
        with _disk_full_is_unavailability():
            temp.touch(mode=0o600, exist_ok=False)
        return {"key": key, "temp": temp.name}

    def resumable_appender(self, state: ResumableState, offset: int) -> LocalAppender:
        return LocalAppender(self._temp(state), state, offset)

    def release_resumable(self, old: ResumableState, new: ResumableState) -> None:
        """One temp file serves the whole upload: nothing to release."""

    def finish_resumable(self, state: ResumableState) -> StoredObject:
        temp = self._temp(state)
        final = self._path(state["key"])
        size = temp.stat().st_size
        with _disk_full_is_unavailability():
            try:
                _make_directories_durably(self.root, final.parent)
                os.link(temp, final)
            except (FileExistsError, NotADirectoryError) as exc:
                raise ObjectExists(state["key"]) from exc
            temp.unlink()
        os.chmod(final, 0o440)
        _fsync_directory(final.parent)
        return StoredObject(key=state["key"], size=size)

    def abort_resumable(self, state: ResumableState) -> None:
        self._temp(state).unlink(missing_ok=True)

    def _temp(self, state: ResumableState) -> Path:
        name = str(state["temp"])
        if "/" in name or not name.startswith("tus-"):
            raise ValueError("not a resumable upload of this store")
        return self.incoming / name

    def purge_incomplete(self, older_than: timedelta) -> int:
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        for temp in self.incoming.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if temp.stat().st_mtime < cutoff:
                    temp.unlink()
                    removed += 1
        return removed

    def close(self) -> None:
        """Nothing to release: files are opened per operation."""

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectMissing(key) from exc


def _read_range(handle: BinaryIO, start: int, length: int | None) -> Iterator[bytes]:
    size = os.fstat(handle.fileno()).st_size
    if start and start >= size:
        handle.close()
        raise RangeNotSatisfiable(f"range starts at {start}, object has {size} bytes")
    return _chunks(handle, start, length)


def _chunks(handle: BinaryIO, start: int, length: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = length
        while remaining is None or remaining > 0:
            want = READ_CHUNK_BYTES if remaining is None else min(READ_CHUNK_BYTES, remaining)
            chunk = handle.read(want)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


class LocalAppender:
    def __init__(self, temp: Path, state: ResumableState, offset: int) -> None:
        self.state = state
        with _disk_full_is_unavailability():
            self._file: BinaryIO | None = temp.open("r+b")
            # Anything past `offset` is left over from an append that was never recorded.
            self._file.truncate(offset)
            self._file.seek(offset)
        self._writeback = EarlyWriteback(self._file, offset)

    def write(self, data: Bytes) -> None:
        if self._file is None:
            raise RuntimeError("appender is closed")
        with _disk_full_is_unavailability():
            self._file.write(data)
            self._writeback.wrote(len(data))

    def finish(self) -> tuple[ResumableState, int]:
        if self._file is None:
            raise RuntimeError("appender is closed")
        with _disk_full_is_unavailability():
            self._file.flush()
            os.fsync(self._file.fileno())
            end = self._file.tell()
        self._file.close()
        self._file = None
        return dict(self.state), end

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class EarlyWriteback:
    """Starts the disk writing a file's pages while the rest of it still arrives.

    Linux holds written pages in memory until a tenth of RAM is dirty, so without this a 1 GiB
    upload reaches the disk only in the final fsync, after every byte has been received: the
    two happen one after the other. Asking for writeback every few MiB (as PostgreSQL does for
    its own files) overlaps them, and the final fsync waits for the last stretch only.
    POSIX_FADV_DONTNEED starts the writeback of dirty pages without waiting for it (and drops
    the clean ones: evidence is read back rarely). Where it is missing, fsync does it all."""

    STRETCH = 8 * 1024 * 1024

    def __init__(self, file: BinaryIO, offset: int) -> None:
        self._file = file
        self._start = offset  # the first byte not yet handed to the disk
        self._end = offset

    def wrote(self, count: int) -> None:
        self._end += count
        if self._end - self._start >= self.STRETCH and hasattr(os, "posix_fadvise"):
            self._file.flush()
            os.posix_fadvise(
                self._file.fileno(), self._start, self._end - self._start, os.POSIX_FADV_DONTNEED
            )
            self._start = self._end


class LocalObjectWriter(WriterBase):
    def __init__(self, *, key: str, root: Path, temp: Path, final: Path) -> None:
        self.key = key
        self.root = root
        self.temp = temp
        self.final = final
        self.size = 0
        self._file: BinaryIO | None = temp.open("xb")
        self._writeback = EarlyWriteback(self._file, 0)

    def write(self, data: Bytes) -> None:
        if self._file is None:
            raise RuntimeError("writer is closed")
        with _disk_full_is_unavailability():
            self._file.write(data)
            self._writeback.wrote(len(data))
        self.size += len(data)

    def commit(self) -> StoredObject:
        if self._file is None:
            raise RuntimeError("writer is closed")
        with _disk_full_is_unavailability():
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            try:
                _make_directories_durably(self.root, self.final.parent)
                os.link(self.temp, self.final)
            except (FileExistsError, NotADirectoryError) as exc:
                # The key, or a prefix of it, is already an object.
                raise ObjectExists(self.key) from exc
            finally:
                self.temp.unlink(missing_ok=True)
        os.chmod(self.final, 0o440)  # originals are read-only on disk too
        _fsync_directory(self.final.parent)
        self.committed = True
        return StoredObject(key=self.key, size=self.size)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.temp.unlink(missing_ok=True)


@contextlib.contextmanager
def _disk_full_is_unavailability() -> Iterator[None]:
    """A full or read-only disk is an outage an operator can fix, not a bug: answer 503."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO):
            raise StorageUnavailable(f"cannot store object: {exc.strerror}") from exc
        raise


def _make_directories_durably(root: Path, directory: Path) -> None:
    """mkdir -p, fsyncing each new directory's parent so the new names survive a power cut."""
    missing = []
    while directory != root and not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        _fsync_directory(new.parent)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
