"""Evidence metadata (sent as form fields or tus Upload-Metadata) and what is read back."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AnyHttpUrl, ConfigDict, Field, StringConstraints

from app.kit.schemas import InputSchema, LongText, PastUtcDatetime, ReadSchema, ShortText
from app.models.evidence import EvidenceKind

Url = Annotated[AnyHttpUrl, Field(description="Where the material was found online.")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]


class EvidenceMetadata(InputSchema):
    """Everything but the file. In a multipart upload, each is a form field."""

    kind: EvidenceKind = EvidenceKind.OTHER
    title: ShortText | None = None
    description: LongText | None = None
    captured_at: PastUtcDatetime | None = Field(
        default=None, description="As the investigator says."
    )
    source: LongText | None = None
    # Collected online (Berkeley Protocol).
    source_url: Url | None = None
    platform: ShortText | None = None
    collected_by: ShortText | None = None
    collected_at: PastUtcDatetime | None = None
    collection_method: LongText | None = None
    online_identity: ShortText | None = Field(
        default=None, description="The account or persona used to collect it."
    )
    # From the field.
    captured_by: ShortText | None = None
    device: ShortText | None = None
    site_visit_id: uuid.UUID | None = None
    testimony_id: uuid.UUID | None = None
    sha256: Sha256Hex | None = Field(
        default=None, description="The file's SHA-256 as the client computed it (checked)."
    )


class Provenance(ReadSchema):
    source: str | None
    source_url: str | None
    platform: str | None
    collected_by: str | None
    collected_at: datetime | None
    collection_method: str | None
    online_identity: str | None
    captured_by: str | None
    device: str | None
    site_visit_id: uuid.UUID | None
    testimony_id: uuid.UUID | None


class Withdrawal(ReadSchema):
    at: datetime
    by: uuid.UUID
    reason: str


class GpsRead(ReadSchema):
    lat: float
    lon: float
    alt: float | None = Field(description="Metres above sea level (negative below it).")


class ExifRead(ReadSchema):
    """What the camera wrote, read only from an EXIF block found whole."""

    captured_at: str | None = Field(
        description="ISO 8601: UTC (`Z`) when the camera recorded its offset from UTC, "
        "otherwise camera-local time without a zone (it cannot be known)."
    )
    gps: GpsRead | None
    make: str | None
    model: str | None
    orientation: int | None = Field(description="EXIF orientation, 1 to 8.")
    software: str | None


class ExtractedMetadata(ReadSchema):
    """A shape of its own (not an open object), so that clients read `exif.gps.lat`."""

    exif: ExifRead | None = Field(description="None: no EXIF, or EXIF that was not read.")
    # Absent rather than null when there is nothing to say: stripped and damaged EXIF are
    # different findings, and only the second has this key.
    exif_error: str | None = Field(
        default=None,
        description="Why the file's EXIF was not read (damaged or unreadable).",
        exclude_if=lambda value: value is None,
    )


class EvidenceRead(ReadSchema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "2d1c0f3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                    "case_id": "6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b",
                    "exhibit_number": "MRT-0001",
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "crc32": 3632233996,
                    "size": 2841133,
                    "media_type": "image/jpeg",
                    "declared_media_type": "image/jpeg",
                    "original_filename": "martuni-courtyard.jpg",
                    "kind": "photo",
                    "title": "Impact crater in a courtyard",
                    "captured_at": "2020-12-03T09:40:00Z",
                    "extracted": {
                        "exif": {
                            "captured_at": "2020-12-03T09:40:12Z",
                            "gps": {"lat": 39.7953, "lon": 47.1136, "alt": 612.5},
                            "make": "Canon",
                            "model": "EOS 5D",
                            "orientation": 1,
                            "software": None,
                        }
                    },
                    "uploaded_at": "2020-12-03T15:00:00Z",
                    "withdrawn": None,
                    "version": 1,
                }
            ]
        }
    )

    id: uuid.UUID
    case_id: uuid.UUID
    exhibit_number: str
    sha256: str
    crc32: int
    size: int
    media_type: str = Field(description="Sniffed from the content.")
    declared_media_type: str | None = Field(description="As the client declared it.")
    original_filename: str = Field(description="Sanitised.")
    kind: EvidenceKind
    title: str | None
    description: str | None
    captured_at: datetime | None = Field(description="As the investigator entered it.")
    provenance: Provenance
    extracted: ExtractedMetadata | None = Field(
        description="What the file says about itself (EXIF), apart from what was entered."
    )
    uploaded_by: uuid.UUID
    uploaded_at: datetime
    retained_until: datetime | None = Field(description="S3 Object Lock retention, if any.")
    withdrawn: Withdrawal | None
    version: int


class WithdrawRequest(InputSchema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Uploaded to the wrong case."}]}
    )

    reason: Annotated[LongText, StringConstraints(min_length=3, max_length=2000)]


class IntegrityStatus(StrEnum):
    """What re-reading an original found (an enum in the document, so clients compare members,
    not strings)."""

    INTACT = "intact"
    ALTERED = "altered"
    MISSING = "missing"


class VerificationResult(ReadSchema):
    evidence_id: uuid.UUID
    exhibit_number: str
    status: IntegrityStatus
    expected_sha256: str
    found_sha256: str | None
    expected_size: int
    found_size: int | None
    checked_at: datetime
