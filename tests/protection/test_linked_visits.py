"""A site visit linked to several cases is shown as written only to those who may identify on
every one of them (docs/witness-protection.md: "Identifier of a text"): a lead who may identify
in one case but not in the other gets the note withheld, like any member without the flag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.api import GANJA, MARTUNI, Actor, MakeUser
from tests.protection.bodies import strings
from tests.protection.corpus import IDENTITY, MARKER, PROTECTED


def _created(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_visit_of_two_cases_is_as_written_only_to_identifiers_of_both(
    client: TestClient, admin: Actor, make_user: MakeUser, add_member: Callable[..., None]
) -> None:
    half, writer, both = make_user("investigator"), make_user("investigator"), make_user("legal")
    first = _created(client.post("/api/v1/cases", json=MARTUNI, headers=half.headers))["id"]
    second = _created(client.post("/api/v1/cases", json=GANJA, headers=half.headers))["id"]
    add_member(second, half, "lead", can_identify_witnesses=False)  # may identify in one only
    for case_id in (first, second):
        add_member(case_id, writer, "investigator", can_identify_witnesses=True)
        add_member(case_id, both, "legal", can_identify_witnesses=True)
    witness = {k: v for k, v in IDENTITY.items() if k != "other_spellings"}
    _created(client.post(f"/api/v1/cases/{first}/witnesses", json=witness, headers=half.headers))
    note = "Crater by the gate of Anahit Gevorgyan."
    visit = _created(
        client.post(
            f"/api/v1/cases/{first}/site-visits",
            json={
                "visited_at": "2020-12-03T09:00:00Z",
                "observations": note,
                "also_case_ids": [second],
            },
            headers=writer.headers,
        )
    )
    path = f"/api/v1/site-visits/{visit['id']}"
    for reader in (both, admin):
        assert client.get(path, headers=reader.headers).json()["observations"] == note
    shown = client.get(path, headers=half.headers).json()["observations"]
    assert MARKER in shown, shown
    assert not PROTECTED.found_in(shown), shown
    listed = client.get(f"/api/v1/cases/{first}/site-visits", headers=half.headers).json()
    assert not [t for t in strings(listed["items"]) if PROTECTED.found_in(t)], listed["items"]
