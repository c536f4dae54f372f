"""Every change appends exactly one audit event, in the same transaction, with who, what, when
and from where; a failed change appends nothing; secrets never enter an event."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.audit.canonical import case_chain
from app.kit.routing import iter_api_routes
from app.models import AuditEvent
from tests.fixtures.api import MARTUNI, Actor, DatabaseProbe, MakeUser
from tests.fixtures.texts import stored_texts

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class World:
    client: TestClient
    admin: Actor
    make_user: MakeUser
    case_id: str = ""

    def new_case(self) -> str:
        answer = self.client.post("/api/v1/cases", json=MARTUNI, headers=self.admin.headers)
        return str(answer.json()["id"])

    def etag(self, path: str) -> str:
        return str(self.client.get(path, headers=self.admin.headers).headers["etag"])


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class Expected:
    chain: str
    action: str
    resource_type: str
    resource_id: str
    payload: Callable[[dict[str, Any]], bool]


Mutation = Callable[[World], tuple[Call, Callable[[Any], Expected]]]


def _create_user(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    call = Call("POST", "/api/v1/users", {"name": "amira", "role": "legal"})
    return call, lambda answer: Expected(
        "system",
        "user.created",
        "user",
        answer.json()["id"],
        lambda p: p == {"name": "amira", "role": "legal", "via": "api"},
    )


def _update_user(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    user = world.make_user("viewer")
    path = f"/api/v1/users/{user.id}"
    call = Call("PATCH", path, {"role": "legal"}, {"If-Match": world.etag(path)})
    return call, lambda _answer: Expected(
        "system",
        "user.updated",
        "user",
        user.id,
        lambda p: p == {"changes": {"role": {"from": "viewer", "to": "legal"}}},
    )


def _issue_token(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    user = world.make_user("viewer")
    call = Call("POST", f"/api/v1/users/{user.id}/tokens", {"label": "field laptop"})
    return call, lambda answer: Expected(
        "system",
        "token.issued",
        "token",
        answer.json()["id"],
        lambda p: (
            p == {"user_id": user.id, "label": "field laptop", "expires_at": None, "via": "api"}
        ),
    )


def _revoke_token(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    user = world.make_user("viewer")
    token = world.client.post(
        f"/api/v1/users/{user.id}/tokens", json={}, headers=world.admin.headers
    ).json()
    call = Call("DELETE", f"/api/v1/tokens/{token['id']}")
    return call, lambda _answer: Expected(
        "system", "token.revoked", "token", token["id"], lambda p: p == {"user_id": user.id}
    )


def _create_case(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    call = Call("POST", "/api/v1/cases", MARTUNI)

    def expected(answer: Any) -> Expected:
        case_id = answer.json()["id"]
        return Expected(
            case_chain(case_id),
            "case.created",
            "case",
            case_id,
            lambda p: (
                p["lead"] == world.admin.id
                and p["case"]["title"] == MARTUNI["title"]
                and p["case"]["casualties"] == MARTUNI["casualties"]
            ),
        )

    return call, expected


def _update_case(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    path = f"/api/v1/cases/{case_id}"
    call = Call(
        "PATCH",
        path,
        {"status": "referred", "casualties": {"killed": 2}},
        {"If-Match": world.etag(path)},
    )
    return call, lambda _answer: Expected(
        case_chain(case_id),
        "case.updated",
        "case",
        case_id,
        lambda p: (
            p
            == {
                "version": 2,
                "changes": {
                    "casualties.killed": {"from": 1, "to": 2},
                    "status": {"from": "open", "to": "referred"},
                },
            }
        ),
    )


def _put_member(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    user = world.make_user("legal")
    call = Call(
        "PUT",
        f"/api/v1/cases/{case_id}/members/{user.id}",
        {"role": "legal", "can_identify_witnesses": True},
    )
    return call, lambda _answer: Expected(
        case_chain(case_id),
        "member.added",
        "member",
        user.id,
        lambda p: p == {"standing": {"role": "legal", "can_identify_witnesses": True}},
    )


def _remove_member(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    user = world.make_user("viewer")
    world.client.put(
        f"/api/v1/cases/{case_id}/members/{user.id}",
        json={"role": "viewer"},
        headers=world.admin.headers,
    )
    call = Call("DELETE", f"/api/v1/cases/{case_id}/members/{user.id}")
    return call, lambda _answer: Expected(
        case_chain(case_id),
        "member.removed",
        "member",
        user.id,
        lambda p: p == {"standing": {"role": "viewer", "can_identify_witnesses": False}},
    )


def _register_witness(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    call = Call("POST", f"/api/v1/cases/{case_id}/witnesses", {"full_name": "Anahit Gevorgyan"})
    return call, lambda answer: Expected(
        case_chain(case_id),
        "witness.registered",
        "witness",
        answer.json()["id"],
        lambda p: (
            p["pseudonym"] == answer.json()["pseudonym"]
            and p["identity_fields"] == ["full_name"]
            and "Anahit" not in json.dumps(p)
        ),
    )


def _update_witness(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    witness = world.client.post(
        f"/api/v1/cases/{case_id}/witnesses",
        json={"full_name": "Anahit"},
        headers=world.admin.headers,
    ).json()
    call = Call(
        "PATCH",
        f"/api/v1/witnesses/{witness['id']}",
        {"risk_level": "critical", "full_name": "Anahit Gevorgyan"},
        {"If-Match": '"1"'},
    )
    return call, lambda _answer: Expected(
        case_chain(case_id),
        "witness.updated",
        "witness",
        witness["id"],
        lambda p: (
            p["changes"] == {"risk_level": {"from": "medium", "to": "critical"}}
            and p["identity_fields_changed"] == ["full_name"]
            and "Gevorgyan" not in json.dumps(p)
        ),
    )


def _witness_in(world: World, case_id: str) -> str:
    witness = world.client.post(
        f"/api/v1/cases/{case_id}/witnesses", json={"full_name": "W"}, headers=world.admin.headers
    )
    return str(witness.json()["id"])


def _create_testimony(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    statement = "Մարտունի, 27 September"
    body = {
        "witness_id": _witness_in(world, case_id),
        "recorded_at": "2020-12-02T10:00:00Z",
        "statement": statement,
    }
    call = Call("POST", f"/api/v1/cases/{case_id}/testimonies", body)
    return call, lambda answer: Expected(
        case_chain(case_id),
        "testimony.recorded",
        "testimony",
        answer.json()["id"],
        lambda p: p["testimony"]["statement"] == statement,
    )


def _update_testimony(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    body = {
        "witness_id": _witness_in(world, case_id),
        "recorded_at": "2020-12-02T10:00:00Z",
        "statement": "a",
    }
    testimony = world.client.post(
        f"/api/v1/cases/{case_id}/testimonies", json=body, headers=world.admin.headers
    ).json()
    call = Call(
        "PATCH", f"/api/v1/testimonies/{testimony['id']}", {"place": "Martuni"}, {"If-Match": '"1"'}
    )
    return call, lambda _answer: Expected(
        case_chain(case_id),
        "testimony.updated",
        "testimony",
        testimony["id"],
        lambda p: p == {"changes": {"place": {"from": None, "to": "Martuni"}}},
    )


def _create_visit(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    call = Call(
        "POST",
        f"/api/v1/cases/{case_id}/site-visits",
        {"visited_at": "2020-12-03T09:00:00Z", "observations": "Impact crater"},
    )
    return call, lambda answer: Expected(
        case_chain(case_id),
        "site_visit.logged",
        "site_visit",
        answer.json()["id"],
        lambda p: p["visit"]["observations"] == "Impact crater" and "case_ids" not in p["visit"],
    )


def _update_visit(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    visit = world.client.post(
        f"/api/v1/cases/{case_id}/site-visits",
        json={"visited_at": "2020-12-03T09:00:00Z"},
        headers=world.admin.headers,
    ).json()
    call = Call(
        "PATCH",
        f"/api/v1/site-visits/{visit['id']}",
        {"conditions": {"weather": "Rain"}},
        {"If-Match": '"1"'},
    )
    return call, lambda _answer: Expected(
        case_chain(case_id),
        "site_visit.updated",
        "site_visit",
        visit["id"],
        lambda p: p == {"changes": {"conditions.weather": {"from": None, "to": "Rain"}}},
    )


PHOTO = b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 100


def _upload_evidence(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    call = Call(
        "POST",
        f"/api/v1/cases/{case_id}/evidence",
        {"kind": "photo", "title": "Crater"},
        files={"file": ("../../etc/crater.jpg", PHOTO, "image/jpeg")},
    )
    digest = hashlib.sha256(PHOTO).hexdigest()
    return call, lambda answer: Expected(
        case_chain(case_id),
        "evidence.ingested",
        "evidence",
        answer.json()["id"],
        lambda p: (
            p["sha256"] == digest
            and p["size"] == len(PHOTO)
            and p["exhibit_number"] == "MRT-0001"
            and p["original_filename"] == "crater.jpg"
        ),
    )


def _evidence_in(world: World, case_id: str) -> str:
    answer = world.client.post(
        f"/api/v1/cases/{case_id}/evidence",
        files={"file": ("a.bin", uuid.uuid4().bytes, "application/octet-stream")},
        headers=world.admin.headers,
    )
    return str(answer.json()["id"])


def _verify_evidence(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    evidence_id = _evidence_in(world, case_id)
    call = Call("POST", f"/api/v1/evidence/{evidence_id}/verify")
    return call, lambda _answer: Expected(
        case_chain(case_id),
        "evidence.verified",
        "evidence",
        evidence_id,
        lambda p: p["status"] == "intact" and p["via"] == "api",
    )


def _withdraw_evidence(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    evidence_id = _evidence_in(world, case_id)
    call = Call("POST", f"/api/v1/evidence/{evidence_id}/withdraw", {"reason": "Wrong case."})
    return call, lambda _answer: Expected(
        case_chain(case_id),
        "evidence.withdrawn",
        "evidence",
        evidence_id,
        lambda p: p == {"exhibit_number": "MRT-0001", "reason": "Wrong case."},
    )


def _tus(case_id: str, length: int) -> dict[str, str]:
    metadata = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in (("case_id", case_id), ("filename", "clip.mp4"))
    )
    return {"Tus-Resumable": "1.0.0", "Upload-Length": str(length), "Upload-Metadata": metadata}


def _start_upload(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    call = Call("POST", "/api/v1/uploads", headers=_tus(case_id, 10))
    return call, lambda answer: Expected(
        case_chain(case_id),
        "upload.started",
        "upload",
        answer.json()["id"],
        lambda p: p["length"] == 10 and p["filename"] == "clip.mp4",
    )


def _new_upload(world: World, case_id: str, length: int) -> str:
    answer = world.client.post(
        "/api/v1/uploads", headers={**world.admin.headers, **_tus(case_id, length)}
    )
    return str(answer.json()["id"])


def _complete_upload(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    """Appending does not add events; the PATCH that completes the upload adds one: ingest."""
    case_id = world.new_case()
    upload_id = _new_upload(world, case_id, 10)
    call = Call(
        "PATCH",
        f"/api/v1/uploads/{upload_id}",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
        content=b"0123456789",
    )
    return call, lambda answer: Expected(
        case_chain(case_id),
        "evidence.ingested",
        "evidence",
        answer.headers["casefile-evidence-id"],
        lambda p: p["sha256"] == hashlib.sha256(b"0123456789").hexdigest(),
    )


def _terminate_upload(world: World) -> tuple[Call, Callable[[Any], Expected]]:
    case_id = world.new_case()
    upload_id = _new_upload(world, case_id, 10)
    call = Call("DELETE", f"/api/v1/uploads/{upload_id}", headers={"Tus-Resumable": "1.0.0"})
    return call, lambda _answer: Expected(
        case_chain(case_id),
        "upload.terminated",
        "upload",
        upload_id,
        lambda p: p["received"] == 0,
    )


# Every route that changes state, and the one event it must append. A new mutating route
# without an entry here fails test_every_mutating_route_is_listed.
MUTATIONS: dict[tuple[str, str], Mutation] = {
    ("POST", "/api/v1/users"): _create_user,
    ("PATCH", "/api/v1/users/{user_id}"): _update_user,
    ("POST", "/api/v1/users/{user_id}/tokens"): _issue_token,
    ("DELETE", "/api/v1/tokens/{token_id}"): _revoke_token,
    ("POST", "/api/v1/cases"): _create_case,
    ("PATCH", "/api/v1/cases/{case_id}"): _update_case,
    ("PUT", "/api/v1/cases/{case_id}/members/{user_id}"): _put_member,
    ("DELETE", "/api/v1/cases/{case_id}/members/{user_id}"): _remove_member,
    ("POST", "/api/v1/cases/{case_id}/witnesses"): _register_witness,
    ("PATCH", "/api/v1/witnesses/{witness_id}"): _update_witness,
    ("POST", "/api/v1/cases/{case_id}/testimonies"): _create_testimony,
    ("PATCH", "/api/v1/testimonies/{testimony_id}"): _update_testimony,
    ("POST", "/api/v1/cases/{case_id}/site-visits"): _create_visit,
    ("PATCH", "/api/v1/site-visits/{visit_id}"): _update_visit,
    ("POST", "/api/v1/cases/{case_id}/evidence"): _upload_evidence,
    ("POST", "/api/v1/evidence/{evidence_id}/verify"): _verify_evidence,
    ("POST", "/api/v1/evidence/{evidence_id}/withdraw"): _withdraw_evidence,
    ("POST", "/api/v1/uploads"): _start_upload,
    ("PATCH", "/api/v1/uploads/{upload_id}"): _complete_upload,
    ("DELETE", "/api/v1/uploads/{upload_id}"): _terminate_upload,
}


def all_events(db: DatabaseProbe) -> list[AuditEvent]:
    with Session(db.engine) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# Request fields whose values are free text (never inline in an event), and file names.
FREE_TEXT_KEYS = {"title", "summary", "statement", "translation", "place", "observations",
                  "purpose", "reason", "description", "source", "weather"}  # fmt: skip


def _free_texts(call: Call) -> list[str]:
    found: list[str] = []

    def walk(value: Any, key: str | None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, str) and key in FREE_TEXT_KEYS and len(value) > 3:
            found.append(value)

    walk(call.body, None)
    for part in (call.files or {}).values():
        if isinstance(part, tuple) and isinstance(part[0], str):
            found.append(part[0])
    return found


def test_every_mutating_route_is_listed(app: FastAPI) -> None:
    mutating = {
        (method, route.path_format)  # {user_id:uuid} is {user_id}, as in the contract
        for route in iter_api_routes(app)
        for method in route.methods or ()
        if method in MUTATING
    }
    assert mutating == set(MUTATIONS), (
        f"unlisted: {sorted(mutating - set(MUTATIONS))}; gone: {sorted(set(MUTATIONS) - mutating)}"
    )


@pytest.mark.parametrize("route", list(MUTATIONS), ids=[" ".join(r) for r in MUTATIONS])
def test_each_change_appends_exactly_one_event(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    db: DatabaseProbe,
    route: tuple[str, str],
) -> None:
    world = World(client=client, admin=admin, make_user=make_user)
    call, expect = MUTATIONS[route](world)
    before = len(all_events(db))
    payload: dict[str, Any] = {"json": call.body}
    if call.files is not None:
        payload = {"files": call.files, "data": call.body}
    elif call.content is not None:
        payload = {"content": call.content}
    answer = client.request(
        call.method,
        call.path,
        headers={**admin.headers, **(call.headers or {}), "X-Request-ID": "audit-test-1"},
        **payload,
    )
    assert answer.status_code < 300, answer.text
    events = all_events(db)
    assert len(events) == before + 1, [json.loads(e.body)["action"] for e in events[before:]]
    event = events[-1]
    expected = expect(answer)
    body = json.loads(event.body)
    assert (event.chain_id, body["action"]) == (expected.chain, expected.action)
    assert (event.resource_type, event.resource_id) == (
        expected.resource_type,
        expected.resource_id,
    )
    assert body["actor_id"] == admin.id
    assert body["request_id"] == "audit-test-1"
    assert body["client_address"] == "testclient"
    assert abs(datetime.fromisoformat(body["at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    # Free texts are held by reference only (app.audit.texts); what they refer to is theirs.
    raw = json.dumps(body["payload"], ensure_ascii=False)
    for text in _free_texts(call):
        assert text not in raw, (text, raw)
    assert expected.payload(stored_texts(db, body["payload"])), body["payload"]
    if expected.chain != "system":
        assert body["case_id"] == expected.chain.removeprefix("case:")


def test_failed_changes_append_nothing(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    world = World(client=client, admin=admin, make_user=make_user)
    case_id = world.new_case()
    viewer = make_user("viewer")
    before = db.snapshot()
    failures = [
        client.post("/api/v1/cases", json={"title": ""}, headers=admin.headers),  # 422
        client.patch(  # 412
            f"/api/v1/cases/{case_id}",
            json={"status": "closed"},
            headers={**admin.headers, "If-Match": '"9"'},
        ),
        client.patch(f"/api/v1/cases/{case_id}", json={"status": "closed"}, headers=admin.headers),
        client.put(  # 409: the last lead
            f"/api/v1/cases/{case_id}/members/{admin.id}",
            json={"role": "viewer"},
            headers=admin.headers,
        ),
        client.post(
            "/api/v1/users", json={"name": "admin", "role": "viewer"}, headers=admin.headers
        ),
        client.post("/api/v1/cases", json=MARTUNI, headers=viewer.headers),  # 403
        client.delete(f"/api/v1/tokens/{uuid.uuid4()}", headers=admin.headers),  # 404
    ]
    assert [f.status_code for f in failures] == [422, 412, 428, 409, 409, 403, 404]
    assert db.snapshot() == before


def test_a_change_that_changes_nothing_appends_nothing(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    world = World(client=client, admin=admin, make_user=make_user)
    case_id = world.new_case()
    count = len(all_events(db))
    path = f"/api/v1/cases/{case_id}"
    same = client.patch(
        path, json={"title": MARTUNI["title"]}, headers={**admin.headers, "If-Match": '"1"'}
    )
    assert same.status_code == 200
    lawyer = make_user("legal")
    member = f"{path}/members/{lawyer.id}"
    client.put(member, json={"role": "legal"}, headers=admin.headers)
    count_after_add = len(all_events(db))
    client.put(member, json={"role": "legal"}, headers=admin.headers)
    assert len(all_events(db)) == count_after_add == count + 3  # user.created, token, member.added


def test_secrets_never_enter_the_audit_trail(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    amira = make_user("investigator")
    issued = client.post(f"/api/v1/users/{amira.id}/tokens", json={}, headers=admin.headers).json()
    bodies = " ".join(e.body for e in all_events(db))
    for secret in (admin.token, amira.token, issued["token"]):
        assert secret not in bodies
        assert secret[3:] not in bodies
    assert "secret_sha256" not in bodies


def test_case_audit_listing_in_chain_order_with_checkpoints(
    client: TestClient, admin: Actor, make_user: MakeUser
) -> None:
    world = World(client=client, admin=admin, make_user=make_user)
    case_id = world.new_case()
    path = f"/api/v1/cases/{case_id}"
    for number in range(5):
        etag = world.etag(path)
        client.patch(
            path, json={"summary": f"edit {number}"}, headers={**admin.headers, "If-Match": etag}
        )
    first = client.get(f"{path}/audit", params={"limit": 4}, headers=admin.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    rest = client.get(
        f"{path}/audit", params={"limit": 4, "cursor": page["next_cursor"]}, headers=admin.headers
    ).json()
    events = page["items"] + rest["items"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e["action"] for e in events] == ["case.created"] + ["case.updated"] * 5
    assert rest["next_cursor"] is None
    for previous, event in zip(events, events[1:], strict=False):
        assert event["prev_hash"] == previous["hash"]
    assert events[0]["prev_hash"] == "0" * 64
    assert page["chain_head"] == {
        "chain": f"case:{case_id}",
        "length": 6,
        "head_hash": events[-1]["hash"],
    }
    # The first event of a chain is always signed; the listing returns that checkpoint.
    assert page["checkpoints"][0]["length"] == 1
    assert page["checkpoints"][0]["head_hash"] == events[0]["hash"]
    assert page["latest_checkpoint"]["chain"] == f"case:{case_id}"
    keys = client.get("/api/v1/signing-keys", headers=admin.headers).json()["items"]
    assert [k["key_id"] for k in keys] == [page["latest_checkpoint"]["key_id"]]
    assert keys[0]["current"] is True
    assert keys[0]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")


def test_audit_listing_rejects_bad_cursors(
    client: TestClient, admin: Actor, make_user: MakeUser
) -> None:
    world = World(client=client, admin=admin, make_user=make_user)
    case_id = world.new_case()
    other = world.new_case()
    other_page = client.get(
        f"/api/v1/cases/{other}/audit", params={"limit": 1}, headers=admin.headers
    )
    foreign_cursor = other_page.json()["next_cursor"] or "x"
    for cursor in ("garbage", foreign_cursor):
        answer = client.get(
            f"/api/v1/cases/{case_id}/audit", params={"cursor": cursor}, headers=admin.headers
        )
        assert answer.status_code == 400, answer.text


def test_custody_query_follows_one_resource_across_chains(
    client: TestClient, admin: Actor, make_user: MakeUser, db: DatabaseProbe
) -> None:
    """The generic query behind GET /evidence/{id}/custody: every event about one resource."""
    world = World(client=client, admin=admin, make_user=make_user)
    lawyer = make_user("legal")
    cases = [world.new_case(), world.new_case()]
    for case_id in cases:
        client.put(
            f"/api/v1/cases/{case_id}/members/{lawyer.id}",
            json={"role": "legal"},
            headers=admin.headers,
        )
    with Session(db.engine) as session:
        events = audit_service.resource_events(
            session, resources=[("member", lawyer.id)], after_id=0, limit=50
        )
        assert [e.chain_id for e in events] == [case_chain(c) for c in cases]
        later = audit_service.resource_events(
            session, resources=[("member", lawyer.id)], after_id=events[0].id, limit=50
        )
        assert [e.id for e in later] == [events[1].id]


def test_verify_endpoint_reports_an_intact_trail(
    client: TestClient, admin: Actor, make_user: MakeUser
) -> None:
    world = World(client=client, admin=admin, make_user=make_user)
    world.new_case()
    make_user("viewer")
    report = client.get("/api/v1/audit/verify", headers=admin.headers)
    assert report.status_code == 200
    body = report.json()
    assert body["ok"] is True
    assert body["first_problem"] is None
    assert body["chains"] == 2  # the system chain and the case's chain
    assert body["events"] >= 5
    assert body["checkpoints"] >= 2
