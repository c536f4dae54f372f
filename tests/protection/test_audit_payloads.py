"""Audit events are immutable and hash-chained, so nothing identifying may go into one.

The stored body of every event the world's writes made (read straight from the database, not
through the API) holds no protected string; free texts are references (`{"$text": ref}`) that
the API resolves in `texts` as the reader may see them, with the salt only beside a text shown
as written (so that the ref can be checked) and never an unsalted digest that would let a
reader test guesses; payloads are served exactly as stored, so their hashes still recompute;
and every chain still verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

import pytest
import rfc8785

from tests.protection.bodies import all_items
from tests.protection.conftest import Shared
from tests.protection.corpus import PROTECTED
from tests.protection.leaks import in_json, report
from tests.protection.world import World

# What the world's writes record (docs/audit-format.md), each holding free text today.
ACTIONS = (
    "case.created",
    "case.updated",
    "testimony.recorded",
    "testimony.updated",
    "site_visit.logged",
    "site_visit.updated",
    "evidence.ingested",
    "upload.",  # every upload.* event
    "evidence.withdrawn",
)
OTHERS = "every other action"  # members, witnesses, exports, verifications, downloads…


def _is(found: str, action: str) -> bool:
    if action == OTHERS:
        return not any(_is(found, known) for known in ACTIONS)
    return found == action or (action.endswith(".") and found.startswith(action))


BODY_FIELDS = ("at", "actor_id", "action", "case_id", "request_id", "client_address", "payload")


def _stored(shared: Shared, action: str) -> list[tuple[str, int, dict[str, Any]]]:
    chains = [f"case:{case_id}" for case_id in shared.world.case_ids]
    with shared.db.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT chain_id, seq, body FROM audit_events ORDER BY chain_id, seq"
        ).all()
    events = [(chain, seq, json.loads(body)) for chain, seq, body in rows if chain in chains]
    matching = [(chain, seq, body) for chain, seq, body in events if _is(body["action"], action)]
    assert matching, f"the world recorded no {action} event: the test would check nothing"
    return matching


@pytest.mark.parametrize("action", [*ACTIONS, OTHERS])
def test_stored_event_bodies_hold_no_protected_string(shared: Shared, action: str) -> None:
    leaks = [
        leak
        for chain, seq, body in _stored(shared, action)
        for leak in in_json(body, f"audit_events {body['action']} {chain[5:13]}… #{seq}")
    ]
    assert not leaks, report(leaks)


def test_protected_match_events_hold_no_matched_string(shared: Shared) -> None:
    """The protection chains (`protection:<case id>`) record that texts name a witness: with
    ids and field names, never the strings that matched."""
    chains = {f"protection:{case_id}" for case_id in shared.world.case_ids}
    with shared.db.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT chain_id, seq, body FROM audit_events").all()
    events = [(chain, seq, json.loads(body)) for chain, seq, body in rows if chain in chains]
    assert events, "no protected-match event for the world's cases, whose texts all name her"
    leaks = [leak for chain, seq, body in events for leak in in_json(body, f"{chain} #{seq}")]
    assert not leaks, report(leaks)


def test_protection_events_reach_identifiers_only(shared: Shared) -> None:
    """A member who may not identify reads the case's chain and its items' custody: an event
    of the protection chain there (even one holding only ids) would tell them which texts name
    a witness, and right after their own write, whether their guess was right."""
    world = shared.world
    paths = [f"/api/v1/cases/{c}/audit" for c in world.case_ids]
    paths += [f"/api/v1/evidence/{i}/custody" for i in world.evidence_ids()]
    viewer = world.members["viewer"].headers
    shown = [
        f"{path}: {event['chain']} {event['action']}"
        for path in paths
        for event in _events(world, path, viewer)
        if not event["chain"].startswith("case:")
    ]
    assert not shown, f"protection events shown to a viewer: {shown[:20]}"


def test_stored_event_bodies_hold_no_unsalted_digest_of_a_protected_text(shared: Shared) -> None:
    """`statement_sha256: sha256(statement)` lets anyone who reads the event test a guessed
    statement offline; a ref is salted, so only a reader given the salt can check it."""
    world = shared.world
    digests = {
        hashlib.sha256(text.encode()).hexdigest(): f"{r.kind} {r.label} {path}"
        for r in world.records
        for path, text in r.texts.items()
        if PROTECTED.found_in(text)
    }
    with shared.db.engine.connect() as connection:
        bodies = [b for (b,) in connection.exec_driver_sql("SELECT body FROM audit_events")]
    found = sorted({digests[d] for body in bodies for d in digests if d in body})
    assert not found, f"unsalted SHA-256 of {len(found)} text(s) naming her in events: {found}"


def _events(world: World, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    return all_items(world.client, path, headers)


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"$text"}:
            return [value["$text"]]
        return [r for inner in value.values() for r in _refs(inner)]
    if isinstance(value, list):
        return [r for inner in value for r in _refs(inner)]
    return []


def test_events_come_with_texts_and_payload_redacted(shared: Shared) -> None:
    """The shape readers rely on: `texts` ({ref: {text, salt, withheld}}) covering every ref
    of the payload, and `payload_redacted` (bool), on /audit and on /custody."""
    world = shared.world
    viewer = world.members["viewer"].headers
    paths = [f"/api/v1/cases/{world.main_case}/audit"] + [
        f"/api/v1/evidence/{i}/custody" for i in world.evidence_ids()[:3]
    ]
    problems: list[str] = []
    for path in paths:
        for event in _events(world, path, viewer):
            name = f"{path.rsplit('/', 1)[-1]} {event['action']} #{event['seq']}"
            if not isinstance(event.get("payload_redacted"), bool):
                problems.append(f"{name}: payload_redacted is {event.get('payload_redacted')!r}")
            texts = event.get("texts")
            if not isinstance(texts, dict):
                problems.append(f"{name}: texts is {texts!r}")
                continue
            for ref in _refs(event["payload"]):
                entry = texts.get(ref)
                if not isinstance(entry, dict) or set(entry) != {"text", "salt", "withheld"}:
                    problems.append(f"{name}: ref {ref} resolves to {entry!r}")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])


@pytest.mark.parametrize("action", ACTIONS)
def test_free_texts_in_payloads_are_salted_references(shared: Shared, action: str) -> None:
    """For the lead (who may identify) each ref resolves to the text as written, with the
    salt that proves it: sha256(salt ‖ UTF-8 text) is the ref. (The lead's own events: every
    one of them wrote texts; the walk's changes of a status or a language wrote none.)"""
    world = shared.world
    events = [
        e
        for case_id in world.case_ids
        for e in _events(world, f"/api/v1/cases/{case_id}/audit", world.lead.headers)
        if e["actor_id"] == world.lead.id and _is(e["action"], action)
    ]
    assert events, f"no {action} event"
    problems: list[str] = []
    for event in events:
        refs = _refs(event["payload"])
        if not refs:
            problems.append(f"#{event['seq']}: no text reference in {event['payload']}")
        for ref in refs:
            entry = (event.get("texts") or {}).get(ref) or {}
            if entry.get("withheld") or not _proves(entry.get("salt"), entry.get("text"), ref):
                problems.append(f"#{event['seq']}: {ref} -> {entry!r}")
    assert not problems, f"{action}:\n" + "\n".join(problems[:30])


def _proves(salt: str | None, text: str | None, ref: str) -> bool:
    """The design says `sha256(salt ‖ UTF-8 text)` without saying how the salt string is
    encoded: hex, base64 or the string's own UTF-8 bytes are each accepted."""
    if salt is None or text is None:
        return False
    candidates = [salt.encode()]
    for decode in (bytes.fromhex, base64.b64decode):
        try:
            candidates.append(decode(salt))
        except (ValueError, binascii.Error):
            pass
    return any(hashlib.sha256(s + text.encode()).hexdigest() == ref for s in candidates)


def test_withheld_texts_come_without_their_salt(shared: Shared) -> None:
    """A reader who may not identify gets `[withheld]` texts without a salt (with it, a guess
    could be checked against the ref); every text they do get as written proves its ref."""
    world = shared.world
    problems: list[str] = []
    for event in _events(
        world, f"/api/v1/cases/{world.main_case}/audit", world.members["legal"].headers
    ):
        for ref, entry in (event.get("texts") or {}).items():
            if entry.get("withheld") and entry.get("salt") is not None:
                problems.append(f"{event['action']} #{event['seq']} {ref}: salt given")
            if not entry.get("withheld") and not _proves(entry.get("salt"), entry.get("text"), ref):
                problems.append(f"{event['action']} #{event['seq']} {ref}: shown, unprovable")
    withheld = [
        e
        for e in _events(
            world, f"/api/v1/cases/{world.main_case}/audit", world.members["legal"].headers
        )
        if any(t.get("withheld") for t in (e.get("texts") or {}).values())
    ]
    assert withheld, "no audit text withheld from a legal member without the flag"
    assert not problems, "\n".join(problems[:40])


def test_payloads_are_served_as_stored(shared: Shared) -> None:
    """An event not marked `payload_redacted` is the stored one: its hash recomputes from the
    fields served (docs/audit-format.md), for a member who may not identify too."""
    world = shared.world
    bad: list[str] = []
    for case_id in world.case_ids:
        path = f"/api/v1/cases/{case_id}/audit"
        for event in _events(world, path, world.members["viewer"].headers):
            if event.get("payload_redacted"):
                continue
            body = rfc8785.dumps({field: event[field] for field in BODY_FIELDS})
            head = (
                f"{event['chain']}\n{event['seq']}\n{event['prev_hash']}\n"
                f"{event['resource_type']}\n{event['resource_id']}\n"
            )
            digest = hashlib.sha256(b"casefile-audit-v1\n" + head.encode() + body).hexdigest()
            if digest != event["hash"]:
                bad.append(f"{event['action']} #{event['seq']}")
    assert not bad, f"served payloads whose hash does not recompute: {bad[:20]}"


def test_every_chain_still_verifies(shared: Shared) -> None:
    world = shared.world
    answer = world.client.get("/api/v1/audit/verify", headers=world.admin.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True, answer.json()["first_problem"]
