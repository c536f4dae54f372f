"""A case bundle, as a legal team receives it: its layout, its files byte for byte, its
signature and checksums checked by the real coreutils and openssl, and the offline verifier."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import struct
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.bundles.support import Bundle, Dossier, verify_cli
from tests.evidence.support import upload
from tests.fixtures.api import Actor, MakeUser

ORDER_HEAD = ["manifest.json", "manifest.json.sig", "public-key.pem", "index.html", "exhibits.csv"]


def test_layout_and_headers(dossier: Dossier) -> None:
    bundle = dossier.export(dossier.lead)
    assert bundle.response is not None
    headers = bundle.response.headers
    assert headers["content-type"] == "application/zip"
    assert int(headers["content-length"]) == len(bundle.data)
    assert re.fullmatch(
        r'attachment; filename="MRT-case-bundle-\d{8}-[0-9a-f]{8}\.zip"; .*',
        headers["content-disposition"],
    )
    names = bundle.names()
    assert names[: len(ORDER_HEAD)] == ORDER_HEAD
    assert names[-1] == "SHA256SUMS"
    assert "audit/case-events.jsonl" in names
    assert sum(n.startswith("testimonies/") for n in names) == 4  # JSON and text, twice
    assert sum(n.startswith("site-visits/") for n in names) == 2
    manifest = bundle.manifest()
    assert manifest["bundle_id"] == headers["casefile-bundle-id"]
    assert manifest["case"]["id"] == dossier.case_id
    assert manifest["requester"]["user_id"] == dossier.lead.id


def test_manifest_is_the_first_entry_and_not_zip64(dossier: Dossier) -> None:
    data = dossier.export(dossier.lead).data
    signature, version, _flags, method = struct.unpack_from("<IHHH", data, 0)
    assert signature == 0x04034B50
    assert method == 0
    assert version == 20  # ZIP64 members need 45
    name_length = struct.unpack_from("<H", data, 26)[0]
    assert data[30 : 30 + name_length] == b"manifest.json"


def test_originals_are_byte_identical(dossier: Dossier) -> None:
    bundle = dossier.export(dossier.lead)
    by_number = {e["exhibit_number"]: e for e in bundle.manifest()["exhibits"]}
    for label in ("photo", "document", "hostile"):
        exhibit = by_number[dossier.evidence[label]["exhibit_number"]]
        assert bundle.read(exhibit["path"]) == dossier.downloads[label]
        assert exhibit["sha256"] == hashlib.sha256(dossier.downloads[label]).hexdigest()


def test_exhibit_list_orders_and_describes_every_item(dossier: Dossier) -> None:
    bundle = dossier.export(dossier.lead)
    text = bundle.read("exhibits.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["exhibit_number"] for r in rows] == ["MRT-0001", "MRT-0002", "MRT-0003", "MRT-0004"]
    photo = rows[0]
    assert photo["path"] == "evidence/MRT-0001_courtyard.jpg"
    assert photo["media_type"] == "image/jpeg"
    assert photo["captured_at_exif"] == "2020-12-03T09:40:12Z"
    assert float(photo["gps_lat"]) == pytest.approx(39.7952, abs=1e-3)
    assert photo["site_visit_id"] == dossier.visit_id
    withdrawn = rows[3]
    assert withdrawn["path"] == ""
    assert withdrawn["withdrawn"]
    assert withdrawn["withdrawal_reason"] == "Uploaded to the wrong case."
    listed = [e["exhibit_number"] for e in bundle.manifest()["exhibits"]]
    assert listed == [r["exhibit_number"] for r in rows]


def test_withdrawn_items_are_listed_and_their_bytes_left_out_unless_asked(
    dossier: Dossier, tmp_path: Path
) -> None:
    mistaken = dossier.downloads["withdrawn"]
    default = dossier.export(dossier.lead)
    assert mistaken not in default.everything()
    entry = next(e for e in default.manifest()["exhibits"] if e["withdrawn"])
    assert entry["path"] is None
    assert entry["withdrawn"]["reason"] == "Uploaded to the wrong case."
    assert default.manifest()["redaction"]["withdrawn_evidence"] == "listed; their files left out"

    full = dossier.export(dossier.lead, include_withdrawn="true")
    entry = next(e for e in full.manifest()["exhibits"] if e["withdrawn"])
    assert full.read(entry["path"]) == mistaken
    assert full.verify(tmp_path).ok


def test_index_page_is_self_contained_and_complete(dossier: Dossier) -> None:
    bundle = dossier.export(dossier.lead)
    page = bundle.read("index.html").decode()
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing to fetch
    assert "<script" not in page
    assert "data:image/jpeg;base64," in page  # the photo's preview, embedded
    for text in (
        "Missile strikes on Martuni",
        "killed 1",
        "MRT-0001",
        dossier.evidence["photo"]["sha256"],
        "2020-12-03T09:40:12Z",  # EXIF capture time
        "Anahit Gevorgyan",  # consented, and the lead may identify
        "W-0002",
        "Crater in a courtyard",
        "Uploaded to the wrong case.",
        "bundle.exported",  # the custody timeline reaches the export itself
        "sha256sum -c SHA256SUMS",
        "openssl pkeyutl -verify",
    ):
        assert text in page, text


def test_the_export_is_in_its_own_audit_log(dossier: Dossier, admin: Actor) -> None:
    bundle = dossier.export(dossier.lead)
    manifest = bundle.manifest()
    lines = bundle.read("audit/case-events.jsonl").decode().splitlines()
    events = [json.loads(line) for line in lines[:-1]]
    checkpoint = json.loads(lines[-1])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    last = json.loads(events[-1]["body"])
    assert last["action"] == "bundle.exported"
    assert last["payload"]["bundle_id"] == manifest["bundle_id"]
    assert checkpoint["type"] == "checkpoint"
    assert checkpoint["length"] == events[-1]["seq"]
    assert manifest["audit"]["head_hash"] == events[-1]["hash"] == checkpoint["head_hash"]
    # The server's own trail agrees, and the export is there for everyone reading it.
    served = dossier.client.get(
        f"/api/v1/cases/{dossier.case_id}/audit", params={"limit": 200}, headers=admin.headers
    ).json()
    assert served["items"][len(events) - 1]["hash"] == events[-1]["hash"]


def test_a_bundle_passes_coreutils_openssl_and_the_verifier(
    dossier: Dossier, tmp_path: Path
) -> None:
    bundle = dossier.export(dossier.lead)
    folder = tmp_path / "unpacked"
    bundle.zip.extractall(folder)
    sums = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert sums.returncode == 0, sums.stdout + sums.stderr
    assert sums.stdout.count(": OK") == len(bundle.names()) - 1
    signature = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "public-key.pem",
            "-rawin",
            "-in",
            "manifest.json",
            "-sigfile",
            "manifest.json.sig",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert signature.returncode == 0, signature.stdout + signature.stderr
    assert "Signature Verified Successfully" in signature.stdout
    # The signed manifest's own list, checked by hand as docs/bundle-format.md shows.
    listed = subprocess.run(
        ["jq", "-r", '.files[] | "\\(.sha256)  \\(.path)"', "manifest.json"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    against = subprocess.run(
        ["sha256sum", "--strict", "-c"],
        input=listed,
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert against.returncode == 0, against.stdout + against.stderr
    assert against.stdout.count(": OK") == len(bundle.names()) - 3
    path = bundle.save(tmp_path / "bundle.zip")
    key = folder / "public-key.pem"
    result = verify_cli(path, "--public-key", str(key), cwd=tmp_path / "elsewhere")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "elsewhere" / "casefile-data").exists()  # needs no server state
    assert "OK: the bundle is intact" in result.stdout  # the verdict, on stdout (issue 15)
    assert result.stderr == ""
    assert "exhibits: 4 listed, 3 files" in result.stdout


def test_an_empty_case_bundles_and_verifies(
    client: TestClient, make_user: MakeUser, tmp_path: Path
) -> None:
    lead = make_user("investigator")
    case = client.post(
        "/api/v1/cases",
        json={"title": "Strike on Ganja", "occurred_at": "2020-10-17T01:00:00Z"},
        headers=lead.headers,
    ).json()
    answer = client.get(f"/api/v1/cases/{case['id']}/bundle", headers=lead.headers)
    assert answer.status_code == 200, answer.text
    bundle = Bundle(answer.content)
    assert bundle.manifest()["exhibits"] == []
    assert not any(name.startswith("evidence/") for name in bundle.names())
    report = bundle.verify(tmp_path)
    assert report.ok, report.problems
    assert report.facts["exhibits"] == 0


def test_empty_and_large_originals_between_small_ones(dossier: Dossier, tmp_path: Path) -> None:
    """Read-ahead takes small originals whole and streams large ones: an empty file and a
    6 MiB one among small ones come out byte for byte, in exhibit order."""
    large = os.urandom(6 * 1024 * 1024)
    empty = upload(dossier.client, dossier.lead, dossier.case_id, b"", filename="empty.txt")
    big = upload(dossier.client, dossier.lead, dossier.case_id, large, filename="video.mp4")
    small = upload(dossier.client, dossier.lead, dossier.case_id, b"after", filename="a.txt")
    bundle = dossier.export(dossier.lead)
    paths = {e["evidence_id"]: e["path"] for e in bundle.manifest()["exhibits"]}
    assert bundle.read(paths[empty["id"]]) == b""
    assert bundle.read(paths[big["id"]]) == large
    assert bundle.read(paths[small["id"]]) == b"after"
    assert bundle.verify(tmp_path).ok


def test_every_export_is_a_new_bundle_with_its_own_event(dossier: Dossier, tmp_path: Path) -> None:
    first = dossier.export(dossier.lead)
    second = dossier.export(dossier.lead)
    assert first.manifest()["bundle_id"] != second.manifest()["bundle_id"]
    assert second.manifest()["audit"]["length"] == first.manifest()["audit"]["length"] + 1
    assert first.verify(tmp_path).ok
    assert second.verify(tmp_path).ok


def test_index_page_links_no_original_a_browser_would_run(dossier: Dossier) -> None:
    """A lawyer clicks through the unpacked bundle's index.html: an HTML, SVG, XML or PDF
    original (or a harmless type under an active name) must not open and run from there. It
    is named, marked "not linked"; passive media (the photo) stay links."""
    hostile = {
        "page.html": b"<!DOCTYPE html><script>alert(1)</script>",
        "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "feed.xml": b'<?xml version="1.0"?><feed/>',
        "report.pdf": b"%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript /JS (x) >> >>\n%%EOF",
        "notes.txt.html": b"only words, but the name says HTML\n",
    }
    for filename, data in hostile.items():
        upload(dossier.client, dossier.lead, dossier.case_id, data, filename=filename)
    bundle = dossier.export(dossier.lead)
    page = bundle.read("index.html").decode()
    exhibits = {e["original_filename"]: e for e in bundle.manifest()["exhibits"]}
    for filename in hostile:
        path = exhibits[filename]["path"]
        assert path in bundle.names(), filename
        assert path in page, filename  # still named: the lawyer knows it is there
        assert f'href="{path}"' not in page, filename
        row = page[page.index(path) - 300 : page.index(path) + 300]
        assert "not linked" in row, filename
    photo = exhibits[dossier.evidence["photo"]["original_filename"]]["path"]
    assert f'href="{photo}"' in page
