"""Correcting a testimony: JSON merge patch under If-Match, by the case's editors only, one
audit event per real change, and no trace at all of a refused change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.fixtures.api import Actor, DatabaseProbe, MakeUser, etag_version
from tests.fixtures.texts import payload_text, proven_text
from tests.testimonies.support import (
    ARMENIAN,
    ENGLISH,
    RUSSIAN,
    Scene,
    audit_events,
    patch_testimony,
    without_request_id,
)

AddMember = Callable[..., None]

CORRECTED = ARMENIAN + "\nՀարվածից հետո մենք թաքնվեցինք նկուղում։"


def test_patch_changes_only_what_is_sent(scene: Scene) -> None:
    """A correction of the translation and place leaves the statement, witness, language and
    interviewer alone, bumps the version and ETag, and the next read shows the same; null
    clears what is optional and only that."""
    client, lead = scene.client, scene.lead
    original = scene.record(place="Martuni", language="hy", translation="draft")
    answer = patch_testimony(
        client,
        lead,
        original["id"],
        {"translation": ENGLISH, "place": "Martuni, Shahumyan street"},
        '"1"',
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["etag"] == '"2"'
    updated = answer.json()
    assert updated["version"] == 2
    assert updated["translation"] == ENGLISH
    assert updated["place"] == "Martuni, Shahumyan street"
    unchanged = ("statement", "witness_id", "witness_pseudonym", "recorded_at", "language")
    for field in (*unchanged, "interviewer_id", "created_by", "created_at", "case_id", "id"):
        assert updated[field] == original[field], field
    assert updated["translation_language"] == "en"
    updated_at = datetime.fromisoformat(updated["updated_at"])
    assert updated_at > datetime.fromisoformat(original["updated_at"])
    read = client.get(f"/api/v1/testimonies/{original['id']}", headers=lead.headers)
    assert read.json() == updated
    assert etag_version(read.headers["etag"]) == '"2"'

    # Merge-patch null removes an optional value (a wrong place, a bad translation); the
    # statement, the time it was recorded and the language cannot be removed that way.
    cleared = patch_testimony(
        client, lead, original["id"], {"place": None, "translation": None}, '"2"'
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["place"] is None
    assert cleared.json()["translation"] is None
    assert cleared.json()["statement"] == ARMENIAN
    for required in ("statement", "recorded_at", "language"):
        refused = patch_testimony(client, lead, original["id"], {required: None}, '"3"')
        assert refused.status_code == 422, (required, refused.text)
        assert required in [e["field"] for e in refused.json()["errors"]]


def test_translation_added_later_defaults_to_english_too(scene: Scene) -> None:
    """A translation added by a later correction is described like one given at once, or the
    case holds translations in an unknown language depending on when they were typed."""
    original = scene.record()
    assert original["translation_language"] is None
    answer = patch_testimony(
        scene.client, scene.lead, original["id"], {"translation": ENGLISH}, '"1"'
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["translation"] == ENGLISH
    assert answer.json()["translation_language"] == "en"


INVALID_PATCHES: dict[str, tuple[Any, str]] = {
    "empty statement": ({"statement": ""}, "statement"),
    "statement too long": ({"statement": "ա" * 100_001}, "statement"),
    "NUL in statement": ({"statement": "Martuni\x00"}, "statement"),
    "future recorded_at": ({"recorded_at": "2999-01-01T00:00:00Z"}, "recorded_at"),
    "naive recorded_at": ({"recorded_at": "2020-12-02T10:00:00"}, "recorded_at"),
    "bad language": ({"language": "Armenian"}, "language"),
    "bad translation_language": ({"translation_language": "en_US"}, "translation_language"),
    "control char in translation": ({"translation": "ok\x1b"}, "translation"),
    "line break in place": ({"place": "a\nb"}, "place"),
    "unknown interviewer": ({"interviewer_id": str(uuid.uuid4())}, "interviewer_id"),
    "witness cannot be swapped": ({"witness_id": str(uuid.uuid4())}, "witness_id"),
    "unknown field": ({"case_id": str(uuid.uuid4())}, "case_id"),
    "not an object": ([], ""),
}


def test_refused_patches_change_nothing(
    scene: Scene, db: DatabaseProbe, subtests: pytest.Subtests
) -> None:
    """Two investigators correcting the same testimony must not silently overwrite each other:
    no If-Match is 428, an old one is 412 (telling the current ETag); an invalid change is 422
    naming the field. None of them writes a row or an audit event."""
    client, lead = scene.client, scene.lead
    testimony_id = scene.record()["id"]
    first = patch_testimony(client, lead, testimony_id, {"place": "Martuni"}, '"1"')
    assert first.status_code == 200, first.text
    current = client.get(f"/api/v1/testimonies/{testimony_id}", headers=lead.headers).json()

    before = db.snapshot()
    with subtests.test("no If-Match"):
        missing = patch_testimony(client, lead, testimony_id, {"place": "Khojavend"}, None)
        assert missing.status_code == 428, missing.text
        assert missing.json()["type"] == "urn:casefile:problem:precondition-required"
        assert db.snapshot() == before
    for stale in ('"1"', '"3"', 'W/"2"', "2", "garbage"):
        with subtests.test(if_match=stale):
            answer = patch_testimony(client, lead, testimony_id, {"place": "Khojavend"}, stale)
            assert answer.status_code == 412, answer.text
            assert answer.json()["type"] == "urn:casefile:problem:precondition-failed"
            assert answer.headers["etag"] == '"2"'
            assert db.snapshot() == before
    for label, (body, field) in INVALID_PATCHES.items():
        with subtests.test(label):
            answer = patch_testimony(client, lead, testimony_id, body, '"2"')
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert field in [e["field"] for e in answer.json()["errors"]], answer.json()
            assert db.snapshot() == before
    read = client.get(f"/api/v1/testimonies/{testimony_id}", headers=lead.headers)
    assert read.json() == current

    # A wildcard, or a list holding the current tag, does match.
    assert patch_testimony(client, lead, testimony_id, {"place": "Hadrut"}, "*").status_code == 200
    listed = patch_testimony(client, lead, testimony_id, {"place": "Shushi"}, '"9", "3"')
    assert listed.status_code == 200, listed.text
    assert listed.headers["etag"] == '"4"'


def test_who_may_correct(
    scene: Scene,
    make_user: MakeUser,
    add_member: AddMember,
    admin: Actor,
    db: DatabaseProbe,
) -> None:
    """Viewers and legal members may read a testimony but not correct it (403), whatever their
    global role; an outsider gets the same 404 as for an id that does not exist; case
    investigators and admins (members or not) correct it like the lead."""
    client, lead, case_id = scene.client, scene.lead, scene.case_id
    testimony = scene.record()
    viewer = make_user("investigator")
    add_member(case_id, viewer, "viewer")
    lawyer = make_user("legal")
    add_member(case_id, lawyer, "legal")
    investigator = make_user("investigator")
    add_member(case_id, investigator, "investigator")
    outsider = make_user("investigator")

    before = db.snapshot()
    for actor in (viewer, lawyer):
        answer = patch_testimony(client, actor, testimony["id"], {"place": "x"}, '"1"')
        assert answer.status_code == 403, (actor.name, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    hidden = patch_testimony(client, outsider, testimony["id"], {"place": "x"}, '"1"')
    missing = patch_testimony(client, lead, str(uuid.uuid4()), {"place": "x"}, '"1"')
    for answer in (hidden, missing):
        assert answer.status_code == 404, answer.text
        assert answer.json()["type"] == "urn:casefile:problem:testimony-not-found"
    assert without_request_id(hidden.json()) == without_request_id(missing.json())
    assert db.snapshot() == before

    etag = '"1"'
    for number, actor in enumerate((investigator, admin, lead), start=1):
        answer = patch_testimony(client, actor, testimony["id"], {"place": f"P{number}"}, etag)
        assert answer.status_code == 200, (actor.name, answer.text)
        etag = answer.headers["etag"]
    assert etag == '"4"'


def test_each_real_correction_adds_one_audit_event_with_digests(scene: Scene) -> None:
    """The trail shows what changed as digests (so a later dispute over wording can be settled
    against it) but never the words themselves; re-sending current values is no change at all:
    no new version for other writers to trip on, and no event."""
    client, lead = scene.client, scene.lead
    testimony = scene.record(translation=ENGLISH, language="hy")
    before = audit_events(client, lead, scene.case_id)
    answer = patch_testimony(
        client,
        lead,
        testimony["id"],
        {"statement": CORRECTED, "translation": RUSSIAN, "place": "Martuni"},
        '"1"',
    )
    assert answer.status_code == 200, answer.text
    after = audit_events(client, lead, scene.case_id)
    assert after[: len(before)] == before
    new = after[len(before) :]
    assert len(new) == 1, new
    event = new[0]
    assert event["action"] == "testimony.updated"
    assert event["resource_type"] == "testimony"
    assert event["resource_id"] == testimony["id"]
    assert event["actor_id"] == lead.id
    assert event["case_id"] == scene.case_id
    changes = event["payload"]["changes"]
    assert {side: proven_text(event, ref) for side, ref in changes["statement"].items()} == {
        "from": ARMENIAN,
        "to": CORRECTED,
    }
    assert {side: proven_text(event, ref) for side, ref in changes["translation"].items()} == {
        "from": ENGLISH,
        "to": RUSSIAN,
    }
    assert changes["place"]["from"] is None
    assert proven_text(event, changes["place"]["to"]) == "Martuni"
    text = payload_text(event)
    for secret in (ARMENIAN, CORRECTED, "նկուղում", ENGLISH, "planes in the sky", RUSSIAN):
        assert secret not in text

    unchanged = answer.json()
    same = {
        "statement": CORRECTED,
        "place": "Martuni",
        "language": "hy",
        "recorded_at": "2020-12-02T14:00:00+04:00",  # the same instant, another offset
    }
    noop = patch_testimony(client, lead, testimony["id"], same, '"2"')
    assert noop.status_code == 200, noop.text
    assert noop.headers["etag"] == '"2"'
    assert noop.json() == unchanged
    assert audit_events(client, lead, scene.case_id) == after

    second = patch_testimony(client, lead, testimony["id"], {"language": "ru"}, '"2"')
    assert second.status_code == 200, second.text
    latest = audit_events(client, lead, scene.case_id)
    assert len(latest) == len(after) + 1
    assert latest[-1]["payload"]["changes"] == {"language": {"from": "hy", "to": "ru"}}
