"""An upload or a verification may take minutes (a slow connection, a large original): meanwhile
the request holds no database connection. One that did held it idle in a transaction, and
under load (bench.load_mix) uploads took the whole pool: other requests waited 30 s for a
connection, then failed with 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.evidence import service
from tests.evidence.support import MULTIPART, Scene, field_parts, multipart_stream, stream_length

CHUNK = 64 * 1024


def checked_out(scene: Scene) -> int:
    return int(scene.client.app.state.database.engine.pool.checkedout())  # type: ignore[attr-defined]


def test_an_upload_holds_no_connection_while_its_bytes_arrive(scene: Scene) -> None:
    seen: list[int] = []

    def chunks() -> Iterator[bytes]:
        for number in range(6):
            if number >= 2:  # the app is reading the body by now
                seen.append(checked_out(scene))
            yield bytes([number]) * CHUNK

    fields = field_parts({"kind": "photo", "title": "Crater, Martuni"})
    options = {"filename": "crater.jpg", "content_type": "application/octet-stream"}
    answer = scene.client.post(
        f"/api/v1/cases/{scene.case_id}/evidence",
        content=multipart_stream(fields, chunks(), **options),
        headers={
            **scene.lead.headers,
            "Content-Type": MULTIPART,
            "Content-Length": str(stream_length(fields, 6 * CHUNK, **options)),
        },
    )
    assert answer.status_code == 201, answer.text
    assert seen == [0, 0, 0, 0]


def test_a_verification_holds_no_connection_while_it_rereads(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = field_parts({"kind": "photo", "title": "Crater, Martuni"})
    options = {"filename": "crater.jpg", "content_type": "application/octet-stream"}
    uploaded = scene.client.post(
        f"/api/v1/cases/{scene.case_id}/evidence",
        content=b"".join(multipart_stream(fields, [b"x" * CHUNK], **options)),
        headers={**scene.lead.headers, "Content-Type": MULTIPART},
    )
    assert uploaded.status_code == 201, uploaded.text
    seen: list[int] = []
    rehash = service.rehash

    def watched(*args: Any) -> tuple[str | None, int | None]:
        seen.append(checked_out(scene))
        found = rehash(*args)
        seen.append(checked_out(scene))
        return found

    monkeypatch.setattr(service, "rehash", watched)
    verified = scene.client.post(
        f"/api/v1/evidence/{uploaded.json()['id']}/verify", headers=scene.lead.headers
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "intact"
    assert seen == [0, 0]
