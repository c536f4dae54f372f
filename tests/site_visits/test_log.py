"""Logging and reading site visits: one visit may cover several cases, and each reader learns
only about the cases they belong to; every refused request is without effect."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import GANJA, Actor, DatabaseProbe, MakeUser, etag_version
from tests.fixtures.texts import payload_text, proven_text
from tests.site_visits.support import (
    OBSERVATIONS,
    PURPOSE,
    SMALLEST,
    Linked,
    as_text,
    audit_events,
    body,
    deactivate,
    log_visit,
    post_visit,
    without_request_id,
)

MakeCase = Callable[..., dict[str, Any]]
AddMember = Callable[..., None]


def test_log_a_visit_and_read_it_back(
    client: TestClient, make_user: MakeUser, make_case: MakeCase, add_member: AddMember
) -> None:
    """Everything sent comes back, times in UTC, the team without duplicates; the smallest
    body gets empty defaults; the case lists the visit and counts it."""
    lead = make_user("investigator")
    case_id = make_case(lead)["id"]
    driver, photographer = make_user("investigator"), make_user("viewer")
    add_member(case_id, driver, "investigator")
    add_member(case_id, photographer, "viewer")
    team = [lead.id, driver.id, photographer.id, driver.id, lead.id]
    answer = post_visit(client, lead, case_id, body(team=team))
    assert answer.status_code == 201, answer.text
    visit = answer.json()
    assert answer.headers["location"] == f"/api/v1/site-visits/{visit['id']}"
    assert answer.headers["etag"] == '"1"'
    assert visit["visited_at"] == "2020-12-03T09:00:00Z"
    assert visit["visited_until"] == "2020-12-03T13:30:00Z"
    assert visit["location"] == {
        "name": "Martuni, residential district",
        "lat": 39.7946,
        "lon": 47.1136,
    }
    assert len(visit["team"]) == 3
    assert set(visit["team"]) == {lead.id, driver.id, photographer.id}
    assert visit["purpose"] == PURPOSE
    assert visit["observations"] == OBSERVATIONS
    assert visit["conditions"] == {
        "access": "Unrestricted",
        "security": "Calm",
        "weather": "Dry, 6 °C",
    }
    assert visit["case_ids"] == [case_id]
    assert visit["created_by"] == lead.id
    assert visit["version"] == 1
    assert visit["created_at"] == visit["updated_at"]

    read = client.get(answer.headers["location"], headers=lead.headers)
    assert read.status_code == 200, read.text
    assert read.json() == visit
    assert etag_version(read.headers["etag"]) == '"1"'

    smallest = log_visit(client, lead, case_id, SMALLEST)
    assert smallest["visited_at"] == "2020-12-03T09:00:00Z"
    assert smallest["visited_until"] is None
    assert smallest["location"] is None
    assert smallest["team"] == []
    assert smallest["purpose"] is None
    assert smallest["observations"] == "Crater."
    assert smallest["conditions"] == {"access": None, "security": None, "weather": None}
    assert smallest["case_ids"] == [case_id]
    # A visit of one instant is fine: the end may equal the start.
    instant = log_visit(
        client, lead, case_id, {**SMALLEST, "visited_until": "2020-12-03T13:00:00+04:00"}
    )
    assert instant["visited_until"] == instant["visited_at"]

    listed = client.get(f"/api/v1/cases/{case_id}/site-visits", headers=lead.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [instant, smallest, visit], "next_cursor": None}
    counts = client.get(f"/api/v1/cases/{case_id}", headers=lead.headers).json()["counts"]
    assert counts == {"witnesses": 0, "testimonies": 0, "site_visits": 3, "evidence": 0}


def test_invalid_visit_is_refused_and_nothing_is_written(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: MakeCase,
    db: DatabaseProbe,
    subtests: pytest.Subtests,
) -> None:
    """Each invalid body gets a 422 problem naming the field and writes nothing: no visit, no
    half-made team or case link, no audit event."""
    lead = make_user("investigator")
    case_id = make_case(lead)["id"]
    retired = make_user("investigator")
    deactivate(client, admin, retired)
    location = {"name": "Martuni", "lat": 39.79, "lon": 47.11}
    invalid: dict[str, tuple[dict[str, Any], str | None]] = {
        "missing visited_at": ({"visited_at": None}, "visited_at"),
        "naive visited_at": ({"visited_at": "2020-12-03T09:00:00"}, "visited_at"),
        "visited_at in the future": ({"visited_at": "2999-01-01T00:00:00Z"}, "visited_at"),
        "visited_at not a time": ({"visited_at": "early December"}, "visited_at"),
        "visited_until in the future": ({"visited_until": "2999-01-01T00:00:00Z"}, "visited_until"),
        # The end check is across two fields: the error may name either, or the body.
        "visited_until before visited_at": ({"visited_until": "2020-12-03T08:59:59Z"}, None),
        "latitude above 90": ({"location": {**location, "lat": 90.5}}, "location.lat"),
        "latitude below -90": ({"location": {**location, "lat": -90.01}}, "location.lat"),
        "longitude above 180": ({"location": {**location, "lon": 180.5}}, "location.lon"),
        "longitude below -180": ({"location": {**location, "lon": -181}}, "location.lon"),
        "latitude not a number": ({"location": {**location, "lat": "north"}}, "location.lat"),
        "latitude without longitude": ({"location": {"name": "M", "lat": 39.79}}, "location"),
        "longitude without latitude": ({"location": {"lon": 47.11}}, "location"),
        "line break in place name": ({"location": {"name": "Martuni\nKhojavend"}}, "location.name"),
        "unknown location field": ({"location": {**location, "alt": 300}}, "location.alt"),
        "team not a list": ({"team": lead.id}, "team"),
        "team member not a uuid": ({"team": ["amira"]}, "team.0"),
        "team of 51": ({"team": [str(uuid.uuid4()) for _ in range(51)]}, "team"),
        "unknown team member": ({"team": [lead.id, str(uuid.uuid4())]}, "team"),
        "deactivated team member": ({"team": [lead.id, retired.id]}, "team"),
        "NUL in observations": ({"observations": OBSERVATIONS + "\x00"}, "observations"),
        "observations too long": ({"observations": "x" * 100_001}, "observations"),
        "escape in purpose": ({"purpose": "\x1b[2J"}, "purpose"),
        "weather too long": ({"conditions": {"weather": "x" * 301}}, "conditions.weather"),
        "unknown condition": ({"conditions": {"visibility": "poor"}}, "conditions.visibility"),
        "also_case_ids not uuids": ({"also_case_ids": ["Ganja"]}, "also_case_ids.0"),
        "case_ids set directly": ({"case_ids": [case_id]}, "case_ids"),
    }
    before = db.snapshot()
    for label, (changes, field) in invalid.items():
        with subtests.test(label):
            payload = {k: v for k, v in body(**changes).items() if v is not None}
            answer = post_visit(client, lead, case_id, payload)
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            fields = [e["field"] for e in answer.json()["errors"]]
            if field is None:
                assert set(fields) <= {"", "visited_at", "visited_until"}, fields
            else:
                assert field in fields, fields
            assert "Khojavend" not in answer.text
            assert db.snapshot() == before
    for number in (b"NaN", b"Infinity", b"1e400"):
        with subtests.test(latitude=number):
            raw = b'{"visited_at": "2020-12-03T09:00:00Z", "location": {"lat": %s, "lon": 47}}'
            answer = client.post(
                f"/api/v1/cases/{case_id}/site-visits",
                content=raw % number,
                headers={**lead.headers, "Content-Type": "application/json"},
            )
            assert answer.status_code == 422, answer.text
            assert db.snapshot() == before


def test_only_editors_log_and_link_and_refusals_reveal_nothing(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: MakeCase,
    add_member: AddMember,
    db: DatabaseProbe,
) -> None:
    """Viewers and legal members cannot log visits (403), outsiders cannot even see the case
    (404). Linking a further case needs edit rights there too, and an unknown case, a case the
    caller is not in and one where they only read all get the very same 422: otherwise the
    answer would confirm that a case id exists."""
    lead = make_user("investigator")
    case_a = make_case(lead)["id"]
    other_lead = make_user("investigator")
    ganja = make_case(other_lead, GANJA)["id"]
    watched = make_case(other_lead, title="Strike on Shushi cathedral")["id"]
    add_member(watched, lead, "viewer")
    advised = make_case(other_lead, title="Strike on Stepanakert maternity hospital")["id"]
    add_member(advised, lead, "legal")
    shared = make_case(other_lead, title="Strikes on Hadrut")["id"]
    add_member(shared, lead, "investigator")
    viewer, lawyer = make_user("investigator"), make_user("legal")
    add_member(case_a, viewer, "viewer")
    add_member(case_a, lawyer, "legal")
    outsider = make_user("investigator")

    before = db.snapshot()
    for actor, status in ((viewer, 403), (lawyer, 403), (outsider, 404)):
        answer = post_visit(client, actor, case_a, body())
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    hidden = post_visit(client, outsider, case_a, body())
    assert hidden.json()["type"] == "urn:casefile:problem:case-not-found"

    refusals = [
        post_visit(client, lead, case_a, body(also_case_ids=[other]))
        for other in (str(uuid.uuid4()), ganja, watched, advised)
    ]
    refusals.append(post_visit(client, lead, case_a, body(also_case_ids=[shared, ganja])))
    for answer in refusals:
        assert answer.status_code == 422, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == ["also_case_ids"]
        assert ganja not in answer.text
    first = without_request_id(refusals[0].json())
    assert all(without_request_id(a.json()) == first for a in refusals[1:])
    assert db.snapshot() == before

    # Where the caller may edit: linked, and the case named twice (or the own case) once.
    visit = log_visit(client, lead, case_a, body(also_case_ids=[shared, case_a, shared]))
    assert sorted(visit["case_ids"]) == sorted([case_a, shared])
    # An admin may link any existing case, member or not.
    by_admin = log_visit(client, admin, case_a, body(also_case_ids=[ganja]))
    assert sorted(by_admin["case_ids"]) == sorted([case_a, ganja])
    unknown = post_visit(client, admin, case_a, body(also_case_ids=[str(uuid.uuid4())]))
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["also_case_ids"]


def test_a_visit_of_two_cases_shows_each_reader_only_their_cases(
    linked: Linked, make_user: MakeUser, add_member: AddMember, admin: Actor
) -> None:
    """Members of either case read the visit, but its `case_ids` names only the cases they
    belong to: a member of A alone must not learn B's id (nor B's of A's). Everyone else gets
    the same 404 as for a visit that does not exist."""
    client, case_a, case_b = linked.client, linked.case_a, linked.case_b
    visit_id = linked.visit["id"]
    url = f"/api/v1/site-visits/{visit_id}"
    assert sorted(linked.visit["case_ids"]) == sorted([case_a, case_b])

    reader_a = make_user("viewer")
    add_member(case_a, reader_a, "viewer")
    reader_b = make_user("legal")
    add_member(case_b, reader_b, "legal")
    for reader, mine, theirs in (
        (reader_a, case_a, case_b),
        (reader_b, case_b, case_a),
        (linked.lead_b, case_b, case_a),
    ):
        read = client.get(url, headers=reader.headers)
        assert read.status_code == 200, read.text
        assert read.json()["case_ids"] == [mine]
        assert read.json()["observations"] == OBSERVATIONS
        assert theirs not in read.text
        listed = client.get(f"/api/v1/cases/{mine}/site-visits", headers=reader.headers)
        assert listed.status_code == 200, listed.text
        assert [(v["id"], v["case_ids"]) for v in listed.json()["items"]] == [(visit_id, [mine])]
        assert theirs not in listed.text
        other_list = client.get(f"/api/v1/cases/{theirs}/site-visits", headers=reader.headers)
        assert other_list.status_code == 404

    assert sorted(client.get(url, headers=admin.headers).json()["case_ids"]) == sorted(
        [case_a, case_b]
    )
    outsider = make_user("investigator")
    hidden = client.get(url, headers=outsider.headers)
    missing = client.get(f"/api/v1/site-visits/{uuid.uuid4()}", headers=outsider.headers)
    for answer in (hidden, missing):
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:casefile:problem:site-visit-not-found"
        assert "etag" not in answer.headers
    assert without_request_id(hidden.json()) == without_request_id(missing.json())

    for case_id in (case_a, case_b):
        case = client.get(f"/api/v1/cases/{case_id}", headers=admin.headers).json()
        assert case["counts"]["site_visits"] == 1


def test_the_audit_trail_of_one_case_does_not_reveal_the_other(
    linked: Linked, make_user: MakeUser, add_member: AddMember
) -> None:
    """The audit trail is readable by every member of the case, so it must not be a side door
    to what the visit's own read hides: the other linked case's id."""
    reader_a = make_user("viewer")
    add_member(linked.case_a, reader_a, "viewer")
    events = audit_events(linked.client, reader_a, linked.case_a)
    assert any(e["resource_id"] == linked.visit["id"] for e in events)
    assert linked.case_b not in as_text(events)


def test_logging_adds_one_audit_event_with_digests_not_text(linked: Linked) -> None:
    """Observations can name people and places at risk: the trail binds them by reference
    (a salted SHA-256 of their UTF-8 text) and never holds the text."""
    client, lead, case_a = linked.client, linked.lead_a, linked.case_a
    before = audit_events(client, lead, case_a)
    notes = "Բակում ռումբի խառնարան։ Qonşu evin divarı uçub. Разрушен дом №12."
    visit = log_visit(client, lead, case_a, body(observations=notes, purpose="Ölçmə"))
    after = audit_events(client, lead, case_a)
    assert after[: len(before)] == before
    new = after[len(before) :]
    assert len(new) == 1, new
    event = new[0]
    assert event["action"] == "site_visit.logged"
    assert event["resource_type"] == "site_visit"
    assert event["resource_id"] == visit["id"]
    assert event["actor_id"] == lead.id
    assert event["case_id"] == case_a
    facts = event["payload"]["visit"]
    assert proven_text(event, facts["observations"]) == notes
    assert re.fullmatch(r"[0-9a-f]{64}", facts["observations"]["$text"])
    assert proven_text(event, facts["purpose"]) == "Ölçmə"
    text = payload_text(event)
    for secret in (notes, "խառնարան", "Qonşu", "Разрушен", "Ölçmə"):
        assert secret not in text


def test_list_is_newest_first_in_stable_pages_and_retries_are_idempotent(
    client: TestClient, make_user: MakeUser, make_case: MakeCase, db: DatabaseProbe
) -> None:
    """Pages follow one another without gaps or repeats and hold only this case's visits; a
    retried POST with the same Idempotency-Key returns the first visit instead of logging a
    second one, and the same key with another body is refused without effect."""
    lead = make_user("investigator")
    case_id = make_case(lead)["id"]
    other_case = make_case(lead, GANJA)["id"]
    ids = [log_visit(client, lead, case_id, body(purpose=f"Site {n}"))["id"] for n in range(3)]
    log_visit(client, lead, other_case, body())

    url = f"/api/v1/cases/{case_id}/site-visits"
    first = client.get(url, params={"limit": 2}, headers=lead.headers).json()
    assert [v["id"] for v in first["items"]] == ids[:0:-1]
    assert first["next_cursor"]
    second = client.get(
        url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=lead.headers
    ).json()
    assert [v["id"] for v in second["items"]] == ids[:1]
    assert second["next_cursor"] is None
    everything = client.get(url, headers=lead.headers).json()["items"]
    created = [datetime.fromisoformat(v["created_at"]) for v in everything]
    assert created == sorted(created, reverse=True)
    foreign = client.get(
        f"/api/v1/cases/{other_case}/site-visits",
        params={"cursor": first["next_cursor"]},
        headers=lead.headers,
    )
    assert foreign.status_code == 400, foreign.text

    key = {"Idempotency-Key": f"visit-{uuid.uuid4()}"}
    original = post_visit(client, lead, case_id, body(), headers=key)
    assert original.status_code == 201, original.text
    before = db.snapshot()
    again = post_visit(client, lead, case_id, body(), headers=key)
    assert again.status_code == 201, again.text
    assert again.json() == original.json()
    assert again.headers["location"] == original.headers["location"]
    changed = post_visit(client, lead, case_id, body(observations="Other."), headers=key)
    assert changed.status_code == 422, changed.text
    assert db.snapshot() == before
