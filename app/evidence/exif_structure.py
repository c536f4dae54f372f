"""Is an EXIF block whole? Checked before anything is read from it.

exifread reads what it can from a damaged block and carries on: a file cut inside its EXIF
segment yields a camera model 'EO' for 'EOS 5D' or a capture time eleven seconds off, and an
overwritten IFD reads as "no EXIF". Extracted values end up in court bundles, so a block is
first walked here — every IFD, every value's extent, every pointer to another IFD must lie
inside it — and a damaged block is reported as damaged, with nothing read from it.

Only what can be judged is judged: a JPEG's APP1 segment (self-contained, at most 64 KiB), a
WebP file's EXIF chunk and a TIFF file, each when its bytes are all at hand.
"""

from __future__ import annotations

import struct

EXIF_HEADER = b"Exif\x00\x00"
# TIFF 6.0 and EXIF 2.3 field types, and their sizes in bytes (13 = IFD, used by some writers).
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
IFD_POINTERS = {0x8769: "Exif IFD", 0x8825: "GPS IFD", 0xA005: "Interoperability IFD"}
MAX_IFDS = 16  # a real block has IFD0, IFD1, Exif, GPS and Interoperability: 5
MAX_SEGMENTS = 64


class DamagedExif(Exception):
    """The block's structure points outside itself or holds what no EXIF writer writes."""


def jpeg_exif_block(data: bytes, complete: bool) -> bytes | None:
    """The TIFF structure inside a JPEG's APP1 Exif segment, or None if there is none (or it
    lies beyond `data` and `data` is only the file's beginning: nothing can be said)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    position = 2
    for _ in range(MAX_SEGMENTS):
        if position + 4 > len(data) or data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no metadata after this
            return None
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        (length,) = struct.unpack_from(">H", data, position + 2)
        end = position + 2 + length
        payload = data[position + 4 : end]
        if marker == 0xE1 and payload.startswith(EXIF_HEADER[:4]):
            if end > len(data):
                if complete:
                    raise DamagedExif("the file ends inside its EXIF segment")
                return None
            if not payload.startswith(EXIF_HEADER):
                raise DamagedExif("the EXIF segment's header is malformed")
            return payload[len(EXIF_HEADER) :]
        if length < 2:
            return None  # not a JPEG segment list we can follow
        position = end
    return None


class ExifOutOfReach(Exception):
    """The file says it holds EXIF, but beyond the bytes at hand: nothing can be said."""


WEBP_HAS_EXIF = 0x08  # VP8X flags: an EXIF chunk follows the image data


def webp_exif_block(data: bytes, complete: bool) -> bytes | None:
    """The TIFF structure in a WebP file's EXIF chunk, or None if it has none. Raises
    ExifOutOfReach when the VP8X header announces EXIF that lies beyond `data`."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    announced = len(data) >= 21 and data[12:16] == b"VP8X" and bool(data[20] & WEBP_HAS_EXIF)
    position = 12
    for _ in range(MAX_SEGMENTS):
        if position + 8 > len(data):
            break
        fourcc = data[position : position + 4]
        (length,) = struct.unpack_from("<I", data, position + 4)
        end = position + 8 + length
        if fourcc == b"EXIF":
            if end > len(data):
                if complete:
                    raise DamagedExif("the file ends inside its EXIF chunk")
                raise ExifOutOfReach
            block = data[position + 8 : end]
            # The WebP container spec says raw TIFF; some writers keep the JPEG header.
            return block[len(EXIF_HEADER) :] if block.startswith(EXIF_HEADER) else block
        position = end + (length & 1)  # chunks are padded to an even length
    if announced:
        if complete:
            raise DamagedExif("the VP8X header announces EXIF but the file holds none")
        raise ExifOutOfReach
    return None


def check_tiff(block: bytes) -> None:
    """Walk IFD0, its chain and the Exif, GPS and Interoperability IFDs; raise DamagedExif at
    the first thing that cannot be."""
    if len(block) < 8:
        raise DamagedExif("the EXIF block is shorter than its header")
    order = {b"II": "<", b"MM": ">"}.get(block[:2])
    if order is None:
        raise DamagedExif("the EXIF block has no byte-order mark")
    (magic, first) = struct.unpack_from(order + "HI", block, 2)
    if magic != 42:
        raise DamagedExif("the EXIF block is not a TIFF structure")
    pending = [("IFD0", first)]
    seen: set[int] = set()
    while pending:
        name, offset = pending.pop()
        if offset in seen:
            raise DamagedExif(f"{name} is part of a loop")
        seen.add(offset)
        if len(seen) > MAX_IFDS:
            raise DamagedExif("the EXIF block has too many IFDs")
        pending += _check_ifd(block, order, name, offset)


def _check_ifd(block: bytes, order: str, name: str, offset: int) -> list[tuple[str, int]]:
    if offset < 8 or offset + 2 > len(block):
        raise DamagedExif(f"{name} lies outside the block")
    (count,) = struct.unpack_from(order + "H", block, offset)
    if count == 0 and name == "IFD0":
        raise DamagedExif("IFD0 has no entries")
    entries_end = offset + 2 + 12 * count
    if entries_end + 4 > len(block):
        raise DamagedExif(f"the {count} entries of {name} run past the block")
    found: list[tuple[str, int]] = []
    for entry in range(offset + 2, entries_end, 12):
        tag, kind, values, inline = struct.unpack_from(order + "HHII", block, entry)
        size = TYPE_SIZES.get(kind)
        if size is None:
            raise DamagedExif(f"tag {tag:#06x} of {name} has no valid type ({kind})")
        if size * values > 4 and inline + size * values > len(block):
            raise DamagedExif(f"tag {tag:#06x} of {name} points past the block")
        if tag in IFD_POINTERS and name in ("IFD0", "Exif IFD"):
            found.append((IFD_POINTERS[tag], inline))
    (following,) = struct.unpack_from(order + "I", block, entries_end)
    if following and name == "IFD0":  # the thumbnail's IFD; other links are not read
        found.append(("IFD1", following))
    return found
