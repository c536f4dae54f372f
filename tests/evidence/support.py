"""Helpers for the evidence tests: hand-built multipart bodies, terse HTTP calls, a look into
the object store from outside the app, and JPEGs with real EXIF blocks.

Multipart bodies are built here, byte by byte, rather than by the HTTP client: the tests need
part headers that no well-behaved client writes (NUL and CR/LF in file names, two `file` parts,
a missing closing delimiter) and need to know the exact body to compute its Content-Digest.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import httpx2 as httpx
from botocore.config import Config
from fastapi.testclient import TestClient
from PIL import Image
from PIL.ExifTags import GPS, IFD, Base

from app.config import Settings
from tests.fixtures.api import Actor, DatabaseProbe

BOUNDARY = "casefile-evidence-test-3f9a7c"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
MIB = 1024 * 1024
PROBLEM = "application/problem+json"


# -- multipart bodies -------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body. `disposition` replaces the generated
    Content-Disposition parameters after `form-data` when a test needs odd bytes there."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None
    disposition: bytes | None = None

    def head(self) -> bytes:
        if self.disposition is not None:
            params = self.disposition
        else:
            params = b'; name="' + self.name.encode() + b'"'
            if self.filename is not None:
                # As browsers write it (HTML5): raw UTF-8, quotes and line breaks %-escaped.
                escaped = self.filename.replace('"', "%22").replace("\r", "%0D")
                params += b'; filename="' + escaped.replace("\n", "%0A").encode() + b'"'
        lines = [b"Content-Disposition: form-data" + params]
        if self.content_type is not None:
            lines.append(b"Content-Type: " + self.content_type.encode())
        return b"\r\n".join(lines) + b"\r\n\r\n"


def file_part(
    data: bytes,
    filename: str | None = "evidence.bin",
    content_type: str | None = "application/octet-stream",
) -> Part:
    return Part("file", data, filename=filename, content_type=content_type)


def field_parts(fields: Mapping[str, str] | None) -> list[Part]:
    return [Part(name, value.encode()) for name, value in (fields or {}).items()]


def multipart(parts: Iterable[Part], boundary: str = BOUNDARY) -> bytes:
    delimiter = b"--" + boundary.encode()
    body = b"".join(delimiter + b"\r\n" + part.head() + part.data + b"\r\n" for part in parts)
    return body + delimiter + b"--\r\n"


def multipart_stream(
    head_parts: Iterable[Part],
    chunks: Iterable[bytes],
    *,
    filename: str = "stream.bin",
    content_type: str = "application/octet-stream",
) -> Iterator[bytes]:
    """A body whose `file` part (last) is produced chunk by chunk: it never exists whole."""
    delimiter = b"--" + BOUNDARY.encode()
    for part in head_parts:
        yield delimiter + b"\r\n" + part.head() + part.data + b"\r\n"
    yield delimiter + b"\r\n" + file_part(b"", filename, content_type).head()
    yield from chunks
    yield b"\r\n" + delimiter + b"--\r\n"


def stream_length(head_parts: Iterable[Part], size: int, **file_options: str) -> int:
    """The exact length of `multipart_stream(...)` for a file of `size` bytes."""
    return sum(len(c) for c in multipart_stream(head_parts, [], **file_options)) + size


def rfc9530(data: bytes) -> str:
    """`sha-256=:<base64>:`, the structured-field byte sequence of RFC 9530."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unique_bytes(label: str = "", size: int = 64) -> bytes:
    """Content no other upload of the test has, so that it is never a duplicate."""
    seed = f"{label}:{uuid.uuid4()}".encode()
    out = bytearray()
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:size])


# -- HTTP --------------------------------------------------------------------------------------
def post_body(
    client: TestClient | httpx.Client,
    actor: Actor,
    case_id: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    content_type: str = MULTIPART,
) -> httpx.Response:
    return client.post(
        f"/api/v1/cases/{case_id}/evidence",
        content=body,
        headers={**actor.headers, "Content-Type": content_type, **(headers or {})},
    )


def post_file(
    client: TestClient | httpx.Client,
    actor: Actor,
    case_id: str,
    data: bytes,
    *,
    filename: str | None = "evidence.bin",
    content_type: str | None = "application/octet-stream",
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    parts = [*field_parts(fields), file_part(data, filename, content_type)]
    return post_body(client, actor, case_id, multipart(parts), headers)


def upload(
    client: TestClient | httpx.Client,
    actor: Actor,
    case_id: str,
    data: bytes,
    **options: Any,
) -> dict[str, Any]:
    """Upload and insist on a 201; the evidence item as answered."""
    answer = post_file(client, actor, case_id, data, **options)
    assert answer.status_code == 201, answer.text
    item: dict[str, Any] = answer.json()
    return item


def visit_and_testimony(client: TestClient, actor: Actor, case_id: str) -> tuple[str, str]:
    """A site visit and a witness's testimony logged in the case: their ids."""
    visit = client.post(
        f"/api/v1/cases/{case_id}/site-visits",
        json={"visited_at": "2020-12-03T09:00:00Z", "observations": "Crater in a courtyard."},
        headers=actor.headers,
    )
    assert visit.status_code == 201, visit.text
    witness = client.post(
        f"/api/v1/cases/{case_id}/witnesses",
        json={"full_name": "Anahit Gevorgyan"},
        headers=actor.headers,
    )
    assert witness.status_code == 201, witness.text
    testimony = client.post(
        f"/api/v1/cases/{case_id}/testimonies",
        json={
            "witness_id": witness.json()["id"],
            "recorded_at": "2020-12-02T10:00:00Z",
            "statement": "The first missile fell at six in the morning.",
        },
        headers=actor.headers,
    )
    assert testimony.status_code == 201, testimony.text
    return visit.json()["id"], testimony.json()["id"]


def download(
    client: TestClient | httpx.Client,
    actor: Actor,
    evidence_id: str,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    return client.get(
        f"/api/v1/evidence/{evidence_id}/content", headers={**actor.headers, **(headers or {})}
    )


def custody(client: TestClient, actor: Actor, evidence_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/evidence/{evidence_id}/custody?limit=200", headers=actor.headers)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["next_cursor"] is None, "more custody events than one page: raise the limit"
    items: list[dict[str, Any]] = page["items"]
    return items


def actions(events: list[dict[str, Any]]) -> list[str]:
    return [e["action"] for e in events]


def case_events(client: TestClient, actor: Actor, case_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/cases/{case_id}/audit?limit=200", headers=actor.headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def assert_problem(answer: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    """A problem+json answer with this status (and type, if given); its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM), answer.headers
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status
    if slug is not None:
        assert problem["type"] == f"urn:casefile:problem:{slug}", problem
    assert "Traceback" not in answer.text
    return problem


def field_names(problem: dict[str, Any]) -> list[str]:
    return [e["field"] for e in problem.get("errors") or []]


_DISPOSITION = re.compile(
    r"attachment; filename=\"(?P<ascii>[\x20\x21\x23-\x5b\x5d-\x7e]*)\"; "
    r"filename\*=UTF-8''(?P<encoded>[A-Za-z0-9%!#$&+\-.^_`|~]*)"
)


def parse_disposition(header: str) -> tuple[str, str]:
    """The ASCII fallback and the decoded `filename*` of an attachment header, after checking
    it has nothing a header parser could trip on (quotes, CR/LF, extra parameters)."""
    match = _DISPOSITION.fullmatch(header)
    assert match is not None, f"unsafe or unexpected Content-Disposition: {header!r}"
    return match["ascii"], unquote(match["encoded"], errors="strict")


# -- the object store, seen from outside the app ------------------------------------------------
class StoreProbe:
    """Looks at the test's object store directly (a directory, or a bucket prefix through its
    own boto3 client), so that an app that lost track of an object cannot hide it."""

    def __init__(self, settings: Settings) -> None:
        location = settings.storage
        self.kind = location.scheme
        self.root = location.path.resolve()
        self.bucket = location.bucket
        self.prefix = f"{location.prefix}/" if location.prefix else ""
        self._s3: Any = None
        if self.kind == "s3":
            self._s3 = boto3.client(
                "s3",
                endpoint_url=settings.s3_endpoint_url,
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
            )

    def close(self) -> None:
        if self._s3 is not None:
            self._s3.close()

    def keys(self) -> set[str]:
        """Every committed object (keys relative to the store's root or prefix)."""
        if self._s3 is None:
            if not self.root.is_dir():
                return set()
            return {
                p.relative_to(self.root).as_posix()
                for p in self.root.rglob("*")
                if p.is_file() and p.relative_to(self.root).parts[0] != ".incoming"
            }
        found: set[str] = set()
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            found |= {item["Key"][len(self.prefix) :] for item in page.get("Contents", [])}
        return found

    def leftovers(self) -> list[str]:
        """Unfinished writes: temp files, or open multipart uploads."""
        if self._s3 is None:
            incoming = self.root / ".incoming"
            return sorted(p.name for p in incoming.iterdir()) if incoming.is_dir() else []
        answer = self._s3.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
        return sorted(u["Key"] for u in answer.get("Uploads", []))

    def incoming_bytes(self) -> int:
        """How much an upload in progress has written so far (0 if nothing started)."""
        if self._s3 is None:
            incoming = self.root / ".incoming"
            if not incoming.is_dir():
                return 0
            return sum(p.stat().st_size for p in incoming.iterdir() if p.is_file())
        return len(self.leftovers())

    def read(self, key: str) -> bytes:
        if self._s3 is None:
            return (self.root / key).read_bytes()
        body = self._s3.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def overwrite(self, key: str, data: bytes) -> None:
        """Tamper with an original behind the app's back (on a non-versioned bucket a plain
        PutObject replaces it; on disk the read-only file is made writable first)."""
        if self._s3 is None:
            path = self.root / key
            path.chmod(0o640)
            path.write_bytes(data)
            path.chmod(0o440)
            return
        self._s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def delete(self, key: str) -> None:
        if self._s3 is None:
            path: Path = self.root / key
            path.chmod(0o640)
            path.unlink()
            return
        self._s3.delete_object(Bucket=self.bucket, Key=self.prefix + key)


def object_key(item: dict[str, Any]) -> str:
    """Where the app keeps an item's original. A layout detail, used only to tamper with it; a
    test checks it against what the store holds, so a change of layout fails loudly."""
    return f"evidence/{item['case_id']}/{item['id']}"


@dataclass
class Scene:
    """A case (Martuni) led by an investigator, and probes into what the app stored."""

    client: TestClient
    lead: Actor
    case_id: str
    db: DatabaseProbe
    store: StoreProbe
    settings: Settings
    backend: str

    def state(self) -> tuple[dict[str, list[tuple[Any, ...]]], set[str], list[str]]:
        """Everything an upload could have left: rows (audit events included), objects, temps."""
        return self.db.snapshot(), self.store.keys(), self.store.leftovers()

    def evidence_rows(self) -> int:
        count: int = self.db.scalar("SELECT count(*) FROM evidence_items")
        return count


# -- images -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shot:
    """What a camera wrote into a photo's EXIF block (None: not written)."""

    taken: str | None = "2020:12:03 13:40:12"
    offset: str | None = "+04:00"
    lat: tuple[float, float, float] | None = (39.0, 47.0, 42.56)
    lat_ref: str = "N"
    lon: tuple[float, float, float] | None = (47.0, 6.0, 49.0)
    lon_ref: str = "E"
    alt: float | None = 612.5
    alt_ref: int = 0
    make: str | None = "Canon"
    model: str | None = "EOS 5D"
    orientation: int | None = 6
    software: str | None = "Darktable 4.6"


def jpeg(
    shot: Shot | None = Shot(),
    size: tuple[int, int] = (64, 48),
    seed: int = 0,
    image_format: str = "JPEG",
    little_endian: bool = False,
) -> bytes:
    """A real image (JPEG unless told) written by Pillow, with the given EXIF (or none), its
    TIFF structure big-endian (Pillow's default) or little-endian (as most phones write it)."""
    image = Image.new("RGB", size, (120 + seed % 100, 30, 30))
    buffer = io.BytesIO()
    options: dict[str, Any] = {"quality": 80} if image_format in ("JPEG", "WEBP") else {}
    if shot is None:
        image.save(buffer, image_format, **options)
        return buffer.getvalue()
    exif = Image.Exif()
    if little_endian:
        exif.endian = "<"
    for tag, value in (
        (Base.Make, shot.make),
        (Base.Model, shot.model),
        (Base.Orientation, shot.orientation),
        (Base.Software, shot.software),
    ):
        if value is not None:
            exif[tag] = value
    sub = exif.get_ifd(IFD.Exif)
    if shot.taken is not None:
        sub[Base.DateTimeOriginal] = shot.taken
    if shot.offset is not None:
        sub[Base.OffsetTimeOriginal] = shot.offset
    if shot.lat is not None and shot.lon is not None:
        gps = exif.get_ifd(IFD.GPSInfo)
        gps[GPS.GPSLatitudeRef] = shot.lat_ref
        gps[GPS.GPSLatitude] = shot.lat
        gps[GPS.GPSLongitudeRef] = shot.lon_ref
        gps[GPS.GPSLongitude] = shot.lon
        if shot.alt is not None:
            gps[GPS.GPSAltitudeRef] = shot.alt_ref
            gps[GPS.GPSAltitude] = shot.alt
    image.save(buffer, image_format, exif=exif, **options)
    return buffer.getvalue()


def degrees(dms: tuple[float, float, float], ref: str) -> float:
    value = dms[0] + dms[1] / 60 + dms[2] / 3600
    return -value if ref in ("S", "W") else value


def tiff_header_offset(data: bytes) -> int:
    """Where the TIFF header (the EXIF data proper) starts inside a JPEG's APP1 segment."""
    index = data.find(b"Exif\x00\x00")
    assert index > 0, "no EXIF block"
    return index + 6


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 80, 160)).save(buffer, "PNG")
    return buffer.getvalue()


PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
