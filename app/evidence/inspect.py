"""What a file says about itself: its media type (from its bytes, not its name) and, for
images, its EXIF capture time, GPS position and device. Never fails an upload."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import exifread
import puremagic

from app.evidence.exif_structure import (
    DamagedExif,
    ExifOutOfReach,
    check_tiff,
    jpeg_exif_block,
    webp_exif_block,
)

log = logging.getLogger("casefile.evidence")

UNKNOWN_TYPE = "application/octet-stream"
HEAD_BYTES = 256 * 1024  # enough for magic numbers and a JPEG's EXIF segment
_EXIF_TYPES = ("image/jpeg", "image/tiff", "image/heic", "image/heif", "image/webp", "image/png")


def sniff_media_type(head: bytes) -> str:
    if not head:
        return UNKNOWN_TYPE
    try:
        found = puremagic.from_string(head, mime=True)
    except (puremagic.PureError, ValueError):
        found = ""
    if found:
        return str(found)
    if b"\x00" not in head:
        try:
            head.decode()
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not merely a character cut at the head's end
                return UNKNOWN_TYPE
        return "text/plain"
    return UNKNOWN_TYPE


def extract_metadata(media_type: str, head: bytes, size: int) -> dict[str, Any] | None:
    """EXIF of an image, from the file's first bytes (`head`, the whole file if `size` says
    so). A damaged block gives `exif_error` and no values: never a value the camera did not
    write, and never the same answer as a photo whose EXIF was stripped."""
    if media_type not in _EXIF_TYPES:
        return None
    complete = len(head) >= size
    try:
        source = _exif_source(media_type, head, complete)
    except DamagedExif as exc:
        log.info("damaged EXIF: %s", exc)
        return {"exif": None, "exif_error": f"damaged EXIF data: {exc}"}
    except ExifOutOfReach:
        return None  # not examined: neither "no EXIF" nor damage can be said
    if source is None:
        return {"exif": None}
    try:
        tags = exifread.process_file(io.BytesIO(source), details=False, extract_thumbnail=False)
    except Exception as exc:  # noqa: BLE001 - a malformed EXIF block must never fail an upload
        log.info("unreadable EXIF: %s", type(exc).__name__)
        return {"exif": None, "exif_error": "unreadable EXIF data"}
    if not tags:
        return {"exif": None}
    return {"exif": _exif(tags)}


def _exif_source(media_type: str, head: bytes, complete: bool) -> bytes | None:
    """What exifread is given, once its EXIF block has been found whole (DamagedExif if not).

    A WebP's block is handed over as a bare TIFF structure: exifread (3.5) finds no tags in
    the EXIF chunk as Pillow and libwebp write it."""
    if media_type == "image/jpeg":
        block = jpeg_exif_block(head, complete)
        if block is not None:
            check_tiff(block)
    elif media_type == "image/tiff" and complete:
        check_tiff(head)
    elif media_type == "image/webp":
        block = webp_exif_block(head, complete)
        if block is None:
            return None
        check_tiff(block)
        return block
    return head


def _exif(tags: dict[str, Any]) -> dict[str, Any]:
    return {
        "captured_at": _capture_time(tags),
        "gps": _gps(tags),
        "make": _text(tags.get("Image Make")),
        "model": _text(tags.get("Image Model")),
        "orientation": _orientation(tags.get("Image Orientation")),
        "software": _text(tags.get("Image Software")),
    }


def _text(tag: Any) -> str | None:
    if tag is None:
        return None
    value = str(tag.values if isinstance(tag.values, str) else tag).strip().strip("\x00").strip()
    return value[:200] or None


def _orientation(tag: Any) -> int | None:
    try:
        value = int(tag.values[0])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return value if 1 <= value <= 8 else None


def _capture_time(tags: dict[str, Any]) -> str | None:
    raw = _text(tags.get("EXIF DateTimeOriginal") or tags.get("Image DateTime"))
    if raw is None:
        return None
    try:
        moment = datetime.strptime(raw, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = _text(tags.get("EXIF OffsetTimeOriginal"))
    if offset and len(offset) == 6 and offset[0] in "+-":
        try:
            hours, minutes = int(offset[1:3]), int(offset[4:6])
        except ValueError:
            return moment.isoformat()  # local time, zone unknown
        sign = 1 if offset[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        return moment.replace(tzinfo=zone).astimezone(UTC).isoformat().replace("+00:00", "Z")
    return moment.isoformat()  # EXIF without an offset is camera-local time, zone unknown


def _gps(tags: dict[str, Any]) -> dict[str, float | None] | None:
    latitude = _coordinate(tags.get("GPS GPSLatitude"), _text(tags.get("GPS GPSLatitudeRef")))
    longitude = _coordinate(tags.get("GPS GPSLongitude"), _text(tags.get("GPS GPSLongitudeRef")))
    if latitude is None or longitude is None:
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    altitude = _ratio(tags.get("GPS GPSAltitude"))
    if altitude is not None and _text(tags.get("GPS GPSAltitudeRef")) in ("1", "Below Sea Level"):
        altitude = -altitude
    return {"lat": round(latitude, 7), "lon": round(longitude, 7), "alt": altitude}


def _coordinate(tag: Any, reference: str | None) -> float | None:
    try:
        degrees, minutes, seconds = (float(v.num) / float(v.den) for v in tag.values[:3])
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    return -value if reference in ("S", "W") else value


def _ratio(tag: Any) -> float | None:
    try:
        value = tag.values[0]
        return round(float(value.num) / float(value.den), 2)
    except (AttributeError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return None
