"""Receiving an upload: the request body streamed to the object store while SHA-256, CRC32 and
size are computed in the same pass, in constant memory (no UploadFile, no spooling).

The event loop parses the multipart body (python-multipart) and gathers the file's chunks into
slices of about 1 MiB (uncopied); a worker thread hashes each slice (hashlib releases the GIL)
and writes it to the store while the loop gathers the next one (`SliceWriter`). A slow or
vanished client, a body larger than allowed, or a failing store abort the object: nothing is
left under its key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from app.errors import AppError, PayloadTooLarge
from app.evidence.filenames import filename_from_disposition, printable_media_type, safe_filename
from app.evidence.inspect import HEAD_BYTES
from app.kit.json_body import duplicate_key
from app.kit.pipeline import Slice, SliceWriter
from app.kit.routing import body_stall_seconds
from app.storage import ObjectStore, ObjectWriter, StoredObject
from app.storage.base import Bytes

SLICE_BYTES = 1024 * 1024
MAX_FIELDS = 32
# The longest metadata text is 100,000 characters (LongText): up to 4 bytes each in UTF-8.
MAX_FIELD_BYTES = 4 * 100_000 + 1024
MAX_FORM_BYTES = 2 * 1024 * 1024  # all fields together: what the JSON endpoints accept, twice
FILE_FIELD = "file"


class MalformedUpload(AppError):
    status, slug, title = 400, "malformed-upload", "Malformed upload"


class UploadTimeout(AppError):
    status, slug, title = 408, "upload-timeout", "The upload stalled"


class ClientGone(MalformedUpload):
    """The client disconnected before its body ended (nobody reads the answer: logged 499)."""


class DigestMismatch(AppError):
    status, slug, title = 400, "digest-mismatch", "The content does not match its digest"


class Fingerprint:
    """SHA-256, CRC32 and size in one pass, and the first bytes for sniffing and EXIF."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self.crc32 = 0
        self.size = 0
        self.head = bytearray()

    def update(self, data: Bytes) -> None:
        self._sha256.update(data)
        self.crc32 = zlib.crc32(data, self.crc32)
        self.size += len(data)
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


class Sink:
    """Runs on a worker thread: counts, fingerprints and stores each slice."""

    def __init__(self, writer: ObjectWriter, limit: int) -> None:
        self.writer = writer
        self.limit = limit
        self.fingerprint = Fingerprint()

    def write(self, pieces: Slice) -> None:
        for piece in pieces:
            if self.fingerprint.size + len(piece) > self.limit:
                raise PayloadTooLarge(f"The file exceeds the limit of {self.limit} bytes.")
            self.fingerprint.update(piece)
            self.writer.write(piece)


@dataclass
class Received:
    stored: StoredObject
    fingerprint: Fingerprint
    fields: dict[str, str]
    filename: str
    declared_media_type: str | None


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    content_type: str | None = None
    value: bytearray = field(default_factory=bytearray)


class _MultipartReader:
    """python-multipart callbacks: form fields kept (bounded), file bytes handed on."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.file: _Part | None = None
        self.pending: list[Bytes] = []
        self.pending_bytes = 0
        self._part = _Part()
        self._field_name = bytearray()
        self._field_value = bytearray()
        self._in_file = False
        self._form_bytes = 0
        self.ended = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._field_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._field_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._part = _Part()

    def _header_end(self) -> None:
        self._part.headers[self._field_name.decode("latin-1").lower()] = bytes(self._field_value)
        self._field_name.clear()
        self._field_value.clear()

    def _headers_finished(self) -> None:
        disposition = self._part.headers.get("content-disposition", b"")
        kind, options = parse_options_header(disposition)
        if kind != b"form-data" or b"name" not in options:
            raise MalformedUpload("Every part needs Content-Disposition: form-data; name=….")
        self._part.name = options[b"name"].decode("utf-8", errors="replace")
        if self._part.name == FILE_FIELD:
            if self.file is not None:
                raise MalformedUpload("Send exactly one 'file' part per upload.")
            self._part.filename = filename_from_disposition(
                disposition.decode("latin-1"), options.get(b"filename")
            )
            declared = self._part.headers.get("content-type")
            self._part.content_type = declared.decode("latin-1")[:200] if declared else None
            if self._part.content_type and not printable_media_type(self._part.content_type):
                raise MalformedUpload("The file part's Content-Type must be printable ASCII.")
            self.file = self._part
            self._in_file = True
        elif self._part.name in self.fields:
            # Which one counts is up to each parser (the last, here): refused, not guessed.
            raise duplicate_key(self._part.name)
        elif len(self.fields) >= MAX_FIELDS:
            raise MalformedUpload(f"At most {MAX_FIELDS} form fields are accepted.")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            if end > start:
                # The chunk itself when it is all file, else a view of it: no copy either way.
                whole = start == 0 and end == len(data)
                self.pending.append(data if whole else memoryview(data)[start:end])
                self.pending_bytes += end - start
            return
        self._part.value += data[start:end]
        self._form_bytes += end - start
        if len(self._part.value) > MAX_FIELD_BYTES:
            raise MalformedUpload(f"Form field '{self._part.name}' is too large.")
        if self._form_bytes > MAX_FORM_BYTES:
            raise MalformedUpload("The form fields are too large together.")

    def _end(self) -> None:
        self.ended = True

    def take(self) -> list[Bytes]:
        """The file's pieces gathered so far; the reader starts a new list."""
        pieces, self.pending, self.pending_bytes = self.pending, [], 0
        return pieces

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            return
        try:
            self.fields[self._part.name] = self._part.value.decode()
        except UnicodeDecodeError as exc:
            raise MalformedUpload(f"Form field '{self._part.name}' is not UTF-8 text.") from exc


async def receive_multipart(request: Request, store: ObjectStore, key: str, limit: int) -> Received:
    """Stream a multipart/form-data upload's `file` part into `key`; return what was seen."""
    boundary = _boundary(request)
    reader = _MultipartReader()
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    body_digest = _requested_body_digest(request)
    body_hash = hashlib.sha256() if body_digest else None
    writer = await run_in_threadpool(store.writer, key)
    sink = Sink(writer, limit)
    slices = SliceWriter(sink.write)
    try:
        async for chunk in request_chunks(request):
            if body_hash is not None:
                body_hash.update(chunk)
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise MalformedUpload("The multipart body is malformed.") from exc
            if reader.pending_bytes >= SLICE_BYTES:
                await slices.send(reader.take())
        parser.finalize()  # checks nothing (python-multipart 0.0.34): the reader does
        if not reader.ended:
            # A cut body must not become an original that is a prefix of the real file.
            raise MalformedUpload("The body ended before its closing multipart delimiter.")
        if reader.file is None:
            raise MalformedUpload("The upload has no 'file' part.")
        if reader.pending:
            await slices.send(reader.take())
        await slices.finish()
        if body_hash is not None and body_digest is not None:
            _check(body_digest, body_hash.digest(), "Content-Digest")
        stored = await run_in_threadpool(writer.commit)
    except BaseException:
        await slices.settle()
        with anyio.CancelScope(shield=True):  # even when the request itself is cancelled
            await run_in_threadpool(writer.abort)
        raise
    return Received(
        stored=stored,
        fingerprint=sink.fingerprint,
        fields=reader.fields,
        filename=safe_filename(reader.file.filename),
        declared_media_type=reader.file.content_type,
    )


async def request_chunks(request: Request) -> AsyncIterator[bytes]:
    """The body's chunks; a client silent for CASEFILE_BODY_STALL_SECONDS is dropped (408)."""
    stall = body_stall_seconds(request)
    stream = request.stream().__aiter__()
    while True:
        try:
            with anyio.fail_after(stall):
                chunk = await stream.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise UploadTimeout(
                f"No data for {stall:g} s; upload abandoned."
            ) from exc
        except ClientDisconnect as exc:
            raise ClientGone("The client disconnected before the upload ended.") from exc
        if chunk:
            yield chunk


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise MalformedUpload("Send the file as multipart/form-data with a boundary.")
    return boundary


def parse_sha256_digest(header: str | None, name: str) -> bytes | None:
    """An RFC 9530 digest field's sha-256 value (`sha-256=:<base64>:`), if present."""
    if not header:
        return None
    for member in header.split(","):
        algorithm, _, value = member.strip().partition("=")
        if algorithm.strip().lower() == "sha-256":
            value = value.strip()
            if len(value) < 3 or value[0] != ":" or value[-1] != ":":
                raise MalformedUpload(f"{name} sha-256 must be a byte sequence: sha-256=:…:")
            try:
                digest = base64.b64decode(value[1:-1], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise MalformedUpload(f"{name} sha-256 is not base64.") from exc
            if len(digest) != 32:
                raise MalformedUpload(f"{name} sha-256 must be 32 bytes.")
            return digest
    raise MalformedUpload(f"{name} must include sha-256.")


def _requested_body_digest(request: Request) -> bytes | None:
    return parse_sha256_digest(request.headers.get("content-digest"), "Content-Digest")


def _check(expected: bytes, actual: bytes, what: str) -> None:
    if expected != actual:
        raise DigestMismatch(f"The {what} sent does not match what arrived; nothing was stored.")


def check_file_digest(received: Received, request_headers: Any, field_value: str | None) -> None:
    """The client's own SHA-256 of the file (Repr-Digest header or `sha256` form field) must
    match what arrived: end-to-end integrity from the investigator's device."""
    actual = bytes.fromhex(received.fingerprint.sha256)
    header = parse_sha256_digest(request_headers.get("repr-digest"), "Repr-Digest")
    if header is not None:
        _check(header, actual, "Repr-Digest")
    if field_value is not None:
        try:
            claimed = bytes.fromhex(field_value.strip())
        except ValueError as exc:
            raise MalformedUpload("The sha256 field must be 64 hexadecimal digits.") from exc
        if len(claimed) != 32:
            raise MalformedUpload("The sha256 field must be 64 hexadecimal digits.")
        _check(claimed, actual, "sha256 field")
