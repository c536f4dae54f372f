"""Integrity on arrival: the same bytes are one exhibit per case (a second upload is refused and
leaves nothing), and a client's own digest of what it sent (Repr-Digest, the `sha256` field,
Content-Digest) must match what arrived, or nothing is stored."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from tests.evidence.support import (
    Scene,
    assert_problem,
    field_parts,
    file_part,
    multipart,
    post_body,
    post_file,
    rfc9530,
    sha256_hex,
    unique_bytes,
    upload,
)
from tests.fixtures.api import GANJA

MakeCase = Callable[..., dict[str, Any]]


def test_the_same_bytes_twice_in_a_case_are_refused_pointing_at_the_first(
    scene: Scene, make_case: MakeCase
) -> None:
    """A second upload of the same bytes (whatever its name, type or metadata) is a 409 problem
    naming the existing exhibit, and stores nothing: no row, no event, no second object; even
    once the first is withdrawn. The same bytes in another case are that case's own exhibit."""
    data = unique_bytes("dup", 4000)
    first = upload(scene.client, scene.lead, scene.case_id, data, filename="crater.jpg")
    before = scene.state()
    for options in (
        {"filename": "crater.jpg"},
        {"filename": "copy of crater.jpg", "content_type": "image/png"},
        {"fields": {"kind": "photo", "title": "Crater again"}},
    ):
        answer = post_file(scene.client, scene.lead, scene.case_id, data, **options)
        problem = assert_problem(answer, 409, "duplicate-evidence")
        assert problem["existing"] == {
            "id": first["id"],
            "exhibit_number": first["exhibit_number"],
        }
        assert scene.state() == before

    # Withdrawing does not free the bytes: it would make a second exhibit of one original.
    withdrawn = scene.client.post(
        f"/api/v1/evidence/{first['id']}/withdraw",
        json={"reason": "Uploaded to the wrong case."},
        headers=scene.lead.headers,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    answer = post_file(scene.client, scene.lead, scene.case_id, data)
    assert assert_problem(answer, 409, "duplicate-evidence")["existing"]["id"] == first["id"]

    ganja = make_case(scene.lead, GANJA)["id"]
    elsewhere = upload(scene.client, scene.lead, ganja, data, filename="crater.jpg")
    assert elsewhere["id"] != first["id"]
    assert elsewhere["sha256"] == first["sha256"]
    assert elsewhere["exhibit_number"] == "GNJ-0001"
    assert len(scene.store.keys()) == 2


def _wrong_digest(data: bytes) -> str:
    return rfc9530(data + b".")


def test_a_correct_client_digest_is_accepted(scene: Scene, subtests: pytest.Subtests) -> None:
    """Repr-Digest (of the file), the `sha256` form field (hex, any case) and Content-Digest
    (of the whole body, RFC 9530), alone or together, and among other algorithms."""
    for label in ("Repr-Digest", "sha256 field", "sha256 field upper case", "Content-Digest"):
        with subtests.test(label):
            data = unique_bytes(label, 3000)
            fields = {}
            headers = {}
            if label == "Repr-Digest":
                sha512 = base64.b64encode(hashlib.sha512(data).digest()).decode()
                headers["Repr-Digest"] = f"sha-512=:{sha512}:, {rfc9530(data)}"
            elif label.startswith("sha256 field"):
                digest = sha256_hex(data)
                fields["sha256"] = digest.upper() if "upper" in label else digest
            body = multipart([*field_parts(fields), file_part(data)])
            if label == "Content-Digest":
                headers["Content-Digest"] = rfc9530(body)
            answer = post_body(scene.client, scene.lead, scene.case_id, body, headers)
            assert answer.status_code == 201, answer.text
            assert answer.json()["sha256"] == sha256_hex(data)
    with subtests.test("all three"):
        data = unique_bytes("all", 3000)
        body = multipart([*field_parts({"sha256": sha256_hex(data)}), file_part(data)])
        headers = {"Repr-Digest": rfc9530(data), "Content-Digest": rfc9530(body)}
        answer = post_body(scene.client, scene.lead, scene.case_id, body, headers)
        assert answer.status_code == 201, answer.text


def test_a_wrong_client_digest_stores_nothing(scene: Scene, subtests: pytest.Subtests) -> None:
    """What arrived is not what the investigator's device hashed: a 400 digest-mismatch
    problem, and not a trace of it kept (it may be corrupted or substituted)."""
    before = scene.state()
    data = unique_bytes("mismatch", 3000)
    good_body = multipart([file_part(data)])
    attempts: dict[str, tuple[bytes, dict[str, str]]] = {
        "Repr-Digest of other bytes": (good_body, {"Repr-Digest": _wrong_digest(data)}),
        "Repr-Digest of the whole body": (good_body, {"Repr-Digest": rfc9530(good_body)}),
        "sha256 field of other bytes": (
            multipart([*field_parts({"sha256": sha256_hex(data + b".")}), file_part(data)]),
            {},
        ),
        "Content-Digest of the file only": (good_body, {"Content-Digest": rfc9530(data)}),
        "Content-Digest of another body": (
            good_body,
            {"Content-Digest": rfc9530(good_body + b"\r\n")},
        ),
        "right Repr-Digest, wrong Content-Digest": (
            good_body,
            {"Repr-Digest": rfc9530(data), "Content-Digest": _wrong_digest(good_body)},
        ),
    }
    for label, (body, headers) in attempts.items():
        with subtests.test(label):
            answer = post_body(scene.client, scene.lead, scene.case_id, body, headers)
            assert_problem(answer, 400, "digest-mismatch")
            assert scene.state() == before


def test_a_malformed_digest_is_refused(scene: Scene, subtests: pytest.Subtests) -> None:
    """A digest the server cannot check is not silently ignored: 400 (422 for the form
    field), and nothing stored."""
    data = unique_bytes("malformed", 3000)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    short = base64.b64encode(hashlib.sha256(data).digest()[:16]).decode()
    headers = {
        "no colons": f"sha-256={digest}",
        "one colon": f"sha-256=:{digest}",
        "not base64": "sha-256=:not*base64!:",
        "hex, not base64": f"sha-256=:{sha256_hex(data)}:",
        "16 bytes": f"sha-256=:{short}:",
        "empty value": "sha-256=::",
        "no sha-256 among them": f"md5=:{short}:",
        "garbage": "this is not a digest",
    }
    before = scene.state()
    for name in ("Repr-Digest", "Content-Digest"):
        for label, value in headers.items():
            with subtests.test(f"{name}: {label}"):
                answer = post_file(
                    scene.client, scene.lead, scene.case_id, data, headers={name: value}
                )
                assert_problem(answer, 400)
                assert scene.state() == before
    for value in ("xyz", sha256_hex(data)[:-1], sha256_hex(data) + "00", "g" * 64):
        with subtests.test(f"sha256 field: {value[:8]}…{len(value)}"):
            answer = post_file(
                scene.client, scene.lead, scene.case_id, data, fields={"sha256": value}
            )
            assert answer.status_code in (400, 422), answer.text
            assert_problem(answer, answer.status_code)
            assert scene.state() == before
