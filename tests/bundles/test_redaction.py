"""Who is named in a bundle: every requester who may export × may they identify witnesses ×
did the witness consent to courts knowing their identity. A protected identity must not be
anywhere in the ZIP's bytes: not in the raw archive, not in any decompressed file."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from app.audit import service as audit_service
from app.audit.signing import load_or_create_signer
from app.config import Settings
from app.db import create_database
from tests.bundles.support import CONSENTING, NEVER_IN_A_BUNDLE, Dossier
from tests.evidence.support import upload
from tests.fixtures.api import Actor, MakeUser

# (who asks, their case role, may they identify witnesses on the case)
REQUESTERS = [
    ("lead", "lead", True),
    ("lead", "lead", False),
    ("legal", "legal", True),
    ("legal", "legal", False),
    ("admin", None, True),  # admins may identify witnesses everywhere
]


def _requester(
    dossier: Dossier,
    kind: str,
    can_identify: bool,
    make_user: MakeUser,
    add_member: Callable[..., None],
    admin: Actor,
) -> Actor:
    if kind == "admin":
        return admin
    user = make_user("legal" if kind == "legal" else "investigator")
    add_member(dossier.case_id, user, kind, can_identify_witnesses=can_identify)
    return user


def _folded(data: bytes) -> bytes:
    return data.decode("utf-8", errors="replace").casefold().encode()


@pytest.mark.parametrize(("kind", "case_role", "can_identify"), REQUESTERS)
def test_identity_only_with_permission_and_consent(
    dossier: Dossier,
    make_user: MakeUser,
    add_member: Callable[..., None],
    admin: Actor,
    tmp_path: Path,
    kind: str,
    case_role: str | None,
    can_identify: bool,
) -> None:
    requester = _requester(dossier, kind, can_identify, make_user, add_member, admin)
    bundle = dossier.export(requester)
    manifest = bundle.manifest()
    everything = _folded(bundle.everything())

    # Consented, and the requester may identify: named. Otherwise her pseudonym only.
    consenting_named = can_identify
    for text in (CONSENTING["full_name"], CONSENTING["contact"]):
        assert (text.casefold().encode() in everything) is consenting_named, text
    assert manifest["redaction"]["witnesses_identified"] == (["W-0001"] if can_identify else [])
    # Never consented: never named, whoever asks. Home locations and notes never leave.
    for text in NEVER_IN_A_BUNDLE:
        assert text.casefold().encode() not in everything, text
    pseudonymised = {
        w["pseudonym"]: w["because"] for w in manifest["redaction"]["witnesses_pseudonymised"]
    }
    assert "consent" in pseudonymised["W-0002"] or "may not identify" in pseudonymised["W-0002"]
    if not can_identify:
        assert "may not identify" in pseudonymised["W-0001"]
    assert manifest["requester"] == {
        "user_id": requester.id,
        "name": requester.name,
        "global_role": requester.role,
        "case_role": case_role,
        "may_identify_witnesses": can_identify,
    }
    assert manifest["redaction"]["policy"] == "casefile-redaction-v2"
    report = bundle.verify(tmp_path)
    assert report.ok, report.problems


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_texts_naming_a_protected_witness_are_scrubbed(dossier: Dossier) -> None:
    bundle = dossier.export(dossier.lead)
    name = next(n for n in bundle.names() if "W-0002" in n and n.endswith(".txt"))
    text = bundle.read(name).decode()
    assert "My name is [W-0002]; call me on [W-0002]." in text
    visit = bundle.read(next(n for n in bundle.names() if n.startswith("site-visits/"))).decode()
    assert "[W-0002] showed us the fragments" in visit
    photo = next(e for e in bundle.manifest()["exhibits"] if e["exhibit_number"] == "MRT-0001")
    assert photo["provenance"]["captured_by"] == "[W-0002]"
    assert bundle.manifest()["redaction"]["text_replacements"] > 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_case_summary_naming_a_protected_witness_is_scrubbed(
    dossier: Dossier, tmp_path: Path
) -> None:
    url = f"/api/v1/cases/{dossier.case_id}"
    etag = dossier.client.get(url, headers=dossier.lead.headers).headers["etag"]
    changed = dossier.client.patch(
        url,
        json={"summary": "Hovhannes Sargsyan's bakery was hit first.", "tags": ["sargsyan"]},
        headers={**dossier.lead.headers, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    bundle = dossier.export(dossier.lead)
    everything = _folded(bundle.everything())
    assert b"sargsyan" not in everything
    assert b"hovhannes" not in everything
    case = bundle.manifest()["case"]
    assert case["summary"] == "[W-0002]'s bakery was hit first."
    assert case["id"] == dossier.case_id  # ids are never scrubbed
    assert "[W-0002]" in bundle.read("index.html").decode()
    report = bundle.verify(tmp_path)
    assert report.ok, report.problems  # the case.updated event naming him is withheld


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_file_named_after_a_protected_witness_leaves_its_event_whole(
    dossier: Dossier, tmp_path: Path
) -> None:
    """The ingest event of a file named after the witness refers to that name instead of
    holding it: the event goes into the bundle whole (its hash checkable), and the name, in
    audit/texts.jsonl, as the requester may see it — here with the pseudonym, and no salt
    (nothing to check a guess against)."""
    item = upload(
        dossier.client,
        dossier.lead,
        dossier.case_id,
        b"interview audio",
        filename="hovhannes-sargsyan-interview.ogg",
    )
    bundle = dossier.export(dossier.lead)
    everything = _folded(bundle.everything())
    assert b"sargsyan" not in everything
    assert b"hovhannes" not in everything
    manifest = bundle.manifest()
    assert manifest["redaction"]["audit_event_bodies_withheld"] == []
    exhibit = next(e for e in manifest["exhibits"] if e["evidence_id"] == item["id"])
    assert exhibit["path"] == f"evidence/{item['exhibit_number']}_[W-0002]-interview.ogg"
    texts = [json.loads(line) for line in bundle.read("audit/texts.jsonl").splitlines()]
    named = [t for t in texts if t["text"] == "[W-0002]-interview.ogg"]
    assert named == [{"ref": named[0]["ref"], "text": named[0]["text"], "salt": None,
                      "withheld": True}]  # fmt: skip
    report = bundle.verify(tmp_path)
    assert report.ok, report.problems
    assert any("withheld" in note for note in report.notes)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_old_event_naming_a_protected_witness_inline_is_withheld(
    dossier: Dossier, settings: Settings, tmp_path: Path
) -> None:
    """Events from before text references held texts inline (and can never change): one that
    names a protected witness goes into the bundle with its body withheld, its hash kept."""
    database = create_database(
        settings.database_url, signer=load_or_create_signer(settings.signing_key_file)
    )
    try:
        with database.write_sessions.begin() as session:
            audit_service.record(
                session,
                chain=f"case:{dossier.case_id}",
                action="upload.started",
                resource_type="upload",
                resource_id=uuid.uuid4(),
                actor_id=uuid.UUID(dossier.lead.id),
                case_id=uuid.UUID(dossier.case_id),
                payload={"filename": "hovhannes-sargsyan-interview.ogg", "length": 15},
            )
    finally:
        database.dispose()
    bundle = dossier.export(dossier.lead)
    assert b"sargsyan" not in _folded(bundle.everything())
    assert len(bundle.manifest()["redaction"]["audit_event_bodies_withheld"]) == 1
    report = bundle.verify(tmp_path)
    assert report.ok, report.problems
    assert any("bodies withheld" in note for note in report.notes)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_staff_are_named_as_the_requester_may_see_them(
    dossier: Dossier,
    make_user: MakeUser,
    add_member: Callable[..., None],
    admin: Actor,
) -> None:
    legal = make_user("legal")
    add_member(dossier.case_id, legal, "legal")
    staff = {s["user_id"]: s["name"] for s in dossier.export(legal).manifest()["staff"]}
    assert staff[dossier.lead.id] == dossier.lead.name  # a fellow member of the case
    add_member(dossier.case_id, make_user("investigator"), "lead")
    removed = dossier.client.delete(
        f"/api/v1/cases/{dossier.case_id}/members/{dossier.lead.id}", headers=admin.headers
    )
    assert removed.status_code == 204, removed.text
    staff = {s["user_id"]: s["name"] for s in dossier.export(legal).manifest()["staff"]}
    assert staff[dossier.lead.id] is None  # no longer a member: by id only
    staff = {s["user_id"]: s["name"] for s in dossier.export(admin).manifest()["staff"]}
    assert staff[dossier.lead.id] == dossier.lead.name


def test_exporting_needs_the_right_standing(
    dossier: Dossier, make_user: MakeUser, add_member: Callable[..., None]
) -> None:
    for role in ("investigator", "viewer"):
        member = make_user("investigator")
        add_member(dossier.case_id, member, role, can_identify_witnesses=True)
        answer = dossier.bundle(member)
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"
    stranger = make_user("legal")
    assert dossier.bundle(stranger).status_code == 404
    events = dossier.client.get(
        f"/api/v1/cases/{dossier.case_id}/audit", headers=dossier.lead.headers
    ).json()["items"]
    assert all(e["action"] != "bundle.exported" for e in events)  # refusals record nothing
    malformed = dossier.bundle(dossier.lead, include_withdrawn="perhaps")
    assert malformed.status_code == 422
