"""A WebP photo's EXIF chunk comes after the image data, so it may lie beyond the bytes the
server examines: then nothing is claimed. A header that announces EXIF the file does not hold
is damage, not "no EXIF"."""

from __future__ import annotations

import io

from PIL import Image

from app.evidence.inspect import extract_metadata


def _webp(exif: bool, noise: int = 0) -> bytes:
    image = Image.effect_noise((max(64, noise), max(64, noise)), 80) if noise else None
    image = (image or Image.new("L", (64, 64))).convert("RGB")
    out = io.BytesIO()
    tags = Image.Exif()
    tags[0x010F], tags[0x0110] = "Canon", "EOS 5D"
    image.save(out, "WEBP", exif=tags.tobytes() if exif else b"", lossless=bool(noise))
    return out.getvalue()


def test_webp_exif_chunk_is_read() -> None:
    data = _webp(exif=True)
    exif = (extract_metadata("image/webp", data, len(data)) or {})["exif"]
    assert (exif["make"], exif["model"]) == ("Canon", "EOS 5D")


def test_webp_without_exif_reports_none() -> None:
    data = _webp(exif=False)
    assert extract_metadata("image/webp", data, len(data)) == {"exif": None}


def test_webp_exif_beyond_the_examined_head_is_not_judged() -> None:
    data = _webp(exif=True, noise=600)
    head = data[: data.index(b"EXIF") - 100]
    assert extract_metadata("image/webp", head, len(data)) is None


def test_webp_announcing_exif_it_does_not_hold_is_damaged() -> None:
    data = _webp(exif=True)
    cut = data[: data.index(b"EXIF")]  # the VP8X flag still says EXIF follows
    found = extract_metadata("image/webp", cut, len(cut))
    assert found is not None
    assert found["exif"] is None
    assert "announces EXIF" in found["exif_error"]
    inside = data[: data.index(b"EXIF") + 20]
    found = extract_metadata("image/webp", inside, len(inside))
    assert found is not None
    assert "ends inside its EXIF chunk" in found["exif_error"]
