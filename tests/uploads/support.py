"""Helpers shared by the upload and storage tests: tus requests, payloads, and looks at the
object store from outside the app (the directory itself, or a separate boto3 client), so that
a store that lost track of its own bytes cannot hide them."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
from PIL import Image
from sqlalchemy import create_engine, update

from app.config import Settings
from app.models.evidence import Upload
from tests.fixtures.api import Actor

MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"
# Mutable fields that legitimately differ between two items holding the same bytes.
PER_ITEM_FIELDS = {"id", "case_id", "exhibit_number", "uploaded_at", "uploaded_by", "version"}


def payload(size: int, seed: int) -> bytes:
    """Deterministic incompressible bytes: a mismatch anywhere changes the SHA-256."""
    return random.Random(seed).randbytes(size)


def jpeg_with_exif() -> bytes:
    """A small real JPEG with camera EXIF, so media sniffing and extraction have work to do."""
    image = Image.new("RGB", (64, 48), (180, 40, 30))
    exif = Image.Exif()
    exif[0x010F] = "Casefile Test Camera"  # Make
    exif[0x0110] = "TC-1"  # Model
    exif[0x0132] = "2020:09:27 06:15:00"  # DateTime
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes(), quality=90)
    return buffer.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode("ascii")


def metadata_header(**pairs: str) -> str:
    """tus Upload-Metadata: `key base64(value)` pairs, comma separated."""
    return ",".join(f"{key} {b64(value)}" for key, value in pairs.items())


def checksum(algorithm: str, data: bytes) -> str:
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm} {base64.b64encode(digest).decode('ascii')}"


def upload_path(location: str) -> str:
    """The path part of a Location (absolute or relative), to address another server."""
    return "/api/v1/uploads/" + location.rstrip("/").rsplit("/", 1)[-1]


def upload_id(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Team:
    """An investigator who created (and so leads) a case."""

    lead: Actor
    case_id: str


@dataclass
class Tus:
    """Raw tus requests, one method per verb, for the protocol details a client library hides."""

    http: httpx.Client

    def options(self, actor: Actor) -> httpx.Response:
        return self.http.options("/api/v1/uploads", headers=actor.headers)

    def create(
        self,
        actor: Actor,
        length: int | str | None,
        metadata: str | None,
        **headers: str,
    ) -> httpx.Response:
        sent = {**TUS, **actor.headers, **headers}
        if length is not None:
            sent["Upload-Length"] = str(length)
        if metadata is not None:
            sent["Upload-Metadata"] = metadata
        return self.http.post("/api/v1/uploads", headers=sent)

    def start(self, actor: Actor, case_id: str, length: int, **pairs: str) -> str:
        """Create an upload and return its path (the test fails if that does not work)."""
        answer = self.create(
            actor, length, metadata_header(case_id=case_id, **{"filename": "f.bin", **pairs})
        )
        assert answer.status_code == 201, answer.text
        return upload_path(answer.headers["Location"])

    def head(self, actor: Actor, path: str, **headers: str) -> httpx.Response:
        return self.http.head(path, headers={**TUS, **actor.headers, **headers})

    def offset(self, actor: Actor, path: str) -> int:
        answer = self.head(actor, path)
        assert answer.status_code == 200, answer.headers
        return int(answer.headers["Upload-Offset"])

    def patch(
        self,
        actor: Actor,
        path: str,
        offset: int,
        data: bytes | Any,
        **headers: str,
    ) -> httpx.Response:
        sent = {**TUS, **actor.headers, "Content-Type": OCTETS, "Upload-Offset": str(offset)}
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        return self.http.patch(path, content=data, headers=sent)

    def delete(self, actor: Actor, path: str) -> httpx.Response:
        return self.http.delete(path, headers={**TUS, **actor.headers})


# -- reading what the API made of an upload ---------------------------------------------------
def get_json(http: httpx.Client, actor: Actor, path: str) -> Any:
    answer = http.get(path, headers=actor.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def evidence(http: httpx.Client, actor: Actor, evidence_id: str) -> dict[str, Any]:
    item: dict[str, Any] = get_json(http, actor, f"/api/v1/evidence/{evidence_id}")
    return item


def content(http: httpx.Client, actor: Actor, evidence_id: str) -> bytes:
    answer = http.get(f"/api/v1/evidence/{evidence_id}/content", headers=actor.headers)
    assert answer.status_code == 200, answer.text
    return answer.content


def custody_actions(http: httpx.Client, actor: Actor, evidence_id: str) -> list[str]:
    page = get_json(http, actor, f"/api/v1/evidence/{evidence_id}/custody?limit=200")
    return [event["action"] for event in page["items"]]


def audit_events(http: httpx.Client, actor: Actor, case_id: str) -> list[dict[str, Any]]:
    page = get_json(http, actor, f"/api/v1/cases/{case_id}/audit?limit=200")
    assert page["next_cursor"] is None, "more audit events than one page: raise the limit"
    items: list[dict[str, Any]] = page["items"]
    return items


def case_evidence(http: httpx.Client, actor: Actor, case_id: str) -> list[dict[str, Any]]:
    page = get_json(http, actor, f"/api/v1/cases/{case_id}/evidence?limit=200")
    items: list[dict[str, Any]] = page["items"]
    return items


def multipart_upload(
    http: httpx.Client, actor: Actor, case_id: str, data: bytes, filename: str, **fields: str
) -> httpx.Response:
    return http.post(
        f"/api/v1/cases/{case_id}/evidence",
        files={"file": (filename, data, "application/octet-stream")},
        data=fields,
        headers=actor.headers,
    )


def comparable(item: dict[str, Any], *also_ignored: str) -> dict[str, Any]:
    """An evidence item without the fields that belong to one item rather than to its bytes."""
    ignored = PER_ITEM_FIELDS | set(also_ignored)
    return {k: v for k, v in item.items() if k not in ignored}


# -- the store, seen from outside -------------------------------------------------------------
@dataclass
class StoreProbe:
    """Where the bytes are: committed originals and the temp objects of unfinished uploads."""

    settings: Settings
    s3: Any | None  # a boto3 client of its own, on the S3 backend

    @property
    def bucket(self) -> str:
        return self.settings.storage.bucket

    @property
    def prefix(self) -> str:
        prefix = self.settings.storage.prefix.strip("/")
        return f"{prefix}/" if prefix else ""

    @property
    def root(self) -> Path:
        return self.settings.storage.path

    def evidence_keys(self) -> list[str]:
        if self.s3 is None:
            base = self.root / "evidence"
            if not base.is_dir():
                return []
            return sorted(
                p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file()
            )
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + "evidence/")
        return sorted(item["Key"][len(self.prefix) :] for item in listed.get("Contents", []))

    def temp_objects(self) -> list[str]:
        """Local: the `tus-*.part` files; S3: open multipart uploads and `incoming/` tails."""
        if self.s3 is None:
            return sorted(p.name for p in (self.root / ".incoming").glob("*.part"))
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
        tails = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + "incoming/")
        return sorted(
            [f"multipart:{u['Key']}" for u in uploads.get("Uploads", [])]
            + [f"object:{t['Key']}" for t in tails.get("Contents", [])]
        )

    def multipart_keys(self) -> list[str]:
        assert self.s3 is not None
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
        return sorted(u["Key"] for u in uploads.get("Uploads", []))

    def put(self, key: str, data: bytes) -> None:
        """Write (or overwrite) an object behind the app's back, as a bad actor or a bad disk."""
        if self.s3 is None:
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                path.chmod(0o640)  # originals are read-only; an intruder changes that first
            path.write_bytes(data)
            return
        self.s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def remove(self, key: str) -> None:
        if self.s3 is None:
            path = self.root / key
            path.chmod(0o640)
            path.unlink()
            return
        self.s3.delete_object(Bucket=self.bucket, Key=self.prefix + key)


# -- the database, changed behind the app's back ----------------------------------------------
def set_upload_expiry(settings: Settings, upload: str, when: datetime) -> None:
    """Move an upload's expiry (the app's own column type converts it for either backend)."""
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            done = connection.execute(
                update(Upload.__table__)  # type: ignore[arg-type]
                .where(Upload.__table__.c.id == uuid.UUID(upload))
                .values(expires_at=when)
            )
            assert done.rowcount == 1
    finally:
        engine.dispose()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)
