"""A video-sized original (200 MiB and a ragged tail) through a real socket, streamed both ways:
neither the test nor, by design, the server ever holds it whole."""

from __future__ import annotations

import base64
import hashlib
import random
import zlib
from collections.abc import Iterator

import pytest

from tests.evidence.support import (
    MIB,
    MULTIPART,
    Scene,
    field_parts,
    multipart_stream,
    stream_length,
)
from tests.fixtures.api import LiveServer

SIZE = 200 * MIB + 12_345


class Source:
    """Deterministic pseudo-random bytes, produced a chunk at a time and fingerprinted as they
    go, as the investigator's device would."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.rng = random.Random(seed)
        self.sha256 = hashlib.sha256()
        self.crc32 = 0
        self.tail = b""

    def chunks(self) -> Iterator[bytes]:
        remaining = self.size
        while remaining:
            chunk = self.rng.randbytes(min(MIB + 17, remaining))  # never aligned with 1 MiB
            remaining -= len(chunk)
            self.sha256.update(chunk)
            self.crc32 = zlib.crc32(chunk, self.crc32)
            self.tail = (self.tail + chunk)[-4096:]
            yield chunk


@pytest.mark.slow
def test_a_200_mib_original_streams_in_and_out_byte_identical(
    scene: Scene, live_server: LiveServer
) -> None:
    """Uploaded as a generated stream with an exact Content-Length, downloaded as a stream:
    size, SHA-256 and CRC32 are the source's on arrival, on the way out, and on re-reading the
    stored object; a suffix range serves the true tail."""
    source = Source(SIZE, seed=200)
    fields = field_parts({"kind": "video", "title": "Drone footage of Martuni, 28 September"})
    options = {"filename": "martuni-drone.mp4", "content_type": "video/mp4"}
    length = stream_length(fields, SIZE, **options)
    with live_server.client(headers=scene.lead.headers) as http:
        answer = http.post(
            f"/api/v1/cases/{scene.case_id}/evidence",
            content=multipart_stream(fields, source.chunks(), **options),
            headers={"Content-Type": MULTIPART, "Content-Length": str(length)},
            timeout=600,
        )
        assert answer.status_code == 201, answer.text
        item = answer.json()
        assert item["size"] == SIZE
        assert item["sha256"] == source.sha256.hexdigest()
        assert item["crc32"] == source.crc32

        received = hashlib.sha256()
        size = 0
        with http.stream("GET", f"/api/v1/evidence/{item['id']}/content", timeout=600) as got:
            assert got.status_code == 200
            assert got.headers["content-length"] == str(SIZE)
            digest = base64.b64encode(source.sha256.digest()).decode()
            assert got.headers["repr-digest"] == f"sha-256=:{digest}:"
            for chunk in got.iter_bytes():
                received.update(chunk)
                size += len(chunk)
        assert size == SIZE
        assert received.hexdigest() == source.sha256.hexdigest()

        tail = http.get(f"/api/v1/evidence/{item['id']}/content", headers={"Range": "bytes=-4096"})
        assert tail.status_code == 206
        assert tail.content == source.tail
        assert tail.headers["content-range"] == f"bytes {SIZE - 4096}-{SIZE - 1}/{SIZE}"

        verified = http.post(f"/api/v1/evidence/{item['id']}/verify", timeout=600)
        assert verified.status_code == 200, verified.text
        assert verified.json()["status"] == "intact"
    assert scene.store.leftovers() == []
