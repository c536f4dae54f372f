"""Control characters in every evidence metadata field, by both doors: multipart form fields and
tus Upload-Metadata. The JSON sweep (test_hostile_input.py) cannot reach these: they are form
fields and base64 header values, checked by the same schema. Refused with 422 naming the field;
no row, no object, no temporary file left (a multipart upload has stored its bytes by the time
its trailing fields are checked, and must remove them).
"""

from __future__ import annotations

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from tests.evidence.support import (
    Part,
    field_names,
    field_parts,
    file_part,
    multipart,
    post_body,
)
from tests.hostile.routes import CONTROLS, LINE_BREAKS, TextKind, World
from tests.hostile.support import Probes, assert_refused
from tests.uploads.support import TUS, metadata_header

FIELDS: dict[str, TextKind] = {
    "title": "single",
    "description": "multi",
    "source": "multi",
    "platform": "single",
    "collected_by": "single",
    "collection_method": "multi",
    "online_identity": "single",
    "captured_by": "single",
    "device": "single",
    "kind": "token",
    "source_url": "token",
    "captured_at": "token",
}
VALID = {"kind": "photo", "source_url": "https://example.org/a", "captured_at": "2020-12-03T09:00Z"}
# A lone surrogate has no UTF-8 form: as bytes it is a field that is not UTF-8 (400, below).
SENDABLE = [char for char in CONTROLS if not 0xD800 <= ord(char) <= 0xDFFF]


def _cases() -> list[tuple[str, str]]:
    cases = []
    for field, kind in FIELDS.items():
        hostile = SENDABLE if kind == "multi" else SENDABLE + LINE_BREAKS
        cases += [(field, VALID.get(field, "Crater")[:3] + char + "x") for char in hostile]
    return cases


def _post_fields_after_file(
    client: TestClient, world: World, data: bytes, fields: list[Part]
) -> httpx.Response:
    """The file part first: its bytes are stored before the fields after it are read."""
    body = multipart([file_part(data, "a.jpg", "image/jpeg"), *fields])
    return post_body(client, world.admin, world.case_id, body)


def test_multipart_metadata_with_controls_is_refused(
    client: TestClient, world: World, probes: Probes, subtests: pytest.Subtests
) -> None:
    before = probes.state()
    for n, (field, value) in enumerate(_cases()):
        with subtests.test(f"{field} {value!r}"):
            data = f"metadata sweep {n}".encode()
            answer = _post_fields_after_file(client, world, data, field_parts({field: value}))
            problem = assert_refused(answer, 422)
            assert field in field_names(problem), problem
    assert probes.state() == before


def test_a_form_field_that_is_not_utf8_is_refused(
    client: TestClient, world: World, probes: Probes
) -> None:
    before = probes.state()
    for raw in (b"Crater \xff", b"Crater \xed\xa0\x80", b"Crater \xc0\x80"):
        answer = _post_fields_after_file(client, world, raw, [Part("title", raw)])
        assert_refused(answer, 400)
    assert probes.state() == before


def test_tus_metadata_with_controls_is_refused_at_creation(
    client: TestClient, world: World, probes: Probes, subtests: pytest.Subtests
) -> None:
    before = probes.state()
    for field, value in _cases():
        with subtests.test(f"{field} {value!r}"):
            headers = {**TUS, **world.admin.headers, "Upload-Length": "10"}
            headers["Upload-Metadata"] = metadata_header(
                case_id=world.case_id, filename="a.jpg", **{field: value}
            )
            problem = assert_refused(client.post("/api/v1/uploads", headers=headers), 422)
            assert field in field_names(problem), problem
    assert probes.state() == before
