"""Photos for the load driver: real JPEGs of 2–5 MiB with EXIF (capture time, GPS, camera),
made once, and a unique variant of one per upload (a JPEG comment segment after SOI), since the
same bytes are one exhibit per case and a duplicate would not be a new upload.
"""

from __future__ import annotations

import io
import os
import struct
import uuid

from PIL import Image

MIB = 1024 * 1024


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 80D"  # Model
    exif[0x0132] = "2020:10:08 11:42:05"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (39.0, 48.0, 55.0)  # Martuni area
    gps[3], gps[4] = "E", (47.0, 6.0, 41.0)
    return exif


def make_photos(count: int = 6, smallest: int = 2 * MIB, largest: int = 5 * MIB) -> list[bytes]:
    """`count` JPEGs whose sizes step evenly from `smallest` to `largest` (±5%). Noise does not
    compress, so a photo's size is set by its pixel count."""
    photos = []
    for index in range(count):
        target = smallest + (largest - smallest) * index // max(count - 1, 1)
        # Noise at quality 85 costs ~2.3 bytes per pixel; one refinement lands within a few %.
        pixels = target / 2.3
        for _ in range(3):
            width = int((pixels * 4 / 3) ** 0.5)
            height = int(width * 3 / 4)
            image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=85, exif=_exif())
            size = out.tell()
            if abs(size - target) <= target * 0.05:
                break
            pixels *= target / size
        photos.append(out.getvalue())
    return photos


def unique_variant(photo: bytes) -> bytes:
    """The photo with a COM segment naming a fresh UUID right after SOI: new bytes, same image."""
    comment = f"casefile-bench {uuid.uuid4()}".encode()
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return photo[:2] + segment + photo[2:]
