"""Previews cannot be made to cost an export minutes.

Anyone who may add evidence can upload a crafted image, and every export of the case decodes
it again for index.html's preview. A PNG of a few kilobytes declaring 9000×9000 pixels took
0.7 s to decode; one of 600,000 empty chunks 4 s to open; ten of those made each export wait
40 s before its first byte. Such images now get no preview, at once; every image has a time
budget, every export one for all its previews, and the index says when previews were skipped.
"""

from __future__ import annotations

import io
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.bundles import thumbnails
from tests.evidence.support import jpeg, upload
from tests.fixtures.api import Actor, MakeUser


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def huge_png(width: int = 9000, height: int = 9000) -> bytes:
    """A valid grey PNG of width×height black pixels, compressed to a few dozen kilobytes."""
    squeeze = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0, then the pixels
    idat = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def many_chunks_png(chunks: int) -> bytes:
    """A valid 16×16 PNG with `chunks` tiny text chunks between its header and its pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(buffer, "PNG")
    small = buffer.getvalue()
    end_of_header = 8 + 25  # signature, then the IHDR chunk
    filler = _chunk(b"tEXt", b"k\x00v") * chunks
    return small[:end_of_header] + filler + small[end_of_header:]


@pytest.fixture
def case(
    client: TestClient, make_user: MakeUser, make_case: Callable[..., dict[str, Any]]
) -> tuple[Actor, str]:
    lead = make_user("investigator")
    return lead, make_case(lead)["id"]


def _export(client: TestClient, lead: Actor, case_id: str) -> tuple[str, float]:
    """index.html of a fresh export, and how long the export took."""
    started = time.perf_counter()
    answer = client.get(f"/api/v1/cases/{case_id}/bundle", headers=lead.headers)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    page = zipfile.ZipFile(io.BytesIO(answer.content)).read("index.html").decode()
    return page, elapsed


def _previews(page: str) -> int:
    return len(re.findall(r'<img src="data:image/jpeg;base64,', page))


def test_a_png_declaring_huge_dimensions_gets_no_preview(
    client: TestClient, case: tuple[Actor, str]
) -> None:
    lead, case_id = case
    upload(client, lead, case_id, jpeg(), filename="photo.jpg")
    crafted = huge_png()
    assert len(crafted) < 100_000
    upload(client, lead, case_id, crafted, filename="crafted.png")
    page, _ = _export(client, lead, case_id)
    assert _previews(page) == 1  # the photo's, not the crafted PNG's


def test_a_png_of_many_chunks_gets_no_preview(client: TestClient, case: tuple[Actor, str]) -> None:
    lead, case_id = case
    upload(client, lead, case_id, many_chunks_png(200_000), filename="chunky.png")
    upload(client, lead, case_id, many_chunks_png(50), filename="ordinary.png")
    page, _ = _export(client, lead, case_id)
    assert _previews(page) == 1  # the ordinary one's


def test_an_export_of_crafted_pngs_no_longer_spends_long(
    client: TestClient, case: tuple[Actor, str]
) -> None:
    """Before: 12 × 0.7 s for the huge ones and 3 × 1.3 s for the chunky ones, every export
    (about 13 s on the machine this was written on; 10 chunky PNGs of 9 MB made it 40 s)."""
    lead, case_id = case
    crafted = huge_png()
    for number in range(12):
        upload(client, lead, case_id, crafted + bytes([number]), filename=f"huge-{number}.png")
    for number in range(3):
        data = many_chunks_png(200_000) + bytes([number])
        upload(client, lead, case_id, data, filename=f"chunky-{number}.png")
    page, elapsed = _export(client, lead, case_id)
    assert _previews(page) == 0
    assert elapsed < 5.0, f"the export took {elapsed:.1f} s"


def test_when_the_exports_preview_time_runs_out_the_rest_are_skipped_and_it_says_so(
    client: TestClient, case: tuple[Actor, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lead, case_id = case
    for seed in (0, 40, 80):
        upload(client, lead, case_id, jpeg(seed=seed), filename=f"photo-{seed}.jpg")
    page, _ = _export(client, lead, case_id)
    assert _previews(page) == 3
    assert "Previews skipped" not in page
    monkeypatch.setattr(thumbnails, "EXPORT_SECONDS", 0.0)  # an export already out of time
    page, _ = _export(client, lead, case_id)
    assert _previews(page) == 0
    assert "Previews skipped for 3 image(s)" in page
    assert page.count("evidence/") >= 3  # the items and their files are listed as ever


def test_an_image_past_its_own_time_gets_no_preview_and_the_export_goes_on(
    client: TestClient, case: tuple[Actor, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lead, case_id = case
    upload(client, lead, case_id, jpeg(), filename="photo.jpg")
    monkeypatch.setattr(thumbnails, "IMAGE_SECONDS", 0.0)  # every image out of time at once
    page, _ = _export(client, lead, case_id)
    assert _previews(page) == 0
    assert "photo.jpg" in page
