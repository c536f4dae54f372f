"""What crafted images cost an export's previews: the worst a case member can upload.

Times the preview step of one export (app.bundles.thumbnails, as the bundle builder calls it,
from the original's bytes already in memory) over 10 PNGs of 600,000 empty chunks (9 MB each,
within the export's 96 MiB of preview reads) and 12 PNGs of a few kilobytes declaring
9000×9000 pixels, then over ordinary photos for comparison. Pure: no database, no store.

Run: .venv/bin/python -m bench.preview_budget
"""

from __future__ import annotations

import io
import struct
import time
import zlib

from PIL import Image

from app.bundles import thumbnails
from bench.common import machine, today


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def huge_png(side: int = 9000) -> bytes:
    squeeze = zlib.compressobj(9)
    idat = b"".join(squeeze.compress(bytes(side + 1)) for _ in range(side)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def many_chunks_png(chunks: int = 600_000) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, "PNG")
    small = buffer.getvalue()
    return small[:33] + _chunk(b"tEXt", b"k\x00v") * chunks + small[33:]


def photo(seed: int) -> bytes:
    buffer = io.BytesIO()
    gradient = Image.radial_gradient("L").resize((4000, 3000)).point(lambda v: (v + seed) % 256)
    gradient.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def previews_of(images: list[bytes]) -> tuple[float, int]:
    """Seconds for one export's previews of `images`, and how many were made."""
    budget = thumbnails.PreviewBudget()
    made = 0
    started = time.perf_counter()
    for data in images:
        if not budget.allows(len(data)):
            continue
        budget.spend(len(data))
        deadline = min(time.monotonic() + thumbnails.IMAGE_SECONDS, budget.deadline)
        made += thumbnails.thumbnail(data, deadline=deadline) is not None
    return time.perf_counter() - started, made


def main() -> None:
    print(f"## Preview budget (`python -m bench.preview_budget`) — {today()}")
    print(machine())
    chunky, huge = many_chunks_png(), huge_png()
    cases = {
        f"10 PNGs of 600,000 chunks ({len(chunky) / 1e6:.1f} MB each)": [chunky] * 10,
        f"12 PNGs of 9000×9000 pixels ({len(huge) / 1e3:.0f} kB each)": [huge] * 12,
        "both together": [chunky] * 10 + [huge] * 12,
        "20 ordinary 12-megapixel JPEG photos": [photo(i) for i in range(20)],
    }
    for label, images in cases.items():
        seconds, made = previews_of(images)
        print(f"- {label}: {seconds:.2f} s, {made} previews")


if __name__ == "__main__":
    main()
