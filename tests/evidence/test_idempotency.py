"""Idempotency-Key on uploads: on a bad connection an investigator's client retries; the retry
must return the first item, not a twin and not a duplicate-evidence error, and must store no
second copy of the bytes. Reusing the key for something else is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2 as httpx

from tests.evidence.support import (
    Scene,
    assert_problem,
    post_file,
    unique_bytes,
    upload,
)
from tests.fixtures.api import Actor, MakeUser

FIELDS = {"kind": "photo", "title": "Crater", "captured_at": "2020-12-03T09:40:00Z"}


def _post(
    scene: Scene, key: str, data: bytes, *, actor: Actor | None = None, **options: Any
) -> httpx.Response:
    headers: Mapping[str, str] = {"Idempotency-Key": key, **options.pop("headers", {})}
    options.setdefault("fields", FIELDS)
    options.setdefault("filename", "crater.jpg")
    return post_file(
        scene.client, actor or scene.lead, scene.case_id, data, headers=headers, **options
    )


def test_a_retry_with_the_same_key_and_upload_returns_the_first_item(scene: Scene) -> None:
    """Same key, same file, same fields: the same item, marked as replayed, with the same
    Location and ETag; one row, one object, no temp object left by the retry's bytes."""
    data = unique_bytes("retry", 5000)
    first = _post(scene, "upload-7f3a", data)
    assert first.status_code == 201, first.text
    state = scene.state()
    for _ in range(2):
        again = _post(scene, "upload-7f3a", data)
        assert again.status_code == 201, again.text
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["etag"] == first.headers["etag"]
        assert scene.state() == state
    assert scene.evidence_rows() == 1
    assert len(scene.store.keys()) == 1


def test_the_same_key_for_another_upload_is_refused(
    scene: Scene, make_user: MakeUser, add_member: Any
) -> None:
    """Another file, or the same file with other fields, under a used key: 422, nothing
    stored. Without a key, the same bytes are what they are: a duplicate (409). Keys belong
    to their user: a colleague's client may pick the same one without colliding. A key that
    is not 1–255 visible ASCII characters is a 400 before anything is stored."""
    data = unique_bytes("first", 5000)
    first = _post(scene, "k-1", data)
    assert first.status_code == 201, first.text
    before = scene.state()
    attempts: list[dict[str, Any]] = [
        {"data": unique_bytes("other", 5000)},
        {"data": data, "fields": {**FIELDS, "title": "Crater, east side"}},
        {"data": data, "fields": {**FIELDS, "kind": "document"}},
    ]
    for attempt in attempts:
        answer = _post(scene, "k-1", attempt.pop("data"), **attempt)
        assert_problem(answer, 422, "idempotency-key-reused")
        assert scene.state() == before
    without_key = post_file(scene.client, scene.lead, scene.case_id, data, fields=FIELDS)
    assert_problem(without_key, 409, "duplicate-evidence")
    assert scene.state() == before

    colleague = make_user("investigator")
    add_member(scene.case_id, colleague, "investigator")
    theirs = _post(scene, "k-1", unique_bytes("theirs"), actor=colleague)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in theirs.headers

    before = scene.state()
    for key in ("k" * 256, "ключ", "two words", ""):
        raw = key.encode()  # as bytes: the HTTP client would refuse non-ASCII text
        answer = post_file(
            scene.client,
            scene.lead,
            scene.case_id,
            unique_bytes(key),
            headers={"Idempotency-Key": raw},  # type: ignore[dict-item]
        )
        assert_problem(answer, 400)
        assert scene.state() == before
    assert upload(scene.client, scene.lead, scene.case_id, unique_bytes("plain"))["id"]


def test_the_same_key_with_another_file_name_or_declared_type_is_refused(scene: Scene) -> None:
    """The file name and declared type are part of what was sent (and are recorded on the
    item): a request that differs in them is another request, so the key cannot replay the
    first answer, which would silently report a name the client did not send this time."""
    data = unique_bytes("named", 5000)
    first = _post(scene, "k-2", data)
    assert first.status_code == 201, first.text
    before = scene.state()
    variants: list[dict[str, Any]] = [{"filename": "other-name.jpg"}, {"content_type": "image/png"}]
    for changes in variants:
        answer = _post(scene, "k-2", data, **changes)
        assert_problem(answer, 422, "idempotency-key-reused")
        assert scene.state() == before
