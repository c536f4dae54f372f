"""What a photo says about itself: EXIF capture time (in UTC when the camera recorded its
offset), GPS position and device, read from real JPEGs written by Pillow. A file whose EXIF is
broken, or that has none, is still accepted: metadata extraction never fails an upload, and
never reports a value the file does not hold."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.evidence.support import (
    PDF,
    Scene,
    Shot,
    degrees,
    jpeg,
    png,
    post_file,
    tiff_header_offset,
    upload,
)


def expected_exif(shot: Shot, captured_at: str | None) -> dict[str, Any]:
    gps = None
    if shot.lat is not None and shot.lon is not None:
        alt = None if shot.alt is None else (-shot.alt if shot.alt_ref == 1 else shot.alt)
        gps = {
            "lat": pytest.approx(degrees(shot.lat, shot.lat_ref), abs=1e-7),
            "lon": pytest.approx(degrees(shot.lon, shot.lon_ref), abs=1e-7),
            "alt": alt,
        }
    return {
        "captured_at": captured_at,
        "gps": gps,
        "make": shot.make,
        "model": shot.model,
        "orientation": shot.orientation,
        "software": shot.software,
    }


SHOTS: dict[str, tuple[Shot, str | None]] = {
    "north-east, +04:00": (Shot(), "2020-12-03T09:40:12Z"),
    "south-west, below sea level, -03:30": (
        Shot(
            taken="2020:10:17 23:15:00",
            offset="-03:30",
            lat=(33.0, 27.0, 5.5),
            lat_ref="S",
            lon=(70.0, 38.0, 59.25),
            lon_ref="W",
            alt=28.25,
            alt_ref=1,
            make="Apple",
            model="iPhone 11",
            orientation=1,
            software=None,
        ),
        "2020-10-18T02:45:00Z",  # across midnight into the next day
    ),
    "offset across midnight backwards, +05:45": (
        replace(Shot(), taken="2021:01:01 03:00:00", offset="+05:45"),
        "2020-12-31T21:15:00Z",
    ),
    "no GPS": (replace(Shot(), lat=None, lon=None), "2020-12-03T09:40:12Z"),
    "GPS without altitude": (replace(Shot(), alt=None), "2020-12-03T09:40:12Z"),
    # Without OffsetTimeOriginal the clock is local time in an unknown zone: reported as
    # written, not dressed up as UTC (no `Z`, no offset).
    "no offset": (replace(Shot(), offset=None), "2020-12-03T13:40:12"),
}


def test_exif_values_are_extracted_exactly(scene: Scene, subtests: pytest.Subtests) -> None:
    """Capture time converted to UTC with the recorded offset (including across midnight and
    year ends), or left as local time without one; latitude and longitude signed by their N/S
    and E/W references; altitude below sea level negative; make, model, orientation and
    software as written. A photo cut short after its EXIF block keeps it."""
    for index, (label, (shot, captured_at)) in enumerate(SHOTS.items()):
        with subtests.test(label):
            data = jpeg(shot, seed=index)
            item = upload(
                scene.client,
                scene.lead,
                scene.case_id,
                data,
                filename=f"{index}.jpg",
                content_type="image/jpeg",
                fields={"kind": "photo", "captured_at": "2020-12-03T09:00:00Z"},
            )
            assert item["media_type"] == "image/jpeg"
            assert item["extracted"] == {"exif": expected_exif(shot, captured_at)}
            # What the investigator entered stays apart from what the file says.
            assert item["captured_at"] == "2020-12-03T09:00:00Z"
            read = scene.client.get(f"/api/v1/evidence/{item['id']}", headers=scene.lead.headers)
            assert read.json()["extracted"] == item["extracted"]
    with subtests.test("little-endian, as phones write it"):
        data = jpeg(Shot(), seed=8, little_endian=True)
        assert data[tiff_header_offset(data) : tiff_header_offset(data) + 2] == b"II"
        item = upload(scene.client, scene.lead, scene.case_id, data, filename="le.jpg")
        assert item["extracted"] == {"exif": expected_exif(Shot(), "2020-12-03T09:40:12Z")}
    with subtests.test("PNG with an eXIf chunk"):
        data = jpeg(Shot(), seed=5, image_format="PNG")
        item = upload(scene.client, scene.lead, scene.case_id, data, filename="photo.png")
        assert item["media_type"] == "image/png"
        assert item["extracted"] == {"exif": expected_exif(Shot(), "2020-12-03T09:40:12Z")}
    with subtests.test("cut short in its image data"):
        # An interrupted copy: accepted as it is, its intact EXIF still read exactly.
        good = jpeg(Shot(), size=(256, 256), seed=4)
        cut = good[: len(good) * 2 // 3]
        item = upload(scene.client, scene.lead, scene.case_id, cut, filename="cut.jpg")
        assert item["size"] == len(cut)
        assert item["extracted"] == {"exif": expected_exif(Shot(), "2020-12-03T09:40:12Z")}


def test_exif_of_a_webp_photo_is_read(scene: Scene) -> None:
    """WebP is among the image types the service reads EXIF from: a WebP photo's capture
    time, position and camera are extracted like a JPEG's, not reported as absent."""
    data = jpeg(Shot(), seed=5, image_format="WEBP")
    item = upload(scene.client, scene.lead, scene.case_id, data, filename="photo.webp")
    assert item["media_type"] == "image/webp"
    assert item["extracted"] == {"exif": expected_exif(Shot(), "2020-12-03T09:40:12Z")}


def _no_exif_values(extracted: dict[str, Any] | None) -> bool:
    if extracted is None:
        return True
    exif = extracted.get("exif")
    return exif is None or all(v is None for v in exif.values())


def test_files_without_exif_upload_with_no_exif_values(
    scene: Scene, subtests: pytest.Subtests
) -> None:
    """A JPEG without EXIF, a PNG, a PDF, a text file and an empty file are all accepted, and
    nothing is extracted from them."""
    files = {
        "JPEG without EXIF": jpeg(None, seed=3),
        "PNG": png(),
        "PDF": PDF,
        "text": "Показания свидетеля\n".encode(),
        "empty": b"",
    }
    for label, data in files.items():
        with subtests.test(label):
            answer = post_file(scene.client, scene.lead, scene.case_id, data, filename="f")
            assert answer.status_code == 201, answer.text
            assert _no_exif_values(answer.json()["extracted"]), answer.json()["extracted"]


def _holds(name: str, value: Any, truth: dict[str, Any]) -> bool:
    """Whether an extracted value is one the camera wrote (or less of it): the capture time
    may come without its offset (then as local time), the position without its altitude."""
    if value is None or value == truth[name]:
        return True
    if name == "captured_at":
        return bool(value == "2020-12-03T13:40:12")
    if name == "gps":
        return bool(value == {**truth["gps"], "alt": None})
    return False


def _overwrite(data: bytes, start: int, end: int, fill: int) -> bytes:
    broken = bytearray(data)
    broken[start:end] = bytes([fill]) * (end - start)
    return bytes(broken)


def _broken_photos() -> dict[str, bytes]:
    """A good photo, damaged inside its APP1 (EXIF) segment: bytes overwritten, or the file cut
    short within the block (mid-way through a value, as an interrupted copy would)."""
    good = jpeg(Shot(), seed=9)
    tiff = tiff_header_offset(good)
    model = good.index(b"EOS 5D", tiff)
    taken = good.index(b"2020:12:03 13:40:12", tiff)
    return {
        "IFD entries overwritten with 0xA5": _overwrite(good, tiff + 8, tiff + 80, 0xA5),
        "IFD entries overwritten with 0xFF": _overwrite(good, tiff + 8, tiff + 80, 0xFF),
        "IFD offset pointing far away": _overwrite(good, tiff + 4, tiff + 8, 0xFF),
        "IFD entry count zeroed": _overwrite(good, tiff + 8, tiff + 10, 0x00),
        "cut 20 bytes into the EXIF block": good[: tiff + 20],
        "cut 60 bytes into the EXIF block": good[: tiff + 60],
        "cut inside the camera model": good[: model + 2],
        "cut inside the capture time": good[: taken + 18],
    }


def test_damaged_exif_is_flagged_never_read_and_never_fails_the_upload(
    scene: Scene, subtests: pytest.Subtests
) -> None:
    """EXIF comes from cameras, phones and editing tools of every quality, and from people who
    want to confuse. Damage inside the block never costs the upload (201, every byte kept).
    It is reported as such, with `exif_error` (or no extraction at all), not as a photo that
    simply has no EXIF: stripped and damaged EXIF are different findings (the second may be
    tampering). And whatever is reported is what the camera wrote: a camera 'EO' for
    'EOS 5D', a make 'MM' (the TIFF byte-order mark) or a capture time eleven seconds off would
    be false evidence in a court bundle."""
    truth = expected_exif(Shot(), "2020-12-03T09:40:12Z")
    for label, data in _broken_photos().items():
        with subtests.test(label):
            answer = post_file(scene.client, scene.lead, scene.case_id, data, filename="broken.jpg")
            assert answer.status_code == 201, answer.text
            assert answer.json()["size"] == len(data)
            extracted = answer.json()["extracted"]
            assert extracted is None or extracted.get("exif_error"), extracted
            exif = (extracted or {}).get("exif") or {}
            assert {k: v for k, v in exif.items() if not _holds(k, v, truth)} == {}
