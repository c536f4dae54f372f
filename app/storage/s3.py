"""Object store on S3 or any S3-compatible server (MinIO, SeaweedFS, Ceph), through boto3.

Atomic placement comes from S3 itself: a PutObject or a multipart upload becomes visible only
when it completes. Small objects are one PutObject; larger ones a multipart upload with parts
of OBJECT_PART_BYTES, a few in flight, so memory stays bounded whatever the object size. An
abandoned multipart upload is the S3 "temp object"; `purge_incomplete` aborts old ones.
Overwrites are refused with a conditional write (If-None-Match: *).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

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

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger("casefile.storage")

PART_BYTES = 16 * 1024 * 1024  # resumable uploads' parts: one per PATCH stretch
OBJECT_PART_BYTES = 8 * 1024 * 1024  # new objects' parts
SMALL_PARTS = 8000
LARGE_PART_BYTES = 512 * 1024 * 1024
PARALLEL_PARTS = 2
_INCOMING = "incoming"  # resumable uploads' tails: temp objects, never evidence
# NoSuchUpload: a multipart upload completed or aborted meanwhile (AWS; SeaweedFS tolerates it).
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchUpload"})
_TAKEN_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


def make_s3_client(endpoint_url: str | None) -> S3Client:
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=64,
        s3={"addressing_style": "path"} if endpoint_url else {},
        # Responses are checked where a read asks for it (ChecksumMode, see `read`): a bundle
        # checks every original's SHA-256 itself, and botocore's CRC on each chunk cost it a
        # fifth of its throughput (bench/RESULTS.md).
        response_checksum_validation="when_required",
    )
    client: S3Client = boto3.client("s3", endpoint_url=endpoint_url, config=config)
    return client


class S3ObjectStore:
    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise StorageMisconfigured(
                    f"S3 bucket {self.bucket!r} does not exist; create it before starting"
                ) from exc
            if code in ("403", "AccessDenied"):
                raise StorageMisconfigured(
                    f"access to S3 bucket {self.bucket!r} is denied for these credentials"
                ) from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def writer(self, key: str) -> S3ObjectWriter:
        return S3ObjectWriter(self.client, self.bucket, self._key(key), key)

    def read(
        self,
        key: str,
        start: int = 0,
        length: int | None = None,
        *,
        version_id: str | None = None,
        transport_check: bool = True,
    ) -> Iterator[bytes]:
        validate_range(start, length)
        full_key = self._key(key)
        if length == 0:
            size = self.size(key, version_id=version_id)  # the object must exist, start inside
            if start and start >= size:
                raise RangeNotSatisfiable(f"range starts at {start}, object has {size} bytes")
            return iter(())
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": full_key}
        if version_id:
            request["VersionId"] = version_id
        if transport_check:
            request["ChecksumMode"] = "ENABLED"
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            request["Range"] = f"bytes={start}-{end}"
        try:
            with _translated(key):
                body = self.client.get_object(**request)["Body"]
        except RangeNotSatisfiable:
            if start == 0:  # only an empty object cannot satisfy a range from its first byte
                return iter(())
            raise
        return _stream(body, key)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectMissing:
            return False
        return True

    def size(self, key: str, *, version_id: str | None = None) -> int:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if version_id:
            request["VersionId"] = version_id
        with _translated(key):
            head = self.client.head_object(**request)
        return int(head["ContentLength"])

    def retain(self, stored: StoredObject, until: datetime) -> None:
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self._key(stored.key),
            "Retention": {"Mode": "COMPLIANCE", "RetainUntilDate": until},
        }
        if stored.version_id:
            request["VersionId"] = stored.version_id
        with _translated(stored.key):
            self.client.put_object_retention(**request)

    def check_retention_possible(self) -> None:
        """Object Lock must be enabled on the bucket before anything can be retained."""
        try:
            configuration = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            raise StorageMisconfigured(
                f"S3 bucket {self.bucket!r} has no Object Lock; create it with Object Lock "
                "enabled, or unset CASEFILE_S3_OBJECT_LOCK_DAYS"
            ) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        enabled = configuration.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        if enabled != "Enabled":
            raise StorageMisconfigured(f"S3 bucket {self.bucket!r} has Object Lock disabled")

    def discard(self, stored: StoredObject) -> None:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(stored.key)}
        if stored.version_id:
            request["VersionId"] = stored.version_id
        with _translated(stored.key):
            self.client.delete_object(**request)

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with _translated(prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    if not key.startswith(_INCOMING):
                        yield key

    # -- resumable uploads: a multipart upload, plus a "tail" object for bytes short of a part --
    def start_resumable(self, key: str) -> ResumableState:
        self._key(key)  # validates
        return {"key": key, "upload_id": None, "parts": [], "tail": None, "id": uuid.uuid4().hex}

    def resumable_appender(self, state: ResumableState, offset: int) -> S3Appender:
        held = sum(size for _, _, size in state["parts"]) + (state["tail"] or {}).get("size", 0)
        if offset != held:
            raise ValueError(f"append at {offset}, but the upload holds {held} bytes")
        return S3Appender(self, state)

    def release_resumable(self, old: ResumableState, new: ResumableState) -> None:
        if old.get("tail") and old["tail"] != new.get("tail"):
            self._delete_quietly(old["tail"]["key"])

    def finish_resumable(self, state: ResumableState) -> StoredObject:
        tail = self.read_tail(state)
        size = sum(s for _, _, s in state["parts"]) + len(tail)
        key = state["key"]
        with _translated(key):
            if state["upload_id"] is None:
                answer: Any = self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=tail, IfNoneMatch="*"
                )
            else:
                parts = list(state["parts"])
                if tail:
                    new = {**state, "parts": [list(p) for p in parts]}
                    self.upload_resumable_part(new, tail)
                    parts = new["parts"]
                answer = self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    UploadId=state["upload_id"],
                    MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e, _ in parts]},
                    IfNoneMatch="*",
                )
        if state["tail"]:
            self._delete_quietly(state["tail"]["key"])
        return StoredObject(key=key, size=size, version_id=answer.get("VersionId"))

    def abort_resumable(self, state: ResumableState) -> None:
        if state["upload_id"] is not None:
            with contextlib.suppress(ObjectMissing), _translated(state["key"]):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self._key(state["key"]), UploadId=state["upload_id"]
                )
        if state["tail"]:
            self._delete_quietly(state["tail"]["key"])

    def upload_resumable_part(self, state: ResumableState, part: bytes) -> None:
        key = state["key"]
        with _translated(key):
            if state["upload_id"] is None:
                created = self.client.create_multipart_upload(
                    Bucket=self.bucket, Key=self._key(key)
                )
                state["upload_id"] = created["UploadId"]
            # Part n always holds bytes [(n-1)·PART, n·PART): an append retried after a failure
            # rewrites the same part numbers instead of adding others.
            number = len(state["parts"]) + 1
            answer = self.client.upload_part(
                Bucket=self.bucket,
                Key=self._key(key),
                UploadId=state["upload_id"],
                PartNumber=number,
                Body=part,
            )
        state["parts"].append([number, answer["ETag"], len(part)])

    def put_tail(self, upload: str, end: int, data: bytes) -> dict[str, Any]:
        tail_key = f"{_INCOMING}/{upload}/tail-{end}"
        with _translated(tail_key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(tail_key), Body=data)
        return {"key": tail_key, "size": len(data)}

    def read_tail(self, state: ResumableState) -> bytes:
        tail = state.get("tail")
        if not tail:
            return b""
        with _translated(tail["key"]):
            body = self.client.get_object(
                Bucket=self.bucket, Key=self._key(tail["key"]), ChecksumMode="ENABLED"
            )["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        return data

    def _delete_quietly(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError):
            log.warning("could not delete a resumable upload's tail", extra={"key": key})

    def purge_incomplete(self, older_than: timedelta) -> int:
        cutoff = datetime.now(UTC) - older_than
        removed = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        with _translated(self.prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    key, upload_id = upload["Key"], upload["UploadId"]
                    if upload["Initiated"] < cutoff and self._idle_since(key, upload_id, cutoff):
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=key, UploadId=upload_id
                        )
                        removed += 1
        return removed + self._purge_stale_tails(cutoff)

    def _purge_stale_tails(self, cutoff: datetime) -> int:
        """A resumable upload's tail is rewritten at each append: one older than the cutoff
        belongs to an upload that expired, or to an append that was never recorded."""
        removed = 0
        paginator = self.client.get_paginator("list_objects_v2")
        with _translated(_INCOMING):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(_INCOMING) + "/"):
                for found in page.get("Contents", []):
                    if found["LastModified"] < cutoff:
                        self.client.delete_object(Bucket=self.bucket, Key=found["Key"])
                        removed += 1
        return removed

    def _idle_since(self, key: str, upload_id: str, cutoff: datetime) -> bool:
        """True unless a part arrived after `cutoff`: a slow upload still in progress is kept,
        as the local store keeps a temp file that is still being written to."""
        parts = self.client.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id)
        return all(part["LastModified"] < cutoff for part in parts.get("Parts", []))

    def close(self) -> None:
        self.client.close()

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)


class S3Appender:
    """Full parts go up as they fill; what is short of a part is kept as the new tail object."""

    def __init__(self, store: S3ObjectStore, state: ResumableState) -> None:
        self.store = store
        self.state = {**state, "parts": [list(p) for p in state["parts"]]}
        self.buffer = bytearray(store.read_tail(state))

    def write(self, data: Bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= PART_BYTES:
            with memoryview(self.buffer) as view:
                part = view[:PART_BYTES].tobytes()
            del self.buffer[:PART_BYTES]
            self.store.upload_resumable_part(self.state, part)

    def finish(self) -> tuple[ResumableState, int]:
        new = self.state
        end = sum(size for _, _, size in new["parts"]) + len(self.buffer)
        new["tail"] = None
        if self.buffer:
            new["tail"] = self.store.put_tail(new["id"], end, bytes(self.buffer))
        self.buffer = bytearray()
        return new, end

    def abort(self) -> None:
        self.buffer = bytearray()  # parts already sent are rewritten by the next append


class S3ObjectWriter(WriterBase):
    """A new object, streamed: one PutObject if it stays small, else a multipart upload whose
    parts go up PARALLEL_PARTS at a time while the next one fills.

    One part at a time leaves the connection idle while each part is acknowledged, and an S3
    server writes several parts faster than one (boto3's own transfers use ten). Memory: the
    part being filled and the parts in flight, at most (1 + PARALLEL_PARTS) × part size."""

    def __init__(self, client: S3Client, bucket: str, full_key: str, key: str) -> None:
        self.client = client
        self.bucket = bucket
        self.full_key = full_key
        self.key = key
        self.size = 0
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._in_flight: deque[Future[CompletedPartTypeDef]] = deque()
        self._pool: ThreadPoolExecutor | None = None
        self._numbered = 0
        self._closed = False

    def write(self, data: Bytes) -> None:
        if self._closed:
            raise RuntimeError("writer is closed")
        self.size += len(data)
        rest = memoryview(data)
        while rest:
            # Fill the part exactly, then hand the buffer itself over: no copy of a part.
            room = object_part_bytes(self._numbered + 1) - len(self._buffer)
            self._buffer += rest[:room]
            rest = rest[room:]
            if len(self._buffer) == object_part_bytes(self._numbered + 1):
                part, self._buffer = self._buffer, bytearray()
                self._send_part(part)

    def commit(self) -> StoredObject:
        if self._closed:
            raise RuntimeError("writer is closed")
        with _translated(self.key):
            answer: Any
            if self._upload_id is None:
                answer = self.client.put_object(
                    Bucket=self.bucket, Key=self.full_key, Body=bytes(self._buffer), IfNoneMatch="*"
                )
            else:
                if self._buffer:
                    part, self._buffer = self._buffer, bytearray()
                    self._send_part(part)
                while self._in_flight:
                    self._parts.append(self._in_flight.popleft().result())
                answer = self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.full_key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                    IfNoneMatch="*",
                )
        self._buffer = bytearray()
        self._closed = True
        self.committed = True
        self._shut_pool()
        return StoredObject(key=self.key, size=self.size, version_id=answer.get("VersionId"))

    def abort(self) -> None:
        self._buffer = bytearray()
        self._closed = True
        for pending in self._in_flight:
            pending.cancel()
        self._shut_pool()  # waits for parts already on the wire: none may land after the abort
        self._in_flight.clear()
        if self._upload_id is not None and not self.committed:
            upload_id, self._upload_id = self._upload_id, None
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.full_key, UploadId=upload_id
                )
            except (BotoCoreError, ClientError):
                # Left for purge_incomplete; the original failure matters more than this one.
                log.warning("could not abort multipart upload", extra={"key": self.key})

    def _send_part(self, part: bytes | bytearray) -> None:
        """Start uploading `part`; first wait for the oldest part if PARALLEL_PARTS are out
        (raising its failure, so that a broken store stops the upload early)."""
        if self._upload_id is None:
            with _translated(self.key):
                created = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.full_key)
            self._upload_id = created["UploadId"]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(PARALLEL_PARTS, thread_name_prefix="s3-part")
        while len(self._in_flight) >= PARALLEL_PARTS:
            self._parts.append(self._in_flight.popleft().result())
        self._numbered += 1
        self._in_flight.append(
            self._pool.submit(self._upload_part, self._upload_id, self._numbered, part)
        )

    def _upload_part(
        self, upload_id: str, number: int, part: bytes | bytearray
    ) -> CompletedPartTypeDef:
        with _translated(self.key):
            answer = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.full_key,
                UploadId=upload_id,
                PartNumber=number,
                Body=cast("bytes", part),  # botocore takes a bytearray as it is (stubs say bytes)
            )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _shut_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def object_part_bytes(number: int) -> int:
    """The size of part `number` of a new object: small parts keep memory low; after
    SMALL_PARTS of them, larger ones keep a huge object within S3's 10,000 parts (8,000 × 8 MiB
    + 2,000 × 512 MiB ≈ 1 TiB). S3, MinIO, Ceph and SeaweedFS accept parts of different sizes."""
    return OBJECT_PART_BYTES if number <= SMALL_PARTS else LARGE_PART_BYTES


def _stream(body: Any, key: str) -> Iterator[bytes]:
    try:
        with _translated(key):
            yield from body.iter_chunks(READ_CHUNK_BYTES)
    finally:
        body.close()


@contextlib.contextmanager
def _translated(key: str) -> Iterator[None]:
    """Map boto3 failures onto the store's errors: missing, taken, or unavailable."""
    try:
        yield
    except ClientError as exc:
        code = _error_code(exc)
        if code in _MISSING_CODES:
            raise ObjectMissing(key) from exc
        if code in _TAKEN_CODES:
            raise ObjectExists(key) from exc
        if code == "InvalidRange":
            raise RangeNotSatisfiable(key) from exc
        raise _unavailable(exc) from exc
    except BotoCoreError as exc:
        raise _unavailable(exc) from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(exc: Exception) -> StorageUnavailable:
    log.warning("object storage failure: %s", exc)
    return StorageUnavailable("Object storage cannot be reached; retry later.")
