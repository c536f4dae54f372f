"""The case every bundle test exports: Martuni, with a witness who consented to courts knowing
her name and one who did not, their testimonies (which name them), a site visit, a photo with
EXIF, a document, a file uploaded under a hostile name, and a withdrawn item."""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from app.bundles.verify import BundleReport, verify_bundle
from tests.evidence.support import Shot, jpeg, upload
from tests.fixtures.api import Actor
from tests.fixtures.cli import CASEFILE

CONSENTING = {
    "full_name": "Anahit Gevorgyan",
    "contact": "via the Martuni community centre",
    "home_location": {"description": "Tumanyan street 4, Martuni", "lat": 39.79, "lon": 47.11},
    "identity_notes": "Mother of the girl killed on 27 September",
}
PROTECTED = {
    "full_name": "Hovhannes Sargsyan",
    "contact": "+374 55 123 456",
    "home_location": {"description": "Komitas street 12, Martuni"},
    "identity_notes": "Works at the Martuni bakery",
}
# Strings that must never appear in a bundle: the protected witness's identity, and the parts
# of the consenting witness's identity that a bundle never carries.
NEVER_IN_A_BUNDLE = [
    "Hovhannes",
    "Sargsyan",
    "+374 55 123 456",
    "Komitas street",
    "Martuni bakery",
    "Tumanyan street",
    "Mother of the girl",
]
HOSTILE_NAME = "../../..\\..\\etc/passwd\x00.jpg"


@dataclass
class Dossier:
    """The exported case and the ids a test needs."""

    client: TestClient
    lead: Actor
    case_id: str
    witnesses: dict[str, str]  # full name -> witness id
    testimonies: list[str]
    visit_id: str
    evidence: dict[str, dict[str, Any]]  # label -> evidence item as the API answered
    downloads: dict[str, bytes] = field(default_factory=dict)  # label -> original bytes

    def bundle(self, actor: Actor, **params: Any) -> httpx.Response:
        return self.client.get(
            f"/api/v1/cases/{self.case_id}/bundle", params=params, headers=actor.headers
        )

    def export(self, actor: Actor, **params: Any) -> Bundle:
        answer = self.bundle(actor, **params)
        assert answer.status_code == 200, answer.text
        return Bundle(answer.content, answer)


@dataclass
class Bundle:
    data: bytes
    response: httpx.Response | None = None

    @property
    def zip(self) -> zipfile.ZipFile:
        return zipfile.ZipFile(io.BytesIO(self.data))

    def names(self) -> list[str]:
        return self.zip.namelist()

    def read(self, name: str) -> bytes:
        return self.zip.read(name)

    def manifest(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.read("manifest.json"))
        return loaded

    def save(self, path: Path) -> Path:
        path.write_bytes(self.data)
        return path

    def verify(self, tmp_path: Path, pinned: dict[str, str] | None = None) -> BundleReport:
        return verify_bundle(self.save(tmp_path / "bundle.zip"), pinned)

    def everything(self) -> bytes:
        """The raw ZIP and every entry decompressed: where a leak would show."""
        archive = self.zip
        return self.data + b"".join(archive.read(name) for name in archive.namelist())

    def rewritten(self, change: Callable[[dict[str, bytes]], None]) -> Bundle:
        """The bundle unpacked, changed as a forger would, and zipped again (fresh CRCs)."""
        archive = self.zip
        entries = {name: archive.read(name) for name in archive.namelist()}
        change(entries)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as rezipped:
            for name, data in entries.items():
                rezipped.writestr(name, data)
        return Bundle(out.getvalue())


def verify_cli(path: Path, *options: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`casefile verify-bundle` as a court's expert runs it: no configuration, no server."""
    cwd.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEFILE_", "AWS_"))}
    return subprocess.run(
        [CASEFILE, "verify-bundle", str(path), *options],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def build_dossier(client: TestClient, lead: Actor) -> Dossier:
    case = client.post(
        "/api/v1/cases",
        json={
            "title": "Missile strikes on Martuni",
            "occurred_at": "2020-09-27T06:00:00Z",
            "summary": "Twelve strikes on the first day of the conflict.",
            "weapon": "Smerch 300mm rockets",
            "location": {
                "name": "Martuni",
                "admin_area": "Nagorno-Karabakh",
                "lat": 39.7946,
                "lon": 47.1136,
            },
            "casualties": {"killed": 1, "injured": 1, "children_killed": 1, "children_injured": 1},
        },
        headers=lead.headers,
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    witnesses = {}
    for identity, consent in ((CONSENTING, True), (PROTECTED, False)):
        answer = client.post(
            f"/api/v1/cases/{case_id}/witnesses",
            json={
                **identity,
                "consent": {
                    "share_identity_with_courts": consent,
                    "use_testimony_in_reports": True,
                },
            },
            headers=lead.headers,
        )
        assert answer.status_code == 201, answer.text
        witnesses[identity["full_name"]] = answer.json()["id"]
    statements = {
        "Anahit Gevorgyan": "I, Anahit Gevorgyan, was in the courtyard when the rockets fell.",
        "Hovhannes Sargsyan": "My name is Hovhannes Sargsyan; call me on +374 55 123 456. "
        "Sargsyan is my family name. I live at Komitas street 12, Martuni.",
    }
    testimonies = []
    for name, statement in statements.items():
        answer = client.post(
            f"/api/v1/cases/{case_id}/testimonies",
            json={
                "witness_id": witnesses[name],
                "recorded_at": "2020-12-02T10:00:00Z",
                "statement": statement,
                "language": "hy",
                "translation": f"(translated) {statement}",
                "translation_language": "en",
            },
            headers=lead.headers,
        )
        assert answer.status_code == 201, answer.text
        testimonies.append(answer.json()["id"])
    visit = client.post(
        f"/api/v1/cases/{case_id}/site-visits",
        json={
            "visited_at": "2020-12-03T09:00:00Z",
            "location": {"name": "Martuni, residential district", "lat": 39.7946, "lon": 47.1136},
            "observations": "Crater in a courtyard; Hovhannes Sargsyan showed us the fragments.",
        },
        headers=lead.headers,
    )
    assert visit.status_code == 201, visit.text
    photo = jpeg(Shot(), size=(640, 480))
    document = b"Notes of the visit.\nRemnants of a 9M55K cargo rocket.\n"
    hostile = b"not really a JPEG"
    mistaken = b"uploaded to the wrong case"
    evidence = {
        "photo": upload(
            client,
            lead,
            case_id,
            photo,
            filename="courtyard.jpg",
            content_type="image/jpeg",
            fields={
                "kind": "photo",
                "title": "Impact crater in a courtyard",
                "captured_by": "Hovhannes Sargsyan",
                "site_visit_id": visit.json()["id"],
            },
        ),
        "document": upload(
            client,
            lead,
            case_id,
            document,
            filename="notes.txt",
            content_type="text/plain",
            fields={"kind": "document"},
        ),
        "hostile": upload(client, lead, case_id, hostile, filename=HOSTILE_NAME),
        "withdrawn": upload(client, lead, case_id, mistaken, filename="mistake.bin"),
    }
    withdrawn = client.post(
        f"/api/v1/evidence/{evidence['withdrawn']['id']}/withdraw",
        json={"reason": "Uploaded to the wrong case."},
        headers=lead.headers,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    return Dossier(
        client=client,
        lead=lead,
        case_id=case_id,
        witnesses=witnesses,
        testimonies=testimonies,
        visit_id=visit.json()["id"],
        evidence=evidence,
        downloads={"photo": photo, "document": document, "hostile": hostile, "withdrawn": mistaken},
    )
