"""Small previews of photos for the bundle's index.html, made from the originals at export.

A preview must show what the original shows, so it is made from the stored bytes, never from a
thumbnail the camera embedded (an edited photo keeps its old one). Reading originals delays the
first byte of the bundle, so previews have a budget: photos up to MAX_SOURCE_BYTES, at most
MAX_PREVIEWS per bundle and MAX_TOTAL_BYTES read in all; the rest are listed without one.

Anyone who may add evidence can craft an image, and every export of the case decodes it again,
so a hostile image must cost nothing worse than a missing preview:
- pixels: at most MAX_DECODED_PIXELS decoded, checked from the header before decoding (after
  a JPEG's reduced-scale draft: a 48-megapixel photo decodes as 0.75). A tiny PNG declaring
  9000×9000 pixels took 0.7 s each; now none. Pillow's decompression-bomb guard stays.
- structure: a PNG of more than MAX_PNG_CHUNKS chunks is not opened (Pillow reads chunks one
  by one in Python: one of 600,000 empty chunks took 4 s to open; a real PNG has hundreds).
- time: a deadline per image (IMAGE_SECONDS) checked on every read Pillow makes of the bytes,
  opening included, for whatever else is slow, and one per export
  (EXPORT_SECONDS) after which the remaining previews are skipped; the index says so.
"""

from __future__ import annotations

import base64
import io
import logging
import struct
import time
import warnings
from typing import Any

from PIL import Image, ImageOps

from app.errors import StorageUnavailable
from app.storage import ObjectMissing, ObjectStore

MAX_SOURCE_BYTES = 12 * 1024 * 1024
MAX_TOTAL_BYTES = 96 * 1024 * 1024
MAX_PREVIEWS = 400
MAX_DECODED_PIXELS = 10_000_000
MAX_PNG_CHUNKS = 20_000  # a 12 MiB PNG in 8 KiB IDAT chunks has about 1,500
IMAGE_SECONDS = 2.0
EXPORT_SECONDS = 30.0
EDGE = 160
PREVIEWABLE = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff"})

log = logging.getLogger(__name__)


class PreviewBudget:
    """What one export may spend on previews; `skipped` counts those left out for lack of it."""

    def __init__(self, *, seconds: float | None = None) -> None:
        self.bytes_left = MAX_TOTAL_BYTES
        self.previews_left = MAX_PREVIEWS
        self.deadline = time.monotonic() + (EXPORT_SECONDS if seconds is None else seconds)
        self.skipped = 0

    def allows(self, size: int) -> bool:
        if not 0 < size <= MAX_SOURCE_BYTES:
            return False  # too large or empty: not a matter of budget
        if size > self.bytes_left or self.previews_left <= 0 or self.out_of_time():
            self.skipped += 1
            return False
        return True

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    def spend(self, size: int) -> None:
        self.bytes_left -= size
        self.previews_left -= 1


def preview(
    store: ObjectStore, key: str, version_id: str | None, size: int, budget: PreviewBudget
) -> str | None:
    """A data: URI of a JPEG at most EDGE pixels wide and high, or None."""
    if not budget.allows(size):
        return None
    budget.spend(size)
    try:
        data = b"".join(store.read(key, version_id=version_id))
    except (ObjectMissing, StorageUnavailable):
        log.warning("bundle preview: original %s could not be read", key)
        return None
    # The image's own deadline, never past the export's.
    deadline = min(time.monotonic() + IMAGE_SECONDS, budget.deadline)
    return thumbnail(data, deadline=deadline)


class _OutOfTime(Exception):  # noqa: N818 - a signal: stop decoding, no preview
    pass


class _DeadlineReader(io.BytesIO):
    """The image's bytes, refusing to be read past a deadline: every read Pillow makes —
    chunk by chunk while opening, block by block while decoding — checks the clock, so a
    slow image is abandoned within one block's work, not after it."""

    def __init__(self, data: bytes, deadline: float) -> None:
        super().__init__(data)
        self.deadline = deadline

    def read(self, size: int | None = -1, /) -> bytes:
        if time.monotonic() >= self.deadline:
            raise _OutOfTime()
        return super().read(size)

    def readline(self, size: int | None = -1, /) -> bytes:
        if time.monotonic() >= self.deadline:
            raise _OutOfTime()
        return super().readline(size)


def thumbnail(data: bytes, *, deadline: float) -> str | None:
    """The preview of one image as a data: URI, or None (undecodable, too large, too slow)."""
    if data.startswith(_PNG_SIGNATURE) and not _few_png_chunks(data):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(_DeadlineReader(data, deadline)) as image:
                image.draft("RGB", (EDGE * 2, EDGE * 2))  # JPEG: decode at a reduced scale
                if not _affordable(image):
                    return None
                oriented = ImageOps.exif_transpose(image)
                oriented.thumbnail((EDGE, EDGE))
                out = io.BytesIO()
                oriented.convert("RGB").save(out, "JPEG", quality=70, optimize=True)
    except _OutOfTime:
        log.warning("bundle preview: an image took too long to decode; listed without one")
        return None
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _few_png_chunks(data: bytes) -> bool:
    """Whether the PNG has at most MAX_PNG_CHUNKS chunks (walking their 8-byte heads only)."""
    offset, chunks = len(_PNG_SIGNATURE), 0
    while offset + 8 <= len(data):
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            return False
        (length,) = struct.unpack_from(">I", data, offset)
        if data[offset + 4 : offset + 8] == b"IEND":
            break
        offset += 12 + length
    return True


def _affordable(image: Any) -> bool:
    """Whether decoding costs at most MAX_DECODED_PIXELS (the size is known from the header:
    Image.open decodes nothing yet)."""
    width, height = image.size
    return bool(width * height <= MAX_DECODED_PIXELS)
