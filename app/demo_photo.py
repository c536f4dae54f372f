"""A placeholder "site photo" for the demo data set: a small PNG carrying real EXIF (capture
time, GPS position, device) in an eXIf chunk, so that the demo shows what an upload extracts.

Written by hand (zlib + struct) because the demo runs without Pillow; the image itself is a
plain grey gradient that says nothing, as a placeholder must.
"""

from __future__ import annotations

import struct
import zlib
from datetime import datetime
from fractions import Fraction

WIDTH, HEIGHT = 160, 120
MAKE, MODEL = "Casefile demo", "Placeholder (not a photograph)"
ASCII, SHORT, LONG, RATIONAL = 2, 3, 4, 5


def placeholder_photo(taken_at: datetime, lat: float, lon: float) -> bytes:
    rows = b"".join(b"\x00" + bytes((x + y) % 64 + 96 for x in range(WIDTH)) for y in range(HEIGHT))
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"eXIf", _exif(taken_at, lat, lon)),
            _chunk(b"IDAT", zlib.compress(rows, 9)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


Field = tuple[int, int, object]  # tag, TIFF type, value


def _exif(taken_at: datetime, lat: float, lon: float) -> bytes:
    """A big-endian TIFF structure: IFD0 (device) → Exif IFD (capture time), GPS IFD."""
    moment = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    offset = taken_at.strftime("%z")
    ifd0: list[Field] = [(0x010F, ASCII, MAKE), (0x0110, ASCII, MODEL), (0x0112, SHORT, 1)]
    exif: list[Field] = [(0x9003, ASCII, moment), (0x9011, ASCII, f"{offset[:3]}:{offset[3:]}")]
    gps: list[Field] = [
        (0x0001, ASCII, "N" if lat >= 0 else "S"),
        (0x0002, RATIONAL, _degrees(abs(lat))),
        (0x0003, ASCII, "E" if lon >= 0 else "W"),
        (0x0004, RATIONAL, _degrees(abs(lon))),
    ]
    # Layout: header (8), IFD0, Exif IFD, GPS IFD, then the values too long to sit inline.
    sizes = [2 + 12 * (len(ifd) + (2 if ifd is ifd0 else 0)) + 4 for ifd in (ifd0, exif, gps)]
    starts = [8, 8 + sizes[0], 8 + sizes[0] + sizes[1]]
    ifd0_full: list[Field] = [*ifd0, (0x8769, LONG, starts[1]), (0x8825, LONG, starts[2])]
    heap = bytearray()
    heap_start = starts[2] + sizes[2]
    blocks = [_ifd(ifd, heap, heap_start) for ifd in (ifd0_full, exif, gps)]
    return b"MM\x00\x2a" + struct.pack(">I", 8) + b"".join(blocks) + bytes(heap)


def _ifd(fields: list[Field], heap: bytearray, heap_start: int) -> bytes:
    out = bytearray(struct.pack(">H", len(fields)))
    for tag, kind, value in fields:
        count, data = _encode(kind, value)
        if len(data) <= 4:
            out += struct.pack(">HHI", tag, kind, count) + data.ljust(4, b"\x00")
        else:
            out += struct.pack(">HHII", tag, kind, count, heap_start + len(heap))
            heap += data + (b"\x00" if len(data) % 2 else b"")
    return bytes(out + struct.pack(">I", 0))


def _encode(kind: int, value: object) -> tuple[int, bytes]:
    if kind == ASCII:
        text = str(value).encode("ascii") + b"\x00"
        return len(text), text
    if kind == SHORT:
        return 1, struct.pack(">H", value)
    if kind == LONG:
        return 1, struct.pack(">I", value)
    parts = list(value)  # type: ignore[call-overload]
    return len(parts), b"".join(struct.pack(">II", p.numerator, p.denominator) for p in parts)


def _degrees(value: float) -> list[Fraction]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round((value - degrees - minutes / 60) * 3600 * 100), 100)
    return [Fraction(degrees), Fraction(minutes), seconds]
