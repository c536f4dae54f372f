"""Withdrawing a mistaken upload (it stays stored, listed and audited) and verifying an original
against its fingerprint by re-reading it from the store: intact, altered, or missing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.evidence.support import (
    Scene,
    actions,
    assert_problem,
    custody,
    download,
    field_names,
    object_key,
    sha256_hex,
    unique_bytes,
    upload,
)
from tests.fixtures.api import MakeUser
from tests.fixtures.texts import proven_text

AddMember = Callable[..., None]
REASON = "Uploaded to the wrong case: this photo shows Hadrut, not Martuni."


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _withdraw(scene: Scene, evidence_id: str, body: Any, **headers: str) -> Any:
    return scene.client.post(
        f"/api/v1/evidence/{evidence_id}/withdraw",
        json=body,
        headers={**scene.lead.headers, **headers},
    )


def _listed(scene: Scene, query: str = "") -> list[str]:
    answer = scene.client.get(
        f"/api/v1/cases/{scene.case_id}/evidence?limit=200{query}", headers=scene.lead.headers
    )
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def test_withdrawing_marks_the_item_and_keeps_everything(scene: Scene) -> None:
    """The item is marked withdrawn (when, by whom, why) but stays: its bytes still download
    byte for byte, it is still listed (and found by `withdrawn=true`, not by `false`), and the
    withdrawal is in its custody record with the reason."""
    data = unique_bytes("hadrut", 2000)
    item = upload(scene.client, scene.lead, scene.case_id, data, filename="hadrut.jpg")
    kept = upload(scene.client, scene.lead, scene.case_id, unique_bytes("kept"))

    answer = _withdraw(scene, item["id"], {"reason": REASON})
    assert answer.status_code == 200, answer.text
    withdrawn = answer.json()
    assert withdrawn["withdrawn"]["by"] == scene.lead.id
    assert withdrawn["withdrawn"]["reason"] == REASON
    assert withdrawn["withdrawn"]["at"].endswith("Z")
    assert _moment(withdrawn["withdrawn"]["at"]) >= _moment(item["uploaded_at"])
    unchanged = {k: v for k, v in item.items() if k not in ("withdrawn", "version")}
    assert {k: v for k, v in withdrawn.items() if k not in ("withdrawn", "version")} == unchanged
    assert withdrawn["version"] > item["version"]

    read = scene.client.get(f"/api/v1/evidence/{item['id']}", headers=scene.lead.headers)
    assert read.json() == withdrawn
    content = download(scene.client, scene.lead, item["id"])
    assert content.status_code == 200
    assert content.content == data
    assert object_key(item) in scene.store.keys()

    assert set(_listed(scene)) == {item["id"], kept["id"]}
    assert _listed(scene, "&withdrawn=true") == [item["id"]]
    assert _listed(scene, "&withdrawn=false") == [kept["id"]]
    events = custody(scene.client, scene.lead, item["id"])
    assert actions(events) == ["evidence.ingested", "evidence.withdrawn", "evidence.downloaded"]
    assert proven_text(events[1], events[1]["payload"]["reason"]) == REASON
    assert events[1]["actor_id"] == scene.lead.id


def test_withdrawing_twice_or_without_a_reason_is_refused(
    scene: Scene, make_user: MakeUser, add_member: AddMember
) -> None:
    """A second withdrawal is a 409 (the first one's reason stands); a reason under three
    characters, none, or an unknown field is a 422; a stale If-Match a 412; a viewer may not
    withdraw (403) and an outsider cannot see the item (404). None of these changes anything."""
    item = upload(scene.client, scene.lead, scene.case_id, unique_bytes("twice"))
    for body in ({"reason": "no"}, {"reason": ""}, {}, {"reason": REASON, "undo": True}):
        answer = _withdraw(scene, item["id"], body)
        problem = assert_problem(answer, 422)
        assert set(field_names(problem)) & {"reason", "undo"}, problem
    viewer, outsider = make_user("viewer"), make_user("investigator")
    add_member(scene.case_id, viewer, "viewer")
    before = scene.db.snapshot()
    stale = _withdraw(scene, item["id"], {"reason": REASON}, **{"If-Match": '"99"'})
    assert_problem(stale, 412)
    for actor, status in ((viewer, 403), (outsider, 404)):
        answer = scene.client.post(
            f"/api/v1/evidence/{item['id']}/withdraw",
            json={"reason": REASON},
            headers=actor.headers,
        )
        assert_problem(answer, status)
    assert scene.db.snapshot() == before

    first = _withdraw(scene, item["id"], {"reason": REASON})
    assert first.status_code == 200, first.text
    before = scene.db.snapshot()
    again = _withdraw(scene, item["id"], {"reason": "Changed my mind about the reason."})
    assert_problem(again, 409, "already-withdrawn")
    assert scene.db.snapshot() == before
    read = scene.client.get(f"/api/v1/evidence/{item['id']}", headers=scene.lead.headers)
    assert read.json()["withdrawn"]["reason"] == REASON


def _verify(scene: Scene, evidence_id: str, headers: dict[str, str] | None = None) -> Any:
    return scene.client.post(
        f"/api/v1/evidence/{evidence_id}/verify", headers=headers or scene.lead.headers
    )


def test_verification_finds_intact_altered_and_missing_originals(
    scene: Scene, make_user: MakeUser, add_member: AddMember
) -> None:
    """Verification re-reads the stored bytes: an untouched original is intact; after its
    bytes were replaced behind the app's back (same size, one bit flipped) it is altered,
    with the digest actually found; after it was deleted, missing. Each result is an
    `evidence.verified` event in the item's custody, by whoever asked. An empty original is
    intact too (nothing to read is not the same as missing). Legal members may
    verify (courts ask them to); viewers may not (403) and outsiders get a 404, leaving no
    event."""
    data = unique_bytes("verify", 5000)
    item = upload(scene.client, scene.lead, scene.case_id, data, filename="verify.bin")
    key = object_key(item)
    assert key in scene.store.keys()
    lawyer, viewer, outsider = make_user("legal"), make_user("viewer"), make_user("investigator")
    add_member(scene.case_id, lawyer, "legal")
    add_member(scene.case_id, viewer, "viewer")
    before = scene.db.snapshot()
    assert_problem(_verify(scene, item["id"], viewer.headers), 403)
    assert_problem(_verify(scene, item["id"], outsider.headers), 404)
    assert scene.db.snapshot() == before

    intact = _verify(scene, item["id"], lawyer.headers)
    assert intact.status_code == 200, intact.text
    assert intact.json()["status"] == "intact"
    assert intact.json()["expected_sha256"] == sha256_hex(data)
    assert intact.json()["found_sha256"] == sha256_hex(data)
    assert intact.json()["exhibit_number"] == item["exhibit_number"]

    tampered = bytes([data[0] ^ 1]) + data[1:]
    scene.store.overwrite(key, tampered)
    assert scene.store.read(key) == tampered
    altered = _verify(scene, item["id"])
    assert altered.status_code == 200, altered.text
    assert altered.json()["status"] == "altered"
    assert altered.json()["expected_sha256"] == sha256_hex(data)
    assert altered.json()["found_sha256"] == sha256_hex(tampered)

    scene.store.delete(key)
    missing = _verify(scene, item["id"])
    assert missing.status_code == 200, missing.text
    assert missing.json()["status"] == "missing"
    assert missing.json()["found_sha256"] is None

    empty = upload(scene.client, scene.lead, scene.case_id, b"", filename="empty.bin")
    assert _verify(scene, empty["id"]).json()["status"] == "intact"

    events = custody(scene.client, scene.lead, item["id"])
    assert actions(events) == ["evidence.ingested"] + ["evidence.verified"] * 3
    assert [e["payload"]["status"] for e in events[1:]] == ["intact", "altered", "missing"]
    assert events[2]["payload"]["found_sha256"] == sha256_hex(tampered)
    assert [e["actor_id"] for e in events[1:]] == [lawyer.id, scene.lead.id, scene.lead.id]
