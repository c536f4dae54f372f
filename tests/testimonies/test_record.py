"""Recording and reading testimonies: a witness's words, kept exactly, shown only by pseudonym,
readable by the case's members alone, and every refused request without any effect."""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.fixtures.api import GANJA, Actor, DatabaseProbe, MakeUser, etag_version
from tests.fixtures.texts import payload_text, proven_text
from tests.testimonies.support import (
    ARMENIAN,
    AZERBAIJANI,
    DROP,
    ENGLISH,
    RUSSIAN,
    WITNESS_NAME,
    Scene,
    audit_events,
    post_testimony,
    register_witness,
    without_request_id,
)

MakeCase = Callable[..., dict[str, Any]]
AddMember = Callable[..., None]


def test_record_a_testimony_and_read_it_back(scene: Scene) -> None:
    """Everything sent comes back (times in UTC), omitted fields get their documented
    defaults, and the witness appears only as a pseudonym: testimonies travel much further
    than identities, so even the lead, who may identify witnesses, gets no name here."""
    client, lead = scene.client, scene.lead
    body = scene.body(
        recorded_at="2020-12-02T14:00:00+04:00",
        place="Martuni",
        language="hy",
        translation=ENGLISH,
        translation_language="en-GB",
    )
    answer = post_testimony(client, lead, scene.case_id, body)
    assert answer.status_code == 201, answer.text
    testimony = answer.json()
    assert answer.headers["location"] == f"/api/v1/testimonies/{testimony['id']}"
    assert answer.headers["etag"] == '"1"'
    assert testimony["case_id"] == scene.case_id
    assert testimony["witness_id"] == scene.witness_id
    assert re.fullmatch(r"W-\d{4,}", scene.pseudonym), scene.pseudonym
    assert testimony["witness_pseudonym"] == scene.pseudonym
    assert testimony["recorded_at"] == "2020-12-02T10:00:00Z"
    assert testimony["place"] == "Martuni"
    assert testimony["language"] == "hy"
    assert testimony["statement"] == ARMENIAN
    assert testimony["translation"] == ENGLISH
    assert testimony["translation_language"] == "en-GB"
    assert testimony["interviewer_id"] == lead.id
    assert testimony["created_by"] == lead.id
    assert testimony["version"] == 1
    assert testimony["created_at"] == testimony["updated_at"]

    read = client.get(answer.headers["location"], headers=lead.headers)
    assert read.status_code == 200, read.text
    assert read.json() == testimony
    assert etag_version(read.headers["etag"]) == '"1"'

    listed = client.get(f"/api/v1/cases/{scene.case_id}/testimonies", headers=lead.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [testimony], "next_cursor": None}

    for response in (answer, read, listed):
        assert "Gevorgyan" not in response.text
        assert "Anahit" not in response.text

    # The smallest body: the language is unknown until said otherwise ('und'); a translation
    # without a language is taken to be English, but no translation has no language.
    bare = scene.record()
    assert bare["language"] == "und"
    assert bare["place"] is None
    assert bare["translation"] is None
    assert bare["translation_language"] is None
    assert bare["interviewer_id"] == lead.id
    assert scene.record(translation=ENGLISH)["translation_language"] == "en"
    russian = scene.record(statement=AZERBAIJANI, translation=RUSSIAN, translation_language="ru")
    assert russian["translation_language"] == "ru"


def test_text_in_any_script_round_trips_byte_exact(
    scene: Scene, db: DatabaseProbe, subtests: pytest.Subtests
) -> None:
    """Statements are evidence: Armenian, Azerbaijani (with ə) and Russian text, line breaks,
    CRLF and tabs included, must come back and be stored exactly as sent."""
    client, lead = scene.client, scene.lead
    pairs = [(ARMENIAN, ENGLISH, "hy"), (AZERBAIJANI, RUSSIAN, "az-Latn"), (RUSSIAN, "", "ru")]
    for statement, translation, language in pairs:
        assert unicodedata.is_normalized("NFC", statement)  # the premise: ordinary typed text
        body = scene.body(statement=statement, translation=translation or None, language=language)
        answer = post_testimony(client, lead, scene.case_id, body)
        assert answer.status_code == 201, answer.text
        returned = json.loads(answer.content)
        assert returned["statement"].encode("utf-8") == statement.encode("utf-8")
        assert returned["translation"] == (translation or None)
        read = client.get(f"/api/v1/testimonies/{returned['id']}", headers=lead.headers)
        assert read.json()["statement"].encode("utf-8") == statement.encode("utf-8")
        assert db.scalar("SELECT count(*) FROM testimonies WHERE statement = :s", s=statement) == 1
    assert "ə" in AZERBAIJANI
    assert "\r\n\t" in AZERBAIJANI
    listed = client.get(f"/api/v1/cases/{scene.case_id}/testimonies", headers=lead.headers)
    assert [t["statement"] for t in listed.json()["items"]] == [RUSSIAN, AZERBAIJANI, ARMENIAN]
    assert [t["translation"] for t in listed.json()["items"]] == [None, RUSSIAN, ENGLISH]

    # BCP 47 tags as investigators write them, and the extreme lengths, are accepted too.
    for tag in ("hy", "az-Latn", "ru", "en-GB", "und", "sr-Cyrl-RS", "HY"):
        with subtests.test(language=tag):
            created = scene.record(language=tag, translation="x", translation_language=tag)
            assert created["language"] == tag
            assert created["translation_language"] == tag
    with subtests.test("longest statement and translation"):
        # 100 000 characters of a two-byte script, and a translation as long: still within
        # the request size limit.
        longest = ("Մարտունի " * 11_112)[:100_000]
        created = scene.record(statement=longest, translation="y" * 100_000)
        assert created["statement"] == longest
        assert len(created["translation"]) == 100_000
    with subtests.test("one character"):
        assert scene.record(statement="ա")["statement"] == "ա"


def test_statement_is_not_rewritten_even_when_not_in_nfc(scene: Scene) -> None:
    """Text pasted from some tools arrives decomposed (и + combining breve for й). The server
    must keep the witness's words as sent, not a normalised variant: otherwise the SHA-256
    that the audit trail publishes cannot be checked against the interviewer's own copy."""
    decomposed = unicodedata.normalize("NFD", RUSSIAN)
    assert decomposed != RUSSIAN
    created = scene.record(statement=decomposed, language="ru")
    events = audit_events(scene.client, scene.lead, scene.case_id)
    facts = events[-1]["payload"]["testimony"]
    assert proven_text(events[-1], facts["statement"]) == decomposed
    assert created["statement"] == decomposed


INVALID_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "missing witness_id": ({"witness_id": DROP}, "witness_id"),
    "witness_id not a uuid": ({"witness_id": "W-0001"}, "witness_id"),
    "missing recorded_at": ({"recorded_at": DROP}, "recorded_at"),
    "naive recorded_at": ({"recorded_at": "2020-12-02T10:00:00"}, "recorded_at"),
    "recorded_at in the future": ({"recorded_at": "2999-01-01T00:00:00Z"}, "recorded_at"),
    "recorded_at not a time": ({"recorded_at": "last winter"}, "recorded_at"),
    "missing statement": ({"statement": DROP}, "statement"),
    "empty statement": ({"statement": ""}, "statement"),
    "statement too long": ({"statement": "ա" * 100_001}, "statement"),
    "statement not text": ({"statement": 42}, "statement"),
    "NUL in statement": ({"statement": ARMENIAN + "\x00"}, "statement"),
    "escape in statement": ({"statement": "\x1b[2J" + ARMENIAN}, "statement"),
    "bell in statement": ({"statement": ARMENIAN + "\x07"}, "statement"),
    "C1 control in statement": ({"statement": ARMENIAN + "\x9b"}, "statement"),
    "control char in translation": ({"translation": ENGLISH + "\x00"}, "translation"),
    "translation too long": ({"translation": "y" * 100_001}, "translation"),
    "language a word": ({"language": "Armenian"}, "language"),
    "language with underscore": ({"language": "hy_AM"}, "language"),
    "language empty": ({"language": ""}, "language"),
    "language null": ({"language": None}, "language"),
    "translation_language bad": (
        {"translation": ENGLISH, "translation_language": "en!"},
        "translation_language",
    ),
    "place too long": ({"place": "x" * 301}, "place"),
    "line break in place": ({"place": "Martuni\nKhojavend"}, "place"),
    "interviewer not a uuid": ({"interviewer_id": "me"}, "interviewer_id"),
    "interviewer unknown": ({"interviewer_id": str(uuid.uuid4())}, "interviewer_id"),
    "unknown field": ({"witness_name": "Anahit Gevorgyan"}, "witness_name"),
}


def test_invalid_testimony_is_refused_and_nothing_is_written(
    scene: Scene, db: DatabaseProbe, subtests: pytest.Subtests
) -> None:
    """Each invalid body gets a 422 problem naming the field, echoes nothing of what was sent
    (statements and names are confidential) and writes nothing, not even an audit event."""
    before = db.snapshot()
    for label, (changes, field) in INVALID_BODIES.items():
        with subtests.test(label):
            answer = post_testimony(scene.client, scene.lead, scene.case_id, scene.body(**changes))
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            problem = answer.json()
            assert problem["status"] == 422
            fields = [e["field"] for e in problem["errors"]]
            assert field in fields, fields
            for secret in ("Իմ փոքրիկ", "Gevorgyan", "Khojavend", "My little boy"):
                assert secret not in answer.text
            assert db.snapshot() == before


def test_witness_must_be_linked_to_this_case(
    scene: Scene, make_case: MakeCase, db: DatabaseProbe
) -> None:
    """A witness registered in another case only is refused exactly like an id that exists
    nowhere, so the answer reveals neither the witness nor the other case; once the witness is
    linked to this case, the same testimony is accepted."""
    client, lead = scene.client, scene.lead
    ganja = make_case(lead, GANJA)
    stranger = register_witness(client, lead, ganja["id"], "Elnur Mammadov")
    before = db.snapshot()
    foreign = post_testimony(client, lead, scene.case_id, scene.body(witness_id=stranger["id"]))
    unknown = post_testimony(client, lead, scene.case_id, scene.body(witness_id=str(uuid.uuid4())))
    for answer in (foreign, unknown):
        assert answer.status_code == 422, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == ["witness_id"]
        assert "Mammadov" not in answer.text
        assert stranger["pseudonym"] not in answer.text
    assert without_request_id(foreign.json()) == without_request_id(unknown.json())
    assert db.snapshot() == before

    linked = client.post(
        f"/api/v1/cases/{scene.case_id}/witnesses",
        json={"witness_id": stranger["id"]},
        headers=lead.headers,
    )
    assert linked.status_code == 201, linked.text
    accepted = scene.record(witness_id=stranger["id"])
    assert accepted["witness_pseudonym"] == stranger["pseudonym"]
    assert accepted["case_id"] == scene.case_id


def test_interviewer_must_be_an_active_member(
    scene: Scene, make_user: MakeUser, add_member: AddMember, admin: Actor, db: DatabaseProbe
) -> None:
    """The interviewer is an active member of the case (an interpreter or partner is added
    as a viewer first); a deactivated, unknown or outside one is refused on `interviewer_id`,
    on create and on change, while the testimonies they took stay editable in other respects."""
    client, lead = scene.client, scene.lead
    colleague = make_user("investigator")
    add_member(scene.case_id, colleague, "viewer")
    taken = scene.record(interviewer_id=colleague.id)
    assert taken["interviewer_id"] == colleague.id
    assert taken["created_by"] == lead.id

    retired = make_user("investigator")
    add_member(scene.case_id, retired, "viewer")
    stranger = make_user("investigator")  # active, no member of the case
    off = client.patch(
        f"/api/v1/users/{retired.id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": '"1"'},
    )
    assert off.status_code == 200, off.text

    before = db.snapshot()
    for interviewer in (retired.id, str(uuid.uuid4()), stranger.id):
        created = post_testimony(
            client, lead, scene.case_id, scene.body(interviewer_id=interviewer)
        )
        changed = client.patch(
            f"/api/v1/testimonies/{taken['id']}",
            json={"interviewer_id": interviewer},
            headers={**lead.headers, "If-Match": '"1"'},
        )
        for answer in (created, changed):
            assert answer.status_code == 422, answer.text
            assert [e["field"] for e in answer.json()["errors"]] == ["interviewer_id"]
    assert db.snapshot() == before

    # The colleague leaves later: their testimony can still be corrected.
    gone = client.patch(
        f"/api/v1/users/{colleague.id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": '"1"'},
    )
    assert gone.status_code == 200, gone.text
    fixed = client.patch(
        f"/api/v1/testimonies/{taken['id']}",
        json={"place": "Martuni"},
        headers={**lead.headers, "If-Match": '"1"'},
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["interviewer_id"] == colleague.id


def test_only_editors_of_the_case_may_record(
    scene: Scene,
    make_user: MakeUser,
    add_member: AddMember,
    admin: Actor,
    db: DatabaseProbe,
) -> None:
    """Leads, investigators and admins record; viewers and legal members only read (whatever
    their global role), and a non-member learns nothing, not even that the case exists."""
    client, case_id = scene.client, scene.case_id
    investigator = make_user("investigator")
    add_member(case_id, investigator, "investigator")
    viewer = make_user("investigator")  # an investigator elsewhere, only a viewer here
    add_member(case_id, viewer, "viewer")
    lawyer = make_user("legal")
    add_member(case_id, lawyer, "legal")
    outsider = make_user("investigator")

    before = db.snapshot()
    for actor, status in ((viewer, 403), (lawyer, 403), (outsider, 404)):
        answer = post_testimony(client, actor, case_id, scene.body())
        assert answer.status_code == status, (actor.name, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        if status == 404:
            assert answer.json()["type"] == "urn:casefile:problem:case-not-found"
    assert db.snapshot() == before

    for actor in (scene.lead, investigator, admin):
        created = scene.record(actor)
        assert created["created_by"] == actor.id
        assert created["interviewer_id"] == actor.id


def test_members_read_and_others_get_the_same_404(
    scene: Scene, make_user: MakeUser, add_member: AddMember, admin: Actor
) -> None:
    """Every member reads the case's testimonies; to anyone else a real testimony is
    indistinguishable from one that never existed."""
    client, case_id = scene.client, scene.case_id
    testimony = scene.record(translation=ENGLISH)
    url = f"/api/v1/testimonies/{testimony['id']}"
    for role in ("viewer", "legal", "investigator"):
        member = make_user(role)
        add_member(case_id, member, role)
        read = client.get(url, headers=member.headers)
        assert read.status_code == 200, (role, read.text)
        assert read.json() == testimony
        listed = client.get(f"/api/v1/cases/{case_id}/testimonies", headers=member.headers)
        assert [t["id"] for t in listed.json()["items"]] == [testimony["id"]]
    assert client.get(url, headers=admin.headers).json() == testimony

    outsider = make_user("investigator")
    hidden = client.get(url, headers=outsider.headers)
    missing = client.get(f"/api/v1/testimonies/{uuid.uuid4()}", headers=outsider.headers)
    for answer in (hidden, missing):
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:casefile:problem:testimony-not-found"
        assert "etag" not in answer.headers
    assert without_request_id(hidden.json()) == without_request_id(missing.json())
    listing = client.get(f"/api/v1/cases/{case_id}/testimonies", headers=outsider.headers)
    assert listing.status_code == 404
    assert listing.json()["type"] == "urn:casefile:problem:case-not-found"
    assert ARMENIAN[:20] not in hidden.text + listing.text


def test_list_is_newest_first_in_stable_pages(
    scene: Scene, make_case: MakeCase, subtests: pytest.Subtests
) -> None:
    """Pages follow one another without gaps or repeats, newest first, hold only this case's
    testimonies, and a cursor is bound to the listing it came from."""
    client, lead = scene.client, scene.lead
    ids = [scene.record(place=f"Site {n}")["id"] for n in range(5)]
    ganja = make_case(lead, GANJA)
    other_witness = register_witness(client, lead, ganja["id"], "Elnur Mammadov")
    post_testimony(client, lead, ganja["id"], scene.body(witness_id=other_witness["id"]))

    url = f"/api/v1/cases/{scene.case_id}/testimonies"
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, params=query, headers=lead.headers)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert len(items) <= 2
        seen += [t["id"] for t in items]
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert pages == 3
    everything = client.get(url, headers=lead.headers).json()
    assert [t["id"] for t in everything["items"]] == ids[::-1]
    created = [datetime.fromisoformat(t["created_at"]) for t in everything["items"]]
    assert created == sorted(created, reverse=True)

    first_page = client.get(url, params={"limit": 2}, headers=lead.headers).json()
    foreign = client.get(
        f"/api/v1/cases/{ganja['id']}/testimonies",
        params={"cursor": first_page["next_cursor"]},
        headers=lead.headers,
    )
    with subtests.test("cursor of another listing"):
        assert foreign.status_code == 400, foreign.text
        assert foreign.json()["type"] == "urn:casefile:problem:invalid-cursor"
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "garbage!"}):
        with subtests.test(params=params):
            answer = client.get(url, params=params, headers=lead.headers)
            assert answer.status_code in (400, 422), answer.text
            assert answer.headers["content-type"] == "application/problem+json"


def test_case_counts_follow_creations(scene: Scene) -> None:
    """The case read counts its witnesses, testimonies and site visits, so a lead sees at a
    glance what was gathered; each count moves exactly with its own kind of creation."""
    client, lead, case_url = scene.client, scene.lead, f"/api/v1/cases/{scene.case_id}"

    def counts() -> dict[str, int]:
        answer = client.get(case_url, headers=lead.headers)
        assert answer.status_code == 200, answer.text
        found: dict[str, int] = answer.json()["counts"]
        return found

    assert counts() == {"witnesses": 1, "testimonies": 0, "site_visits": 0, "evidence": 0}
    scene.record()
    scene.record(statement=RUSSIAN)
    assert counts() == {"witnesses": 1, "testimonies": 2, "site_visits": 0, "evidence": 0}
    register_witness(client, lead, scene.case_id, "Armen Sargsyan")
    assert counts() == {"witnesses": 2, "testimonies": 2, "site_visits": 0, "evidence": 0}
    visit = client.post(
        f"{case_url}/site-visits",
        json={"visited_at": "2020-12-03T09:00:00Z", "observations": "Crater in a courtyard."},
        headers=lead.headers,
    )
    assert visit.status_code == 201, visit.text
    assert counts() == {"witnesses": 2, "testimonies": 2, "site_visits": 1, "evidence": 0}
    refused = post_testimony(client, lead, scene.case_id, scene.body(statement=""))
    assert refused.status_code == 422
    assert counts() == {"witnesses": 2, "testimonies": 2, "site_visits": 1, "evidence": 0}
    listed = client.get("/api/v1/cases", headers=lead.headers).json()["items"]
    assert [c["counts"] for c in listed if c["id"] == scene.case_id] == [counts()]


def test_recording_adds_one_audit_event_with_a_digest_not_the_text(scene: Scene) -> None:
    """The audit trail proves what was recorded without holding it: the event carries a
    reference to the statement (a salted SHA-256 of its UTF-8), never the statement,
    translation or witness name; the read gives the texts beside it, provably the same."""
    client, lead = scene.client, scene.lead
    before = audit_events(client, lead, scene.case_id)
    testimony = scene.record(statement=AZERBAIJANI, translation=RUSSIAN, language="az-Latn")
    after = audit_events(client, lead, scene.case_id)
    assert after[: len(before)] == before
    new = after[len(before) :]
    assert len(new) == 1, new
    event = new[0]
    assert event["action"] == "testimony.recorded"
    assert event["resource_type"] == "testimony"
    assert event["resource_id"] == testimony["id"]
    assert event["actor_id"] == lead.id
    assert event["case_id"] == scene.case_id
    facts = event["payload"]["testimony"]
    assert proven_text(event, facts["statement"]) == AZERBAIJANI
    assert proven_text(event, facts["translation"]) == RUSSIAN
    assert re.fullmatch(r"[0-9a-f]{64}", facts["statement"]["$text"])
    assert facts["witness_id"] == scene.witness_id
    text = payload_text(event)
    for secret in (AZERBAIJANI, "Qonşularımızın", RUSSIAN, "Ночью", WITNESS_NAME, "Gevorgyan"):
        assert secret not in text, secret


def test_idempotent_retry_returns_the_first_testimony(scene: Scene, db: DatabaseProbe) -> None:
    """A client that lost the answer retries with the same key and gets the same testimony,
    not a duplicate statement; reusing the key for another body is refused, also without
    effect."""
    client, lead = scene.client, scene.lead
    key = {"Idempotency-Key": f"testimony-{uuid.uuid4()}"}
    first = post_testimony(client, lead, scene.case_id, scene.body(), headers=key)
    assert first.status_code == 201, first.text
    before = db.snapshot()
    again = post_testimony(client, lead, scene.case_id, scene.body(), headers=key)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == '"1"'
    other = post_testimony(client, lead, scene.case_id, scene.body(statement=RUSSIAN), headers=key)
    assert other.status_code == 422, other.text
    assert db.snapshot() == before
    listed = client.get(f"/api/v1/cases/{scene.case_id}/testimonies", headers=lead.headers)
    assert [t["id"] for t in listed.json()["items"]] == [first.json()["id"]]
