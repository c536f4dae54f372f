"""Texts written before their name was protected are withheld once it is.

A visit note names a neighbour; days later she is registered as a witness (or an identifier
records how else her name is spelled, or she is linked to a second case). From then on the
note is withheld from members who may not identify, in reads, search and the audit trail —
and the note itself did not change: its version, ETag and `updated_at` are as before (a
version that moved would tell a viewer which texts name the new witness).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.evidence.support import post_file, unique_bytes
from tests.fixtures.api import MARTUNI, Actor, MakeUser, etag_version
from tests.protection.bodies import strings
from tests.protection.corpus import MARKER
from tests.protection.normalise import protected_strings

NEWCOMER = {"full_name": "Narine Hakobyan", "contact": "+374 93 765432"}
SPELLING = "Akopyan"  # how the interpreter wrote her name; recorded later by the lead
NAMES = protected_strings([NEWCOMER["full_name"], SPELLING], [], [NEWCOMER["contact"]])


@dataclass
class Notes:
    client: TestClient
    lead: Actor
    viewer: Actor
    case_id: str
    paths: list[str] = field(default_factory=list)  # what names her, written before

    def read(self, actor: Actor, path: str) -> Any:
        answer = self.client.get(path, headers=actor.headers)
        assert answer.status_code == 200, answer.text
        return answer

    def stamps(self, actor: Actor) -> dict[str, tuple[str, int, str]]:
        """Each note's ETag, version and updated_at, as `actor` reads them."""
        out = {}
        for path in self.paths:
            answer = self.read(actor, path)
            body = answer.json()
            out[path] = (answer.headers["etag"], body["version"], body.get("updated_at", ""))
        return out

    def named(self, actor: Actor) -> dict[str, list[str]]:
        """Which notes name her, in any spelling, as `actor` reads them."""
        found = {}
        for path in self.paths:
            hits = _names_in(self.read(actor, path).json())
            if hits:
                found[path] = hits
        return found

    def search(self, actor: Actor, query: str) -> set[str]:
        answer = self.client.get("/api/v1/cases", params={"q": query}, headers=actor.headers)
        assert answer.status_code == 200, answer.text
        return {item["id"] for item in answer.json()["items"]}


def _names_in(body: Any) -> list[str]:
    """Which of her names any string of the body holds (each string searched on its own)."""
    return sorted({name for text in strings(body) for name in NAMES.found_in(text)})


def _created(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def write_notes(client: TestClient, lead: Actor, viewer: Actor, case_id: str, name: str) -> Notes:
    """The lead writes `name` into a case summary, a testimony, a visit and an evidence item."""
    notes = Notes(client, lead, viewer, case_id)
    base = f"/api/v1/cases/{case_id}"
    other = _created(
        client.post(f"{base}/witnesses", json={"full_name": "Karen Sahakyan"}, headers=lead.headers)
    )
    etag = notes.read(lead, base).headers["etag"]
    changed = client.patch(
        base,
        json={"summary": f"{name} saw the second strike."},
        headers={**lead.headers, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    testimony = _created(
        client.post(
            f"{base}/testimonies",
            headers=lead.headers,
            json={
                "witness_id": other["id"],
                "recorded_at": "2020-12-02T10:00:00Z",
                "statement": f"My neighbour {name} was at her window.",
            },
        )
    )
    visit = _created(
        client.post(
            f"{base}/site-visits",
            headers=lead.headers,
            json={
                "visited_at": "2020-12-03T09:00:00Z",
                "observations": f"Spoke to {name} at the gate.",
            },
        )
    )
    item = _created(
        post_file(
            client,
            lead,
            case_id,
            unique_bytes("porch", 128),
            filename=f"{name} porch.txt",
            content_type="text/plain",
            fields={"title": f"Porch of {name}"},
        )
    )
    notes.paths = [
        base,
        f"/api/v1/testimonies/{testimony['id']}",
        f"/api/v1/site-visits/{visit['id']}",
        f"/api/v1/evidence/{item['id']}",
    ]
    return notes


Setup = Callable[[str], Notes]


@pytest.fixture
def notes_naming(client: TestClient, make_user: MakeUser, add_member: Callable[..., None]) -> Setup:
    def setup(name: str) -> Notes:
        lead, viewer = make_user("investigator"), make_user("viewer")
        case_id = _created(client.post("/api/v1/cases", json=MARTUNI, headers=lead.headers))["id"]
        add_member(case_id, viewer, "viewer")
        notes = write_notes(client, lead, viewer, case_id, name)
        assert notes.named(viewer), "before she is registered, the notes are as written"
        return notes

    return setup


def _assert_withheld_unchanged(notes: Notes, before: dict[str, Any], query: str) -> None:
    named = notes.named(notes.viewer)
    assert not named, f"still shown to the viewer after the change: {named}"
    for path in notes.paths:
        assert MARKER in notes.read(notes.viewer, path).text, path
    # A GET's tag names its body (app.kit.conditional): the viewer's body changed (the marker
    # is there to read), and a case's counts change when a witness is linked. What must not
    # move is the record's version and updated_at, for anyone.
    assert _versions(notes.stamps(notes.viewer)) == _versions(before["viewer"]), (
        "the record's version moved (as the viewer reads it)"
    )
    assert _versions(notes.stamps(notes.lead)) == _versions(before["lead"]), (
        "the record's version moved (as the lead reads it)"
    )
    assert notes.search(notes.viewer, query) == set(), f"q={query!r} still finds the case"
    assert notes.case_id in notes.search(notes.lead, query)
    audit = notes.client.get(
        f"/api/v1/cases/{notes.case_id}/audit",
        params={"limit": "200"},
        headers=notes.viewer.headers,
    )
    assert not _names_in(audit.json()), "the audit trail still names her to the viewer"


def _versions(stamps: dict[str, tuple[str, int, str]]) -> dict[str, tuple[str, int, str]]:
    return {path: (etag_version(tag), v, at) for path, (tag, v, at) in stamps.items()}


def _stamps(notes: Notes) -> dict[str, Any]:
    return {"viewer": notes.stamps(notes.viewer), "lead": notes.stamps(notes.lead)}


def test_registering_a_witness_withholds_texts_written_before(notes_naming: Setup) -> None:
    notes = notes_naming(NEWCOMER["full_name"])
    before = _stamps(notes)
    assert notes.case_id in notes.search(notes.viewer, "Hakobyan")
    _created(
        notes.client.post(
            f"/api/v1/cases/{notes.case_id}/witnesses", json=NEWCOMER, headers=notes.lead.headers
        )
    )
    _assert_withheld_unchanged(notes, before, "Hakobyan")


def test_recording_an_other_spelling_withholds_texts_written_before(
    notes_naming: Setup,
) -> None:
    notes = notes_naming(SPELLING)
    witness = _created(
        notes.client.post(
            f"/api/v1/cases/{notes.case_id}/witnesses", json=NEWCOMER, headers=notes.lead.headers
        )
    )
    assert notes.named(notes.viewer), f"{SPELLING!r} is not hers until it is recorded"
    before = _stamps(notes)
    path = f"/api/v1/witnesses/{witness['id']}"
    etag = notes.read(notes.lead, path).headers["etag"]
    patched = notes.client.patch(
        path, json={"other_spellings": [SPELLING]}, headers={**notes.lead.headers, "If-Match": etag}
    )
    assert patched.status_code == 200, f"PATCH other_spellings: {patched.text}"
    _assert_withheld_unchanged(notes, before, SPELLING)


def test_linking_a_witness_withholds_the_linked_cases_texts_written_before(
    notes_naming: Setup, client: TestClient, make_user: MakeUser
) -> None:
    """She is a witness of another case first; this case's notes name her but are shown until
    she is linked here too (a name is protected in the texts of the cases she is linked to)."""
    notes = notes_naming(NEWCOMER["full_name"])
    elsewhere = _created(
        client.post(
            "/api/v1/cases", json={**MARTUNI, "title": "Elsewhere"}, headers=notes.lead.headers
        )
    )["id"]
    witness = _created(
        client.post(
            f"/api/v1/cases/{elsewhere}/witnesses", json=NEWCOMER, headers=notes.lead.headers
        )
    )
    assert notes.named(notes.viewer), "not a witness of this case yet: shown as written"
    before = _stamps(notes)
    _created(
        client.post(
            f"/api/v1/cases/{notes.case_id}/witnesses",
            json={"witness_id": witness["id"]},
            headers=notes.lead.headers,
        )
    )
    _assert_withheld_unchanged(notes, before, "Hakobyan")


def test_texts_found_to_name_a_new_witness_are_recorded_for_identifiers(
    notes_naming: Setup,
) -> None:
    notes = notes_naming(NEWCOMER["full_name"])
    _created(
        notes.client.post(
            f"/api/v1/cases/{notes.case_id}/witnesses", json=NEWCOMER, headers=notes.lead.headers
        )
    )
    path = f"/api/v1/cases/{notes.case_id}/protected-matches"
    answer = notes.client.get(path, params={"limit": "200"}, headers=notes.lead.headers)
    assert answer.status_code == 200, answer.text
    found = {  # an event per text, or one listing the texts: either names their ids
        ident
        for e in answer.json()["items"]
        if e["action"] == "text.protected_match_found"
        for ident in [e["resource_id"], *strings(e["payload"])]
    }
    wanted = {p.rsplit("/", 1)[-1] for p in notes.paths}
    assert wanted <= found, f"no text.protected_match_found for {sorted(wanted - found)}"
    assert not _names_in(answer.json()), "a protected-match event holds the matched string"
    refused = notes.client.get(path, headers=notes.viewer.headers)
    assert refused.status_code == 403, refused.text
