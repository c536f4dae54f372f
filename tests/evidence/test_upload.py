"""Uploading evidence: the bytes come back identical, fingerprinted as they arrived, numbered as
exhibits of their case, described by what they are (not what they claim to be), and recorded in
the item's chain of custody."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from app.storage.s3 import PART_BYTES
from tests.evidence.support import (
    BOUNDARY,
    MIB,
    PDF,
    Part,
    Scene,
    actions,
    custody,
    download,
    field_parts,
    file_part,
    jpeg,
    multipart,
    object_key,
    parse_disposition,
    png,
    post_body,
    post_file,
    sha256_hex,
    unique_bytes,
    upload,
)
from tests.fixtures.api import GANJA, MakeUser, etag_version

MakeCase = Callable[..., dict[str, Any]]


def test_round_trip_is_byte_identical_and_fingerprinted(
    scene: Scene, subtests: pytest.Subtests
) -> None:
    """Empty, one byte, 5 MiB + 1 (past the server's 1 MiB slices and the multipart parser's
    buffers, with a ragged tail) and one S3 part + 1 (where the S3 store switches to a
    multipart upload) come back byte for byte; SHA-256, CRC32 and size are the source's; the
    store holds exactly these bytes and the item points at them."""
    big = random.Random(5).randbytes(PART_BYTES + 1)
    sources = {"empty": b"", "one byte": b"\x00", "5 MiB + 1": big[: 5 * MIB + 1], "part + 1": big}
    for label, data in sources.items():
        with subtests.test(label):
            answer = post_body(
                scene.client,
                scene.lead,
                scene.case_id,
                multipart([file_part(data, f"{label}.bin")]),
            )
            assert answer.status_code == 201, answer.text
            item = answer.json()
            assert item["sha256"] == sha256_hex(data)
            assert item["crc32"] == zlib.crc32(data)
            assert item["size"] == len(data)
            assert item["withdrawn"] is None
            assert answer.headers["location"] == f"/api/v1/evidence/{item['id']}"

            content = download(scene.client, scene.lead, item["id"])
            assert content.status_code == 200, content.text
            assert content.content == data
            assert content.headers["content-length"] == str(len(data))

            read = scene.client.get(answer.headers["location"], headers=scene.lead.headers)
            assert read.status_code == 200, read.text
            assert read.json() == item
            assert etag_version(read.headers["etag"]) == answer.headers["etag"]
            assert object_key(item) in scene.store.keys()
            assert sha256_hex(scene.store.read(object_key(item))) == sha256_hex(data)
    assert scene.store.leftovers() == []


def test_metadata_and_provenance_are_kept_and_the_ingest_is_in_custody(scene: Scene) -> None:
    """Every form field comes back (times in UTC); the uploader is the caller; the first event
    of the item's chain of custody is its ingest, carrying the fingerprint. The smallest upload
    (only `file`) gets defaults and nothing invented."""
    fields = {
        "kind": "photo",
        "title": "Impact crater in a courtyard",
        "description": "Crater about 1.5 m across.\nShrapnel marks on the east façade.",
        "captured_at": "2020-12-03T13:40:00+04:00",
        "source": "Taken by the team on the site visit of 3 December.",
        "source_url": "https://example.org/posts/martuni-27-september",
        "platform": "Telegram",
        "collected_by": "Amira",
        "collected_at": "2020-12-04T10:00:00Z",
        "collection_method": "Screen capture and original download.",
        "online_identity": "research-account-3",
        "captured_by": "Ani",
        "device": "Canon EOS 5D",
    }
    data = unique_bytes("crater", 300)
    before = datetime.now(UTC)
    item = upload(
        scene.client,
        scene.lead,
        scene.case_id,
        data,
        filename="martuni-courtyard.raw",
        fields=fields,
    )
    assert item["case_id"] == scene.case_id
    assert item["kind"] == "photo"
    assert item["title"] == fields["title"]
    assert item["description"] == fields["description"]
    assert item["captured_at"] == "2020-12-03T09:40:00Z"
    assert item["uploaded_by"] == scene.lead.id
    uploaded_at = datetime.fromisoformat(item["uploaded_at"].replace("Z", "+00:00"))
    assert before.replace(microsecond=0) <= uploaded_at <= datetime.now(UTC)
    assert item["original_filename"] == "martuni-courtyard.raw"
    provenance = item["provenance"]
    for name in (
        "source",
        "platform",
        "collected_by",
        "collection_method",
        "online_identity",
        "captured_by",
        "device",
    ):
        assert provenance[name] == fields[name], name
    assert provenance["source_url"] == fields["source_url"]
    assert provenance["collected_at"] == "2020-12-04T10:00:00Z"
    assert provenance["site_visit_id"] is None
    assert provenance["testimony_id"] is None

    events = custody(scene.client, scene.lead, item["id"])
    assert actions(events) == ["evidence.ingested"]
    ingest = events[0]
    assert ingest["resource_id"] == item["id"]
    assert ingest["actor_id"] == scene.lead.id
    assert ingest["payload"]["sha256"] == sha256_hex(data)
    assert ingest["payload"]["size"] == len(data)
    assert ingest["payload"]["exhibit_number"] == item["exhibit_number"]

    # Only `file`: kind `other`, nothing invented; no declared type, none recorded.
    answer = post_body(
        scene.client,
        scene.lead,
        scene.case_id,
        multipart([file_part(b"smallest", "note.txt", None)]),
    )
    assert answer.status_code == 201, answer.text
    smallest = answer.json()
    assert smallest["kind"] == "other"
    assert smallest["title"] is None
    assert smallest["description"] is None
    assert smallest["captured_at"] is None
    assert smallest["declared_media_type"] is None
    assert set(smallest["provenance"].values()) == {None}


def test_multipart_as_real_clients_write_it_is_accepted(scene: Scene) -> None:
    """Clients differ: a quoted boundary, mixed-case media type and parameters, an extra
    charset parameter, form fields after the file (the `sha256` field included, still
    checked), and the HTTP client's own multipart encoder all make ordinary uploads."""
    client, lead, case_id = scene.client, scene.lead, scene.case_id
    for content_type in (
        f'multipart/form-data; boundary="{BOUNDARY}"',
        f"Multipart/Form-Data; Boundary={BOUNDARY}",
        f"multipart/form-data; charset=utf-8; boundary={BOUNDARY}",
    ):
        data = unique_bytes(content_type)
        answer = post_body(client, lead, case_id, multipart([file_part(data)]), None, content_type)
        assert answer.status_code == 201, (content_type, answer.text)
        assert answer.json()["sha256"] == sha256_hex(data)
    data = unique_bytes("fields last")
    after = [file_part(data), *field_parts({"title": "Crater", "sha256": sha256_hex(data)})]
    answer = post_body(client, lead, case_id, multipart(after))
    assert answer.status_code == 201, answer.text
    assert answer.json()["title"] == "Crater"
    wrong = [file_part(data + b"."), *field_parts({"sha256": sha256_hex(data)})]
    assert post_body(client, lead, case_id, multipart(wrong)).status_code == 400
    data = unique_bytes("encoder")
    encoded = client.post(
        f"/api/v1/cases/{case_id}/evidence",
        files={"file": ("Մարտունի.jpg", data, "image/jpeg")},
        data={"kind": "photo"},
        headers=lead.headers,
    )
    assert encoded.status_code == 201, encoded.text
    assert encoded.json()["original_filename"] == "Մարտունի.jpg"
    assert encoded.json()["sha256"] == sha256_hex(data)


def test_exhibit_numbers_count_per_case_and_are_never_reused(
    scene: Scene, make_case: MakeCase, make_user: MakeUser
) -> None:
    """MRT-0001, MRT-0002, … in Martuni; GNJ-0001 in Ganja, counted apart. A withdrawn item
    keeps its number and the next upload does not take it; a refused duplicate takes none."""
    client, lead, case_id = scene.client, scene.lead, scene.case_id
    first = upload(client, lead, case_id, unique_bytes("a"))
    second = upload(client, lead, case_id, unique_bytes("b"))
    assert (first["exhibit_number"], second["exhibit_number"]) == ("MRT-0001", "MRT-0002")
    withdrawn = client.post(
        f"/api/v1/evidence/{second['id']}/withdraw",
        json={"reason": "Uploaded to the wrong case."},
        headers=lead.headers,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    ganja_lead = make_user("investigator")
    ganja = make_case(ganja_lead, GANJA)
    in_ganja = upload(client, ganja_lead, ganja["id"], unique_bytes("g"))
    assert in_ganja["exhibit_number"] == "GNJ-0001"
    third = upload(client, lead, case_id, unique_bytes("c"))
    assert third["exhibit_number"] == "MRT-0003"
    empty = post_body(client, lead, case_id, multipart([file_part(b"")]))
    assert empty.status_code == 201, empty.text  # the empty file, the first time
    assert empty.json()["exhibit_number"] == "MRT-0004"
    again = post_body(client, lead, case_id, multipart([file_part(b"", "again.bin")]))
    assert again.status_code == 409, again.text
    fifth = upload(client, lead, case_id, unique_bytes("d"))
    assert fifth["exhibit_number"] == "MRT-0005"
    listed = client.get(f"/api/v1/cases/{case_id}/evidence?limit=200", headers=lead.headers)
    assert listed.status_code == 200, listed.text
    numbers = [i["exhibit_number"] for i in listed.json()["items"]]
    assert numbers == [f"MRT-000{n}" for n in (5, 4, 3, 2, 1)], "all listed, newest first"
    paged: list[str] = []
    cursor: str | None = ""
    while cursor is not None:
        page = client.get(
            f"/api/v1/cases/{case_id}/evidence?limit=2{cursor}", headers=lead.headers
        ).json()
        paged += [i["exhibit_number"] for i in page["items"]]
        cursor = f"&cursor={page['next_cursor']}" if page["next_cursor"] else None
    assert paged == numbers, "pages of two: each item once, in the same order"


def test_media_type_is_sniffed_from_the_bytes_not_the_name_or_header(scene: Scene) -> None:
    """A PDF named photo.jpg and declared image/jpeg is a PDF; a JPEG declared as a PDF is a
    JPEG; the declared type is kept apart, and the download is served as what it really is."""
    cases = [
        (PDF, "photo.jpg", "image/jpeg", "application/pdf"),
        (jpeg(seed=1), "statement.pdf", "application/pdf", "image/jpeg"),
        (png(), "notes.txt", "text/plain", "image/png"),
        ("Свидетельство: в 6 утра.\n".encode(), "crater.png", "image/png", "text/plain"),
    ]
    for data, name, declared, real in cases:
        item = upload(
            scene.client, scene.lead, scene.case_id, data, filename=name, content_type=declared
        )
        assert item["media_type"] == real, name
        assert item["declared_media_type"] == declared
        assert item["original_filename"] == name
        content = download(scene.client, scene.lead, item["id"])
        assert content.status_code == 200
        assert content.headers["content-type"].split(";")[0].strip() == real
        assert content.headers["x-content-type-options"] == "nosniff"
        assert content.content == data


# (what the client sends after `name="file"`, the name the item must keep)
FILENAMES: list[tuple[str, bytes, str]] = [
    ("path traversal", b'; filename="../../etc/passwd"', "passwd"),
    ("windows path", b'; filename="C:\\\\x\\\\y.jpg"', "y.jpg"),
    ("windows traversal", b"; filename*=UTF-8''..%5C..%5Cboot.ini", "boot.ini"),
    ("NUL, RFC 5987", b"; filename*=UTF-8''a%00b.jpg", "ab.jpg"),
    ("NUL, raw", b'; filename="a\x00b.jpg"', "ab.jpg"),
    ("escape and bell", b"; filename*=UTF-8''%1B%5B31mred%07.jpg", "[31mred.jpg"),
    ("CR LF", b"; filename*=UTF-8''evil%0D%0AX-Injected%3A%201.jpg", "evilX-Injected: 1.jpg"),
    ("right-to-left override", b"; filename*=UTF-8''photo%E2%80%AEgpj.exe", "photogpj.exe"),
    ("zero-width space", b"; filename*=UTF-8''cra%E2%80%8Bter.jpg", "crater.jpg"),
    ("leading dots", b'; filename="..bashrc"', "bashrc"),
    ("C1 controls", b"; filename*=UTF-8''a%C2%85b%C2%9Bc.jpg", "abc.jpg"),
    ("only dots", b'; filename="...."', "upload"),
    ("only spaces", b'; filename="   "', "upload"),
    ("empty", b'; filename=""', "upload"),
    ("no filename", b"", "upload"),
    ("directory", b'; filename="evidence/"', "upload"),
    (
        "quotes and semicolons",
        b"; filename*=UTF-8''say%20%22hi%22%3B%20x%3D1.jpg",
        'say "hi"; x=1.jpg',
    ),
    (
        "Armenian, raw UTF-8",
        '; filename="Մարտունի հարված.jpg"'.encode(),
        "Մարտունի հարված.jpg",
    ),
    ("Latin-1 RFC 5987", b"; filename*=ISO-8859-1''%E9t%E9.jpg", "été.jpg"),
]


def test_file_names_are_sanitised_and_served_in_a_safe_header(
    scene: Scene, subtests: pytest.Subtests
) -> None:
    """A file name is kept for the record but never trusted: only its last path component,
    without control or formatting characters (NUL, CR/LF, bidi overrides that disguise an
    extension), without leading dots, `upload` if nothing is left. The download's
    Content-Disposition has an ASCII fallback and the exact name in `filename*`, and no name can
    break out of it."""
    for label, params, expected in FILENAMES:
        with subtests.test(label):
            disposition = b'; name="file"' + params
            part = Part("file", unique_bytes(label), disposition=disposition)
            answer = post_body(scene.client, scene.lead, scene.case_id, multipart([part]))
            assert answer.status_code == 201, answer.text
            item = answer.json()
            assert item["original_filename"] == expected
            content = download(scene.client, scene.lead, item["id"])
            assert content.status_code == 200
            fallback, exact = parse_disposition(content.headers["content-disposition"])
            assert exact == expected
            assert len(fallback) == len(expected)
            assert all(a == b for a, b in zip(fallback, expected, strict=True) if a != "_")


def test_long_file_names_are_cut_to_255_utf8_bytes_keeping_the_extension(scene: Scene) -> None:
    """300 Latin letters, and 300 two-byte Armenian ones: both cut at a character boundary to at
    most 255 bytes of UTF-8, keeping `.jpg`, and still a prefix of what was sent."""
    for stem in ("x" * 300, "ա" * 300):
        name = stem + ".jpg"
        item = upload(
            scene.client, scene.lead, scene.case_id, unique_bytes(stem[:1]), filename=name
        )
        kept = item["original_filename"]
        assert len(kept.encode()) <= 255
        assert len(kept.encode()) >= 250, "cut to the limit, not far below it"
        assert kept.endswith(".jpg")
        assert stem.startswith(kept.removesuffix(".jpg"))
        content = download(scene.client, scene.lead, item["id"])
        assert parse_disposition(content.headers["content-disposition"])[1] == kept


def test_text_fields_are_accepted_up_to_their_documented_length(scene: Scene) -> None:
    """A long description (a transcript, a collection log) of 100,000 characters, the maximum
    the API documents for it, is kept whole; one character more is a 422 naming the field."""
    documented = scene.client.get("/openapi.json").json()
    form = documented["paths"]["/api/v1/cases/{case_id}/evidence"]["post"]["requestBody"]
    schema = form["content"]["multipart/form-data"]["schema"]["properties"]["description"]
    limit = next(s["maxLength"] for s in schema["anyOf"] if "maxLength" in s)
    assert limit == 100_000
    text = ("Shelling began at 06:00 and lasted until noon. " * 2200)[:limit]
    item = upload(
        scene.client, scene.lead, scene.case_id, unique_bytes("long"), fields={"description": text}
    )
    assert item["description"] == text
    before = scene.state()
    too_long = post_file(
        scene.client,
        scene.lead,
        scene.case_id,
        unique_bytes("longer"),
        fields={"description": text + "."},
    )
    assert too_long.status_code == 422, too_long.text
    assert "description" in [e["field"] for e in too_long.json()["errors"]]
    assert scene.state() == before


SHORT_TEXT_FIELDS = (
    "title",
    "platform",
    "collected_by",
    "online_identity",
    "captured_by",
    "device",
)


def test_short_text_fields_are_kept_up_to_their_documented_length(scene: Scene) -> None:
    """Each short provenance field takes the 300 characters the API documents for it (a
    platform's long channel name, a team list in `collected_by`), on either database, and
    comes back whole; 301 is a 422 naming the field."""
    documented = scene.client.get("/openapi.json").json()
    form = documented["paths"]["/api/v1/cases/{case_id}/evidence"]["post"]["requestBody"]
    properties = form["content"]["multipart/form-data"]["schema"]["properties"]
    for name in SHORT_TEXT_FIELDS:
        limit = next(s["maxLength"] for s in properties[name]["anyOf"] if "maxLength" in s)
        assert limit == 300, name
    failed = {}
    for name in SHORT_TEXT_FIELDS:
        text = ("Մարտունի " * 40)[:299] + "."
        answer = post_file(
            scene.client, scene.lead, scene.case_id, unique_bytes(name), fields={name: text}
        )
        if answer.status_code != 201:
            failed[name] = answer.status_code
            continue
        kept = answer.json()
        assert (kept["title"] if name == "title" else kept["provenance"][name]) == text
        too_long = post_file(
            scene.client, scene.lead, scene.case_id, unique_bytes(name), fields={name: text + "!"}
        )
        assert too_long.status_code == 422, too_long.text
        assert name in [e["field"] for e in too_long.json()["errors"]]
    assert failed == {}
