"""A real JPEG whose EXIF names its owner, as phones write it (Artist, ImageDescription,
Software), so that what the server extracts or re-encodes from a photo is checked too."""

from __future__ import annotations

import io

from PIL import Image
from PIL.ExifTags import Base


def named_photo(*, artist: str, description: str, software: str) -> bytes:
    image = Image.new("RGB", (64, 48), (90, 120, 60))
    exif = Image.Exif()
    exif[Base.Make] = "Samsung"
    exif[Base.Model] = "SM-A515F"
    exif[Base.Artist] = artist
    exif[Base.ImageDescription] = description
    exif[Base.Software] = software
    exif[Base.DateTime] = "2020:12:03 09:41:00"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=85)
    return buffer.getvalue()
