"""One contract suite for both object stores, run unchanged on each.

The API must not be able to tell the local-filesystem store from the S3 store: every test that
takes the `store` fixture runs on both (S3 being SeaweedFS, a real S3 server that enforces
credentials). Each test works in its own directory or bucket prefix, so tests never see each
other's objects. The few tests at the end cover what only one implementation has.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import random
import stat
import time
import tracemalloc
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError

from app.errors import StorageUnavailable
from app.storage.base import (
    READ_CHUNK_BYTES,
    ObjectExists,
    ObjectMissing,
    ObjectStore,
    RangeNotSatisfiable,
    StorageMisconfigured,
    StoredObject,
)
from app.storage.local import LocalObjectStore
from app.storage.s3 import (
    OBJECT_PART_BYTES,
    PARALLEL_PARTS,
    PART_BYTES,
    S3ObjectStore,
    make_s3_client,
)
from tests.fixtures.seaweed import S3Endpoint

MIB = 1024 * 1024
# A prime: written in chunks of this size, no write lines up with a read chunk or an S3 part.
ODD_CHUNK = 999_983


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    """A fresh, empty store; S3 fixtures are requested lazily so local-only runs need no S3."""
    built: ObjectStore
    if request.param == "local":
        built = LocalObjectStore(tmp_path / "objects")
    else:
        endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
        bucket: str = request.getfixturevalue("s3_bucket")
        client = make_s3_client(endpoint.url)
        built = S3ObjectStore(client, bucket, prefix=f"t-{uuid.uuid4().hex[:10]}")
    yield built
    built.close()


@pytest.fixture
def temp_objects(
    store: ObjectStore, request: pytest.FixtureRequest
) -> Iterator[Callable[[], list[str]]]:
    """Lists what unfinished writes left behind: `.incoming` files, or open multipart uploads.

    Looked at from outside the store (the directory itself, a separate S3 client), so a store
    that lost track of its own temp objects cannot hide them.
    """
    if isinstance(store, LocalObjectStore):
        incoming = store.incoming

        def local_leftovers() -> list[str]:
            return sorted(path.name for path in incoming.iterdir())

        yield local_leftovers
        return

    assert isinstance(store, S3ObjectStore)
    endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
    client = endpoint.client()
    bucket, prefix = store.bucket, store.prefix

    def s3_leftovers() -> list[str]:
        answer = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)  # type: ignore[attr-defined]
        uploads = answer.get("Uploads", [])
        return sorted(u["Key"] for u in uploads if u["Key"].startswith(prefix))

    yield s3_leftovers
    client.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def part_plus_one() -> bytes:
    """One byte more than an S3 part: the smallest object that needs a multipart upload."""
    return random.Random(1).randbytes(PART_BYTES + 1)


@pytest.fixture(scope="module")
def range_data() -> bytes:
    """Several read chunks long, with a ragged tail, so ranges can cross chunk boundaries."""
    return random.Random(2).randbytes(2 * READ_CHUNK_BYTES + READ_CHUNK_BYTES // 2 + 11)


def pseudo_random_chunks(total: int, seed: int, sizes: Sequence[int]) -> Iterator[bytes]:
    """Deterministic bytes one chunk at a time, so the whole object never exists in memory."""
    rng = random.Random(seed)
    remaining = total
    for size in itertools.cycle(sizes):
        if remaining <= 0:
            return
        chunk = rng.randbytes(min(size, remaining))
        remaining -= len(chunk)
        yield chunk


def put(store: ObjectStore, key: str, data: bytes) -> StoredObject:
    """Write `data` in odd-sized chunks (and one empty write), checking it stays invisible.

    A key already taken stays taken meanwhile, so only a free key must stay free until commit.
    """
    taken = store.exists(key)
    with store.writer(key) as writer:
        writer.write(b"")
        for offset in range(0, len(data), ODD_CHUNK):
            writer.write(data[offset : offset + ODD_CHUNK])
        assert store.exists(key) == taken, "an object must not be visible before commit()"
        return writer.commit()


def read_all(store: ObjectStore, key: str, start: int = 0, length: int | None = None) -> bytes:
    """Read a (range of an) object, checking every chunk respects the streaming bound."""
    chunks = list(store.read(key, start, length))
    assert all(len(chunk) <= READ_CHUNK_BYTES for chunk in chunks), [len(c) for c in chunks]
    return b"".join(chunks)


class WriterFailed(Exception):
    """Stands for whatever breaks an upload midway (client gone, disk error, bug)."""


# -- round trips ----------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, PART_BYTES + 1], ids=["empty", "one-byte", "part-plus-one"])
def test_round_trip(
    store: ObjectStore,
    temp_objects: Callable[[], list[str]],
    part_plus_one: bytes,
    size: int,
) -> None:
    """Bytes come back identical at the sizes where implementations switch strategy."""
    data = part_plus_one[:size]
    key = f"cases/c1/evidence-{size}.bin"

    stored = put(store, key, data)

    assert stored == StoredObject(key=key, size=size)
    assert store.exists(key)
    assert store.size(key) == size
    streamed = hashlib.sha256()
    chunks = []
    for chunk in store.read(key):
        assert len(chunk) <= READ_CHUNK_BYTES
        streamed.update(chunk)
        chunks.append(chunk)
    assert streamed.hexdigest() == hashlib.sha256(data).hexdigest()
    assert b"".join(chunks) == data
    assert temp_objects() == [], "a committed write must not leave its temp object behind"


def test_unusual_but_valid_keys_round_trip(store: ObjectStore) -> None:
    """Validation must not reject what it promises to accept, up to the 512-character limit."""
    longest = "/".join(["k" * 127] * 4) + "a"  # 512 characters, segments within 128
    assert len(longest) == 512
    for key in ["a", "A-Z_0.9/-x.", "x" * 128, longest]:
        put(store, key, key.encode())
        assert read_all(store, key) == key.encode()
        assert store.size(key) == len(key)


@pytest.mark.slow
def test_large_object_streams_with_bounded_memory(store: ObjectStore) -> None:
    """128 MiB in and out while Python holds only a fraction of it: evidence can be video.

    Peaks measured (tracemalloc, Python allocations only): local put 4.4 MiB, local get and
    S3 get 2 MiB, S3 put 31 MiB whatever the object size (the 8 MiB part being filled and two
    in flight, each handed over uncopied). The object is twice the put bound so that S3's per-part
    buffering passes with margin while buffering the whole object, or even most of it, fails.
    """
    total = 128 * MIB + 3
    key = "cases/c1/video.mp4"
    written = hashlib.sha256()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        with store.writer(key) as writer:
            for chunk in pseudo_random_chunks(total, seed=3, sizes=(MIB + 7, 300_001, 2 * MIB)):
                written.update(chunk)
                writer.write(chunk)
            stored = writer.commit()
        del chunk
        put_peak = tracemalloc.get_traced_memory()[1] - baseline

        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        read = hashlib.sha256()
        received = largest = 0
        for chunk in store.read(key):
            read.update(chunk)
            received += len(chunk)
            largest = max(largest, len(chunk))
        del chunk
        get_peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        if not was_tracing:
            tracemalloc.stop()

    print(f"\n{type(store).__name__}: put peak {put_peak / MIB:.1f} MiB, get {get_peak / MIB:.1f}")
    assert stored.size == total
    assert store.size(key) == total
    assert received == total
    assert largest <= READ_CHUNK_BYTES
    assert read.hexdigest() == written.hexdigest()
    assert put_peak < 64 * MIB, f"put peaked at {put_peak / MIB:.1f} MiB"
    assert get_peak < 8 * MIB, f"get peaked at {get_peak / MIB:.1f} MiB"


# -- ranges ---------------------------------------------------------------------------------
def test_range_reads(store: ObjectStore, range_data: bytes) -> None:
    """Byte ranges serve HTTP Range requests and resumable downloads: every edge matters."""
    key = "cases/c1/range.bin"
    size = len(range_data)
    put(store, key, range_data)
    boundary = READ_CHUNK_BYTES

    assert read_all(store, key, start=1000) == range_data[1000:]
    assert read_all(store, key, 1000, 5000) == range_data[1000:6000]
    assert (
        read_all(store, key, boundary - 10, boundary + 20)
        == range_data[boundary - 10 : 2 * boundary + 10]
    )
    assert read_all(store, key, 0, size) == range_data
    assert read_all(store, key, size - 10, 100) == range_data[-10:]
    assert read_all(store, key, 5, 0) == b""
    assert read_all(store, key, size - 1) == range_data[-1:]
    assert read_all(store, key, size - 1, 1) == range_data[-1:]
    for start in (size, size + 1, size + 10 * MIB):
        with pytest.raises(RangeNotSatisfiable):
            read_all(store, key, start)
        with pytest.raises(RangeNotSatisfiable):
            read_all(store, key, start, 10)


def test_range_read_of_empty_object_is_empty(store: ObjectStore) -> None:
    """An empty object is still an object: a ranged read from 0 gives no bytes, not an error."""
    put(store, "empty.bin", b"")
    assert read_all(store, "empty.bin", 0, 10) == b""


# -- atomicity ------------------------------------------------------------------------------
def write_then_fail(
    store: ObjectStore, key: str, data: bytes, temp_objects: Callable[[], list[str]]
) -> None:
    with store.writer(key) as writer:
        writer.write(data)
        # Precondition: the write got far enough to leave something (file, multipart upload).
        assert temp_objects(), "nothing under way: the test would prove nothing"
        raise WriterFailed


def test_failed_write_leaves_nothing(
    store: ObjectStore, temp_objects: Callable[[], list[str]], part_plus_one: bytes
) -> None:
    """A write that dies midway must leave neither a truncated object nor a temp object."""
    key = "cases/c1/interrupted.bin"
    with pytest.raises(WriterFailed):
        write_then_fail(store, key, part_plus_one, temp_objects)

    assert not store.exists(key)
    with pytest.raises(ObjectMissing):
        store.read(key)
    assert temp_objects() == []


def test_abandoned_write_is_purged(
    store: ObjectStore, temp_objects: Callable[[], list[str]], part_plus_one: bytes
) -> None:
    """A crashed process never runs `__exit__`: its temp object waits for `purge_incomplete`."""
    key = "cases/c1/abandoned.bin"
    writer = store.writer(key)
    writer.__enter__()
    writer.write(part_plus_one)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the local temp file is left open
        del writer
        gc.collect()

    leftovers = temp_objects()
    assert len(leftovers) == 1
    assert not store.exists(key)
    assert store.purge_incomplete(timedelta(hours=1)) == 0, "a young upload may still be live"
    assert temp_objects() == leftovers
    assert store.purge_incomplete(timedelta(0)) >= 1
    assert temp_objects() == []
    assert not store.exists(key)


# -- immutability ---------------------------------------------------------------------------
@pytest.mark.parametrize("second_size", [5, PART_BYTES + 1], ids=["small", "multipart"])
def test_committed_key_is_never_overwritten(
    store: ObjectStore,
    temp_objects: Callable[[], list[str]],
    part_plus_one: bytes,
    second_size: int,
) -> None:
    """Evidence is immutable: a second commit to a taken key fails and changes nothing."""
    key = "cases/c1/original.jpg"
    original = b"the original evidence"
    put(store, key, original)

    with pytest.raises(ObjectExists):
        put(store, key, part_plus_one[:second_size])

    assert read_all(store, key) == original
    assert store.size(key) == len(original)
    assert temp_objects() == [], "the refused write must clean up after itself"


def test_concurrent_writers_first_commit_wins(
    store: ObjectStore, temp_objects: Callable[[], list[str]], part_plus_one: bytes
) -> None:
    """Two uploads of one key in flight at once: the first commit wins, the second is refused."""
    key = "cases/c1/raced.bin"
    with store.writer(key) as first, store.writer(key) as second:
        first.write(b"first")
        second.write(part_plus_one)  # on S3 a multipart upload, begun before the first commits
        first.commit()
        with pytest.raises(ObjectExists):
            second.commit()

    assert read_all(store, key) == b"first"
    assert temp_objects() == []


# -- missing objects and bad keys -----------------------------------------------------------
def test_missing_object(store: ObjectStore) -> None:
    """A key never written is missing to every read, with the store's own exception."""
    key = "cases/c1/never-written.bin"
    assert not store.exists(key)
    with pytest.raises(ObjectMissing):
        store.read(key)
    with pytest.raises(ObjectMissing):
        store.read(key, 10, 5)
    with pytest.raises(ObjectMissing):
        store.size(key)


def test_zero_length_read_still_checks_the_key(store: ObjectStore) -> None:
    """An empty range is no licence to skip validation or the existence check."""
    with pytest.raises(ObjectMissing):
        store.read("cases/c1/never-written.bin", 0, 0)
    with pytest.raises(ValueError, match="invalid object key"):
        store.read("../x", 0, 0)
    put(store, "three.bin", b"abc")
    with pytest.raises(RangeNotSatisfiable):
        store.read("three.bin", 3, 0)


def test_key_prefix_of_another_object_is_missing(store: ObjectStore) -> None:
    """`cases/c1` is no object just because `cases/c1/photo.jpg` is (on disk: a directory)."""
    put(store, "cases/c1/photo.jpg", b"jpeg")
    assert not store.exists("cases/c1")
    with pytest.raises(ObjectMissing):
        store.size("cases/c1")
    with pytest.raises(ObjectMissing):
        store.read("cases/c1")


INVALID_KEYS = {
    "traversal": "../x",
    "absolute": "/abs",
    "empty-segment": "a//b",
    "hidden": ".hidden",
    "inner-traversal": "a/../b",
    "empty": "",
    "nul-byte": "a\x00b",
    "too-long": "/".join(["k" * 127] * 4 + ["a"]),  # 513 characters, every segment valid
}


@pytest.mark.parametrize("key", list(INVALID_KEYS.values()), ids=list(INVALID_KEYS))
def test_invalid_keys_are_rejected(
    store: ObjectStore, temp_objects: Callable[[], list[str]], key: str
) -> None:
    """Keys reach paths and URLs: a bad one must fail before touching the backend."""
    with pytest.raises(ValueError, match="invalid object key"):
        store.writer(key)
    with pytest.raises(ValueError, match="invalid object key"):
        store.read(key)
    with pytest.raises(ValueError, match="invalid object key"):
        store.exists(key)
    with pytest.raises(ValueError, match="invalid object key"):
        store.size(key)
    assert temp_objects() == []


# -- health checks --------------------------------------------------------------------------
def test_check_passes_on_a_working_store(store: ObjectStore) -> None:
    """`check()` gates startup: a working store must pass it."""
    store.check()


def test_s3_check_reports_a_missing_bucket_as_misconfiguration(s3_endpoint: S3Endpoint) -> None:
    """A missing bucket never fixes itself: fail startup, don't answer 503 forever."""
    store = S3ObjectStore(make_s3_client(s3_endpoint.url), f"absent-{uuid.uuid4().hex[:12]}")
    try:
        with pytest.raises(StorageMisconfigured, match="does not exist"):
            store.check()
    finally:
        store.close()


def test_s3_check_reports_an_unreachable_endpoint_as_unavailable(
    s3_endpoint: S3Endpoint,
) -> None:
    """An endpoint that is down is an outage (503, retry later), not a misconfiguration.

    Needs `s3_endpoint` only for its credentials, so the failure is the connection itself.
    """
    store = S3ObjectStore(make_s3_client("http://127.0.0.1:1"), "any-bucket")
    started = time.monotonic()
    try:
        with pytest.raises(StorageUnavailable) as raised:
            store.check()
    finally:
        store.close()
    assert isinstance(raised.value.__cause__, EndpointConnectionError)
    assert time.monotonic() - started < 10


def test_s3_part_failing_midway_stops_the_write_and_leaves_nothing(
    s3_endpoint: S3Endpoint, s3_bucket: str
) -> None:
    """Parts go up while the next fills: when one fails (here the multipart upload vanished
    under the writer, as after an operator's abort), the writer reports it by the next part at
    the latest, commits nothing, and leaves no multipart upload behind."""
    prefix = f"t-{uuid.uuid4().hex[:10]}"
    store = S3ObjectStore(make_s3_client(s3_endpoint.url), s3_bucket, prefix=prefix)
    outside = s3_endpoint.client()
    key = "cases/c1/cut-off.mp4"
    chunk = random.Random(5).randbytes(OBJECT_PART_BYTES)
    try:
        with pytest.raises((ObjectMissing, StorageUnavailable)):  # noqa: PT012
            with store.writer(key) as writer:
                writer.write(chunk)  # the first part starts going up
                uploads = outside.list_multipart_uploads(  # type: ignore[attr-defined]
                    Bucket=s3_bucket, Prefix=prefix
                ).get("Uploads", [])
                assert len(uploads) == 1, uploads
                outside.abort_multipart_upload(  # type: ignore[attr-defined]
                    Bucket=s3_bucket, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"]
                )
                for _ in range(2 + PARALLEL_PARTS):  # enough to wait on the failed parts
                    writer.write(chunk)
                writer.commit()
        assert not store.exists(key)
        left = outside.list_multipart_uploads(  # type: ignore[attr-defined]
            Bucket=s3_bucket, Prefix=prefix
        ).get("Uploads", [])
        assert left == []
    finally:
        store.close()
        outside.close()  # type: ignore[attr-defined]


# -- local only -----------------------------------------------------------------------------
def test_local_object_is_a_read_only_file_at_its_key(tmp_path: Path) -> None:
    """Operators back up and inspect the directory: key = path, and originals are read-only."""
    store = LocalObjectStore(tmp_path / "objects")
    put(store, "cases/c1/photo.jpg", b"jpeg bytes")

    path = tmp_path / "objects" / "cases" / "c1" / "photo.jpg"
    assert path.read_bytes() == b"jpeg bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o440
    assert list(store.incoming.iterdir()) == []


def test_negative_ranges_are_refused(store: ObjectStore) -> None:
    put(store, "three.bin", b"abc")
    for start, length in ((-1, None), (0, -1), (-5, 2)):
        with pytest.raises(ValueError, match="negative"):
            store.read("three.bin", start, length)


def test_an_object_cannot_be_nested_under_another_object(store: ObjectStore) -> None:
    """`f/g` after `f`: on disk `f` would have to be a directory. Both stores must refuse or
    accept consistently with their nature; neither may crash with a raw OS error."""
    put(store, "f", b"file")
    try:
        put(store, "f/g", b"nested")
    except ObjectExists:
        assert isinstance(store, LocalObjectStore)
    else:
        assert isinstance(store, S3ObjectStore)  # S3 keys are flat: f and f/g can coexist
        assert read_all(store, "f/g") == b"nested"
    assert read_all(store, "f") == b"file"


# -- listing, discarding, versions --------------------------------------------------------------
def test_keys_lists_committed_objects_only(
    store: ObjectStore, temp_objects: Callable[[], list[str]]
) -> None:
    put(store, "evidence/c1/a", b"a")
    put(store, "evidence/c1/b", b"b")
    put(store, "other/x", b"x")
    unfinished = store.writer("evidence/c1/unfinished")
    unfinished.write(b"half" * (PART_BYTES // 4 + 1))
    try:
        assert sorted(store.keys("evidence/")) == ["evidence/c1/a", "evidence/c1/b"]
        assert list(store.keys("nothing-here/")) == []
    finally:
        unfinished.abort()


def test_discard_removes_an_unreferenced_object(store: ObjectStore) -> None:
    stored = put(store, "evidence/c1/duplicate", b"dup")
    store.discard(stored)
    assert not store.exists("evidence/c1/duplicate")
    store.discard(stored)  # discarding twice is harmless


def test_reads_by_version_when_there_is_one(store: ObjectStore) -> None:
    stored = put(store, "evidence/c1/v", b"versioned")
    assert store.size(stored.key, version_id=stored.version_id) == 9
    assert b"".join(store.read(stored.key, version_id=stored.version_id)) == b"versioned"


# -- resumable uploads ------------------------------------------------------------------------
def append(
    store: ObjectStore,
    state: dict[str, object],
    offset: int,
    data: bytes,
    *,
    recorded: bool = True,
) -> tuple[dict[str, object], int]:
    """One append as the server makes it: the old state is released only once the new one is
    recorded, so an append whose new state is never recorded must leave the old one usable."""
    appender = store.resumable_appender(state, offset)
    for start in range(0, len(data), ODD_CHUNK):
        appender.write(data[start : start + ODD_CHUNK])
    new, end = appender.finish()
    if recorded:
        store.release_resumable(state, new)
    return new, end


def test_resumable_upload_across_appends(
    store: ObjectStore, temp_objects: Callable[[], list[str]]
) -> None:
    """Appends of odd sizes, straddling part boundaries, each from the recorded state alone
    (as a new request or another process would resume), then one atomic placement."""
    data = random.Random(7).randbytes(2 * PART_BYTES + 12345)
    state = store.start_resumable("evidence/c1/tus")
    offset = 0
    for size in (3 * MIB + 1, PART_BYTES, 5, len(data)):
        piece = data[offset : offset + size]
        if not piece:
            break
        state, offset = append(store, state, offset, piece)
        assert not store.exists("evidence/c1/tus"), "nothing visible before the end"
    assert offset == len(data)
    stored = store.finish_resumable(state)
    assert stored.size == len(data)
    assert (
        hashlib.sha256(read_all(store, "evidence/c1/tus")).digest() == hashlib.sha256(data).digest()
    )
    assert temp_objects() == []


def test_a_failed_append_is_as_if_never_made(store: ObjectStore) -> None:
    """The state recorded before an append stays valid if that append is never recorded:
    the next append from the old state overwrites whatever the failed one left."""
    state = store.start_resumable("evidence/c1/retry")
    state, offset = append(store, state, 0, b"A" * (PART_BYTES + 10))
    abandoned, _ = append(store, state, offset, b"X" * (PART_BYTES + 99), recorded=False)
    state, offset = append(store, state, offset, b"B" * 20)
    stored = store.finish_resumable(state)
    assert stored.size == PART_BYTES + 30
    assert read_all(store, "evidence/c1/retry") == b"A" * (PART_BYTES + 10) + b"B" * 20
    del abandoned


def test_an_append_at_the_wrong_offset_is_refused_or_repaired(store: ObjectStore) -> None:
    state = store.start_resumable("evidence/c1/offset")
    state, offset = append(store, state, 0, b"abc")
    if isinstance(store, S3ObjectStore):
        with pytest.raises(ValueError, match="holds 3 bytes"):
            store.resumable_appender(state, offset + 1)
    state, offset = append(store, state, offset, b"def")
    assert read_all(store, store.finish_resumable(state).key) == b"abcdef"


def test_an_empty_resumable_upload(store: ObjectStore) -> None:
    state = store.start_resumable("evidence/c1/empty")
    stored = store.finish_resumable(state)
    assert stored.size == 0
    assert read_all(store, "evidence/c1/empty") == b""


def test_aborting_a_resumable_upload_leaves_nothing(
    store: ObjectStore, temp_objects: Callable[[], list[str]]
) -> None:
    state = store.start_resumable("evidence/c1/aborted")
    state, _ = append(store, state, 0, b"Z" * (PART_BYTES + 5))
    store.abort_resumable(state)
    assert not store.exists("evidence/c1/aborted")
    assert temp_objects() == []
    assert list(store.keys("incoming/")) == []


def test_a_resumable_upload_cannot_replace_an_object(store: ObjectStore) -> None:
    put(store, "evidence/c1/taken", b"original")
    state = store.start_resumable("evidence/c1/taken")
    state, _ = append(store, state, 0, b"impostor")
    with pytest.raises(ObjectExists):
        store.finish_resumable(state)
    assert read_all(store, "evidence/c1/taken") == b"original"
