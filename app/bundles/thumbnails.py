"""Small previews of photos for the bundle's index.html, made from the originals at export.

A preview must show what the original shows, so it is made from the stored bytes, never from a
thumbnail the camera embedded (an edited photo keeps its old one). Reading originals delays the
first byte of the bundle, so previews have a budget: photos up to MAX_SOURCE_BYTES, at most
MAX_PREVIEWS per bundle and MAX_TOTAL_BYTES read in all; the rest are listed without one.
Hostile images cost nothing worse than a missing preview (Pillow's decompression-bomb guard).
"""

from __future__ import annotations

import base64
import io
import logging
import warnings

from PIL import Image, ImageOps

from app.errors import StorageUnavailable
from app.storage import ObjectMissing, ObjectStore

MAX_SOURCE_BYTES = 12 * 1024 * 1024
MAX_TOTAL_BYTES = 96 * 1024 * 1024
MAX_PREVIEWS = 400
EDGE = 160
PREVIEWABLE = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff"})

log = logging.getLogger(__name__)


class PreviewBudget:
    def __init__(self) -> None:
        self.bytes_left = MAX_TOTAL_BYTES
        self.previews_left = MAX_PREVIEWS

    def allows(self, size: int) -> bool:
        return 0 < size <= MAX_SOURCE_BYTES and size <= self.bytes_left and self.previews_left > 0

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
        return _thumbnail(data)
    except (ObjectMissing, StorageUnavailable):
        log.warning("bundle preview: original %s could not be read", key)
        return None


def _thumbnail(data: bytes) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (EDGE * 2, EDGE * 2))  # JPEG: decode at a reduced scale
                oriented = ImageOps.exif_transpose(image)
                oriented.thumbnail((EDGE, EDGE))
                out = io.BytesIO()
                oriented.convert("RGB").save(out, "JPEG", quality=70, optimize=True)
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
