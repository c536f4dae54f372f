"""Who a case's record names as present must belong to the case.

A site visit's team and a testimony's interviewer used to accept any active user: an editor
could put a stranger's name on a case they never joined, and learn from 201/422 which user
ids exist. Both must now be members of the case (of one of a visit's cases); anyone else is
refused with a 422 naming the field, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.api import GANJA, Actor, DatabaseProbe, MakeUser
from tests.site_visits.support import body, log_visit, patch_visit, post_visit

MakeCase = Callable[..., dict[str, Any]]
AddMember = Callable[..., None]


def _refused_on(answer: Any, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == [field]


def test_a_team_member_from_outside_the_case_is_refused(
    client: TestClient,
    make_user: MakeUser,
    make_case: MakeCase,
    add_member: AddMember,
    db: DatabaseProbe,
) -> None:
    lead = make_user("investigator")
    case_id = make_case(lead)["id"]
    driver = make_user("investigator")
    add_member(case_id, driver, "viewer")
    stranger = make_user("investigator")  # active, a member of no case of the visit
    before = db.snapshot()
    _refused_on(post_visit(client, lead, case_id, body(team=[lead.id, stranger.id])), "team")
    assert db.snapshot() == before

    visit = log_visit(client, lead, case_id, body(team=[lead.id, driver.id]))
    before = db.snapshot()
    changed = patch_visit(client, lead, visit["id"], {"team": [driver.id, stranger.id]}, '"1"')
    _refused_on(changed, "team")
    assert db.snapshot() == before


def test_a_member_of_another_of_the_visits_cases_may_be_on_its_team(
    client: TestClient, make_user: MakeUser, make_case: MakeCase, add_member: AddMember
) -> None:
    lead = make_user("investigator")
    martuni = make_case(lead)["id"]
    ganja = make_case(lead, GANJA)["id"]
    ganja_photographer = make_user("viewer")
    add_member(ganja, ganja_photographer, "viewer")
    visit = log_visit(
        client, lead, martuni, body(also_case_ids=[ganja], team=[ganja_photographer.id])
    )
    assert visit["team"] == [ganja_photographer.id]


def test_a_team_member_who_left_the_case_stays_on_the_record(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: MakeCase,
    add_member: AddMember,
) -> None:
    """Leaving the case later does not block corrections of a visit they were on."""
    lead = make_user("investigator")
    case_id = make_case(lead)["id"]
    driver = make_user("investigator")
    add_member(case_id, driver, "viewer")
    visit = log_visit(client, lead, case_id, body(team=[lead.id, driver.id]))
    removed = client.delete(f"/api/v1/cases/{case_id}/members/{driver.id}", headers=admin.headers)
    assert removed.status_code in (200, 204), removed.text
    fixed = patch_visit(client, lead, visit["id"], {"purpose": "Damage survey."}, '"1"')
    assert fixed.status_code == 200, fixed.text
    assert sorted(fixed.json()["team"]) == sorted([lead.id, driver.id])


def test_a_testimony_interviewer_from_outside_the_case_is_refused(
    client: TestClient,
    make_user: MakeUser,
    make_case: MakeCase,
    add_member: AddMember,
    db: DatabaseProbe,
) -> None:
    lead = make_user("investigator")
    case_id = make_case(lead)["id"]
    witness = client.post(
        f"/api/v1/cases/{case_id}/witnesses", json={"full_name": "Anahit"}, headers=lead.headers
    ).json()
    interpreter, stranger = make_user("viewer"), make_user("investigator")
    add_member(case_id, interpreter, "viewer")
    testimony = {
        "witness_id": witness["id"],
        "recorded_at": "2020-12-02T10:00:00Z",
        "statement": "The first missile fell at six in the morning.",
    }
    url = f"/api/v1/cases/{case_id}/testimonies"
    before = db.snapshot()
    refused = client.post(
        url, json={**testimony, "interviewer_id": stranger.id}, headers=lead.headers
    )
    _refused_on(refused, "interviewer_id")
    assert db.snapshot() == before

    taken = client.post(
        url, json={**testimony, "interviewer_id": interpreter.id}, headers=lead.headers
    )
    assert taken.status_code == 201, taken.text
    before = db.snapshot()
    changed = client.patch(
        taken.headers["location"],
        json={"interviewer_id": stranger.id},
        headers={**lead.headers, "If-Match": taken.headers["etag"]},
    )
    _refused_on(changed, "interviewer_id")
    assert db.snapshot() == before


def test_an_admin_records_a_testimony_as_its_interviewer_without_joining(
    client: TestClient, admin: Actor, make_user: MakeUser, make_case: MakeCase
) -> None:
    """The caller is always a possible interviewer: their access to the case was checked."""
    lead = make_user("investigator")
    case_id = make_case(lead)["id"]
    witness = client.post(
        f"/api/v1/cases/{case_id}/witnesses", json={"full_name": "Anahit"}, headers=lead.headers
    ).json()
    taken = client.post(
        f"/api/v1/cases/{case_id}/testimonies",
        json={
            "witness_id": witness["id"],
            "recorded_at": "2020-12-02T10:00:00Z",
            "statement": "The first missile fell at six in the morning.",
        },
        headers=admin.headers,
    )
    assert taken.status_code == 201, taken.text
    assert taken.json()["interviewer_id"] == admin.id
