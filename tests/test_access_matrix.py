"""The access matrix: every route, called by every kind of caller, answers what API.md promises.

Authorisation bugs are the ones this service cannot afford: a case's existence, its members and
(later) its witnesses' identities must not reach people who are not on it. So rather than a few
spot checks, this module states the contract's "Roles and access" rules once, as the table
`EXPECTED`, and then:

* proves the table names exactly the routes the app serves (a new route without a rule, or a rule
  for a route that is gone, fails the build: nobody can add an endpoint and forget to decide who
  may call it);
* makes the real HTTP request for every route x every caller kind -- the admin (not a member),
  and each non-admin global role x each case relation (lead, investigator, legal, viewer, not a
  member) x `can_identify_witnesses` on and off -- and compares the status with the table;
* checks that every refused request left the database exactly as it was, that a non-member's 404
  cannot be told apart from the 404 for a case that does not exist, and that case lists only
  hold the caller's cases;
* checks that every non-public route refuses a request without a (valid) token with 401.

Expected outcomes come from the contract, never from the app's code: the app's own permission
table is what is under test.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.auth.dependencies import is_public_endpoint
from app.docs_ui import DOCS_ROUTES
from tests.fixtures.api import GANJA, MARTUNI, Actor, DatabaseProbe, MakeUser

RouteKey = tuple[str, str]  # (HTTP method, path template exactly as in the app's route table)

ADMIN = "admin"
NON_ADMIN_ROLES = ("investigator", "legal", "viewer")
GLOBAL_ROLES = frozenset({ADMIN, *NON_ADMIN_ROLES})
CASE_ROLES = ("lead", "investigator", "legal", "viewer")
CASE_EDITORS = ("lead", "investigator")
PROBLEM_JSON = "application/problem+json"

# The contract's unauthenticated endpoints (API.md, Conventions). Anything else needs a token.
CONTRACT_PUBLIC_ROUTES: frozenset[RouteKey] = frozenset(
    {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
)
CONTRACT_PUBLIC_DOCS = ("/openapi.json", "/docs")


# -- The rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """One kind of caller: a global role and, for non-admins, a standing on the matrix case."""

    actor: Actor
    global_role: str
    case_role: str | None = None  # None: not a member of the case
    can_identify_witnesses: bool = False

    def __str__(self) -> str:
        if self.global_role == ADMIN:
            return "admin (not a member)"
        if self.case_role is None:
            return f"{self.global_role}, not a member"
        flag = "identify" if self.can_identify_witnesses else "no-identify"
        return f"{self.global_role}, case {self.case_role}, {flag}"


@dataclass(frozen=True)
class Access:
    """Who may call one route, and the status they get when they may.

    `global_roles` may call it whatever their standing on the case. For a case-scoped route
    (`case_roles` set), other callers are judged by their case role alone: a member whose case
    role is not listed gets 403, a non-member 404 (the case's existence is not revealed). For a
    route that is not about one case, everybody else gets `refused` (403; 404 for things that
    are private to one user, such as their resumable uploads).
    """

    success: int
    global_roles: frozenset[str]
    case_roles: frozenset[str] | None = None
    refused: int = 403
    identifiers_only: bool = False  # members without can_identify_witnesses get 403

    def status_for(self, caller: Caller) -> int:
        if caller.global_role in self.global_roles:
            return self.success
        if self.case_roles is None:
            return self.refused
        if caller.case_role is None:
            return 404
        if self.identifiers_only and not caller.can_identify_witnesses:
            return 403
        return self.success if caller.case_role in self.case_roles else 403


def admin_only(success: int = 200) -> Access:
    """Users and tokens: managed by admins only."""
    return Access(success, frozenset({ADMIN}))


def any_user(success: int = 200) -> Access:
    """Open to every authenticated user (what they see may still be filtered)."""
    return Access(success, GLOBAL_ROLES)


def case_members(*case_roles: str, success: int = 200) -> Access:
    """A case-scoped route: admins, plus members holding one of these case roles."""
    return Access(success, frozenset({ADMIN}), frozenset(case_roles))


EXPECTED: dict[RouteKey, Access] = {
    # Users and API tokens: admins only; reading oneself is open to anyone signed in.
    ("POST", "/api/v1/users"): admin_only(201),
    ("GET", "/api/v1/users"): admin_only(),
    ("GET", "/api/v1/users/me"): any_user(),
    ("GET", "/api/v1/users/{user_id}"): admin_only(),
    ("PATCH", "/api/v1/users/{user_id}"): admin_only(),
    ("POST", "/api/v1/users/{user_id}/tokens"): admin_only(201),
    ("GET", "/api/v1/users/{user_id}/tokens"): admin_only(),
    ("DELETE", "/api/v1/tokens/{token_id}"): admin_only(204),
    # Opening a case depends on the global role; admins and investigators may.
    ("POST", "/api/v1/cases"): Access(201, frozenset({ADMIN, "investigator"})),
    # Anyone may list; the list is filtered to their cases (checked separately below).
    ("GET", "/api/v1/cases"): any_user(),
    # Everything about one case depends on the case role, never on the global role.
    ("GET", "/api/v1/cases/{case_id}"): case_members(*CASE_ROLES),
    ("PATCH", "/api/v1/cases/{case_id}"): case_members("lead", "investigator"),
    ("GET", "/api/v1/cases/{case_id}/members"): case_members(*CASE_ROLES),
    ("PUT", "/api/v1/cases/{case_id}/members/{user_id}"): case_members("lead"),
    ("DELETE", "/api/v1/cases/{case_id}/members/{user_id}"): case_members("lead", success=204),
    # The audit trail: a case's events are for its members ("members only", issue 3); verifying
    # every chain is for admins; the public keys are for anyone signed in.
    # Witnesses, testimonies and site visits: read by every member, written by leads and
    # investigators. A resource of a case answers like the case: 404 to non-members.
    ("POST", "/api/v1/cases/{case_id}/witnesses"): case_members(*CASE_EDITORS, success=201),
    ("GET", "/api/v1/cases/{case_id}/witnesses"): case_members(*CASE_ROLES),
    ("GET", "/api/v1/witnesses/{witness_id}"): case_members(*CASE_ROLES),
    ("PATCH", "/api/v1/witnesses/{witness_id}"): case_members(*CASE_EDITORS),
    ("POST", "/api/v1/cases/{case_id}/testimonies"): case_members(*CASE_EDITORS, success=201),
    ("GET", "/api/v1/cases/{case_id}/testimonies"): case_members(*CASE_ROLES),
    ("GET", "/api/v1/testimonies/{testimony_id}"): case_members(*CASE_ROLES),
    ("PATCH", "/api/v1/testimonies/{testimony_id}"): case_members(*CASE_EDITORS),
    ("POST", "/api/v1/cases/{case_id}/site-visits"): case_members(*CASE_EDITORS, success=201),
    ("GET", "/api/v1/cases/{case_id}/site-visits"): case_members(*CASE_ROLES),
    ("GET", "/api/v1/site-visits/{visit_id}"): case_members(*CASE_ROLES),
    ("PATCH", "/api/v1/site-visits/{visit_id}"): case_members(*CASE_EDITORS),
    # Evidence: uploaded by editors, read and downloaded by every member, verified by those who
    # may defend it (not viewers: re-hashing gigabytes is not a reader's right), withdrawn by
    # editors.
    ("POST", "/api/v1/cases/{case_id}/evidence"): case_members(*CASE_EDITORS, success=201),
    ("GET", "/api/v1/cases/{case_id}/evidence"): case_members(*CASE_ROLES),
    ("GET", "/api/v1/evidence/{evidence_id}"): case_members(*CASE_ROLES),
    ("GET", "/api/v1/evidence/{evidence_id}/content"): case_members(*CASE_ROLES),
    ("GET", "/api/v1/evidence/{evidence_id}/custody"): case_members(*CASE_ROLES),
    ("POST", "/api/v1/evidence/{evidence_id}/verify"): case_members(*CASE_EDITORS, "legal"),
    ("POST", "/api/v1/evidence/{evidence_id}/withdraw"): case_members(*CASE_EDITORS),
    # Resumable uploads: started by the case's editors; an upload then belongs to its starter
    # (and admins): anyone else is told it does not exist.
    ("OPTIONS", "/api/v1/uploads"): any_user(204),
    ("POST", "/api/v1/uploads"): case_members(*CASE_EDITORS, success=201),
    ("HEAD", "/api/v1/uploads/{upload_id}"): Access(200, frozenset({ADMIN}), refused=404),
    ("PATCH", "/api/v1/uploads/{upload_id}"): Access(204, frozenset({ADMIN}), refused=404),
    ("DELETE", "/api/v1/uploads/{upload_id}"): Access(204, frozenset({ADMIN}), refused=404),
    ("GET", "/api/v1/cases/{case_id}/audit"): case_members(*CASE_ROLES),
    # Where the case's texts name protected witnesses: for those who may identify them.
    ("GET", "/api/v1/cases/{case_id}/protected-matches"): Access(
        200, frozenset({ADMIN}), frozenset(CASE_ROLES), identifiers_only=True
    ),
    ("GET", "/api/v1/audit/verify"): admin_only(),
    ("GET", "/api/v1/signing-keys"): any_user(),
    # Bundles: "legal members and leads may also export bundles" (API.md), and admins.
    ("GET", "/api/v1/cases/{case_id}/bundle"): case_members("lead", "legal"),
}


# -- The people and cases the requests are made against ---------------------------------------


@dataclass
class World:
    """Users, two cases and memberships, built once per test; plus throwaway targets on demand.

    `case_id` is the case every matrix caller has their standing on; a second case, opened by
    an outsider, has none of them as members, so a list leaking other people's cases shows up.
    """

    client: TestClient
    admin: Actor
    owner: Actor
    case_id: str
    token_owner_id: str
    witness_id: str = ""
    testimony_id: str = ""
    visit_id: str = ""
    evidence_id: str = ""

    def new_evidence(self) -> str:
        """A fresh item in the matrix case, uploaded by its lead (something to withdraw)."""
        answer = self.client.post(
            f"/api/v1/cases/{self.case_id}/evidence",
            files={"file": ("photo.jpg", uuid.uuid4().bytes * 64, "image/jpeg")},
            headers=self.owner.headers,
        )
        assert answer.status_code == 201, answer.text
        evidence_id: str = answer.json()["id"]
        return evidence_id

    def new_upload(self, length: int = 16) -> str:
        """A fresh resumable upload of the matrix case, started by its lead."""
        answer = self.client.post(
            "/api/v1/uploads",
            headers={**self.owner.headers, **tus_creation(self.case_id, length)},
        )
        assert answer.status_code == 201, answer.text
        upload_id: str = answer.json()["id"]
        return upload_id

    callers: list[Caller] = field(default_factory=list)
    members: dict[str, set[str]] = field(default_factory=dict)  # case id -> member user ids

    def new_user(self) -> str:
        """A fresh user nobody else refers to, so a mutating call cannot affect the next one."""
        name = f"target-{uuid.uuid4().hex[:12]}"
        answer = self.client.post(
            "/api/v1/users", json={"name": name, "role": "viewer"}, headers=self.admin.headers
        )
        assert answer.status_code == 201, answer.text
        user_id: str = answer.json()["id"]
        return user_id

    def new_member(self) -> str:
        """A fresh user who is a viewer on the matrix case: something to remove."""
        user_id = self.new_user()
        answer = self.client.put(
            f"/api/v1/cases/{self.case_id}/members/{user_id}",
            json={"role": "viewer", "can_identify_witnesses": False},
            headers=self.admin.headers,
        )
        assert answer.status_code == 200, answer.text
        return user_id

    def new_token(self) -> str:
        answer = self.client.post(
            f"/api/v1/users/{self.token_owner_id}/tokens", json={}, headers=self.admin.headers
        )
        assert answer.status_code == 201, answer.text
        token_id: str = answer.json()["id"]
        return token_id

    def etag(self, path: str) -> str:
        """The current ETag, read as admin just before a PATCH, so no call sees a stale one."""
        answer = self.client.get(path, headers=self.admin.headers)
        assert answer.status_code == 200, answer.text
        return answer.headers["etag"]

    def visible_cases(self, caller: Caller) -> set[str]:
        if caller.global_role == ADMIN:
            return set(self.members)
        return {case for case, members in self.members.items() if caller.actor.id in members}


def build_world(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: Callable[..., dict[str, Any]],
    add_member: Callable[..., None],
    *,
    with_callers: bool = True,
) -> World:
    """The matrix case is opened by an investigator, so the admin is not one of its members."""
    owner = make_user("investigator")
    outsider = make_user("investigator")
    case = make_case(owner)
    other = make_case(outsider, GANJA)
    world = World(
        client=client,
        admin=admin,
        owner=owner,
        case_id=case["id"],
        token_owner_id="",
        members={case["id"]: {owner.id}, other["id"]: {outsider.id}},
    )
    world.token_owner_id = world.new_user()
    _add_case_records(world)
    if not with_callers:
        return world
    world.callers.append(Caller(admin, ADMIN))
    for global_role in NON_ADMIN_ROLES:
        for case_role in CASE_ROLES:
            for identify in (False, True):
                actor = make_user(global_role)
                add_member(case["id"], actor, case_role, can_identify_witnesses=identify)
                world.members[case["id"]].add(actor.id)
                world.callers.append(Caller(actor, global_role, case_role, identify))
        world.callers.append(Caller(make_user(global_role), global_role))
    return world


def _add_case_records(world: World) -> None:
    """A witness, a testimony and a site visit in the matrix case, made by its lead."""
    base = f"/api/v1/cases/{world.case_id}"
    headers = world.owner.headers
    witness = world.client.post(
        f"{base}/witnesses", json={"full_name": "Matrix Witness"}, headers=headers
    )
    assert witness.status_code == 201, witness.text
    world.witness_id = witness.json()["id"]
    testimony = world.client.post(
        f"{base}/testimonies",
        json={
            "witness_id": world.witness_id,
            "recorded_at": "2020-12-02T10:00:00Z",
            "statement": "…",
        },
        headers=headers,
    )
    assert testimony.status_code == 201, testimony.text
    world.testimony_id = testimony.json()["id"]
    visit = world.client.post(
        f"{base}/site-visits", json={"visited_at": "2020-12-03T09:00:00Z"}, headers=headers
    )
    assert visit.status_code == 201, visit.text
    world.visit_id = visit.json()["id"]
    world.evidence_id = world.new_evidence()


# -- How to call each route with a valid request -----------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A valid request for one route: path parameters, body, query and extra headers."""

    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] | None = None  # a multipart upload instead of a JSON body
    content: bytes | None = None  # raw bytes instead of a JSON body


Prepare = Callable[[World, str], Prepared]  # (world, case id to address) -> request
Check = Callable[[World, Caller, httpx.Response], str | None]  # on 2xx: problem text or None
Record = Callable[[World, Caller, httpx.Response], None]  # on 2xx: bookkeeping


@dataclass(frozen=True)
class Driver:
    """How to call one route: `prepare` builds a valid request (fresh targets for mutations),
    `check` looks closer at an expected success, `record` notes what any success created."""

    prepare: Prepare
    check: Check | None = None
    record: Record | None = None


def _no_params(world: World, case_id: str) -> Prepared:
    return Prepared()


def _create_user(world: World, case_id: str) -> Prepared:
    return Prepared(body={"name": f"made-{uuid.uuid4().hex[:12]}", "role": "viewer"})


def _existing_user(world: World, case_id: str) -> Prepared:
    return Prepared(params={"user_id": world.owner.id})


def _patch_user(world: World, case_id: str) -> Prepared:
    user_id = world.new_user()
    return Prepared(
        params={"user_id": user_id},
        body={"role": "legal"},
        headers={"If-Match": world.etag(f"/api/v1/users/{user_id}")},
    )


def _issue_token(world: World, case_id: str) -> Prepared:
    return Prepared(params={"user_id": world.token_owner_id}, body={})


def _revoke_token(world: World, case_id: str) -> Prepared:
    return Prepared(params={"token_id": world.new_token()})


def _create_case(world: World, case_id: str) -> Prepared:
    return Prepared(body={**MARTUNI, "title": f"Missile strikes on Martuni {uuid.uuid4().hex[:8]}"})


def _list_cases(world: World, case_id: str) -> Prepared:
    return Prepared(query={"limit": "200"})


def _case(world: World, case_id: str) -> Prepared:
    return Prepared(params={"case_id": case_id})


def _patch_case(world: World, case_id: str) -> Prepared:
    return Prepared(
        params={"case_id": case_id},
        body={"summary": f"Edited {uuid.uuid4().hex}", "status": "under_review"},
        headers={"If-Match": world.etag(f"/api/v1/cases/{world.case_id}")},
    )


def _put_member(world: World, case_id: str) -> Prepared:
    # A grant worth refusing: investigator with the right to identify witnesses.
    return Prepared(
        params={"case_id": case_id, "user_id": world.new_user()},
        body={"role": "investigator", "can_identify_witnesses": True},
    )


def _remove_member(world: World, case_id: str) -> Prepared:
    return Prepared(params={"case_id": case_id, "user_id": world.new_member()})


def _is_me(world: World, caller: Caller, response: httpx.Response) -> str | None:
    got = response.json().get("id")
    return None if got == caller.actor.id else f"/users/me answered user {got}"


def _record_new_case(world: World, caller: Caller, response: httpx.Response) -> None:
    """Whoever opened a case is its lead: it belongs in their list from now on."""
    world.members[response.json()["id"]] = {caller.actor.id}


def _lists_only_own_cases(world: World, caller: Caller, response: httpx.Response) -> str | None:
    listed = {item["id"] for item in response.json()["items"]}
    cursor = response.json()["next_cursor"]
    while cursor:
        page = world.client.get(
            "/api/v1/cases", params={"limit": "200", "cursor": cursor}, headers=caller.actor.headers
        )
        listed |= {item["id"] for item in page.json()["items"]}
        cursor = page.json()["next_cursor"]
    wanted = world.visible_cases(caller)
    if listed == wanted:
        return None
    return f"list has {len(listed - wanted)} foreign and lacks {len(wanted - listed)} own cases"


def _in_case_or_missing(world: World, case_id: str, existing: str) -> str:
    """The matrix case's record, or (for the twin of a 404) a record that does not exist."""
    return existing if case_id == world.case_id else str(uuid.uuid4())


def _register_witness(world: World, case_id: str) -> Prepared:
    return Prepared(
        params={"case_id": case_id}, body={"full_name": f"Witness {uuid.uuid4().hex[:6]}"}
    )


def _witness(world: World, case_id: str) -> Prepared:
    return Prepared(params={"witness_id": _in_case_or_missing(world, case_id, world.witness_id)})


def _patch_witness(world: World, case_id: str) -> Prepared:
    witness_id = _in_case_or_missing(world, case_id, world.witness_id)
    etag = world.etag(f"/api/v1/witnesses/{world.witness_id}")
    return Prepared(
        params={"witness_id": witness_id}, body={"risk_level": "high"}, headers={"If-Match": etag}
    )


def _create_testimony(world: World, case_id: str) -> Prepared:
    return Prepared(
        params={"case_id": case_id},
        body={
            "witness_id": world.witness_id,
            "recorded_at": "2020-12-02T10:00:00Z",
            "statement": "…",
        },
    )


def _testimony(world: World, case_id: str) -> Prepared:
    return Prepared(
        params={"testimony_id": _in_case_or_missing(world, case_id, world.testimony_id)}
    )


def _patch_testimony(world: World, case_id: str) -> Prepared:
    testimony_id = _in_case_or_missing(world, case_id, world.testimony_id)
    etag = world.etag(f"/api/v1/testimonies/{world.testimony_id}")
    return Prepared(
        params={"testimony_id": testimony_id},
        body={"place": f"Martuni {uuid.uuid4().hex[:6]}"},
        headers={"If-Match": etag},
    )


def _create_visit(world: World, case_id: str) -> Prepared:
    return Prepared(params={"case_id": case_id}, body={"visited_at": "2020-12-03T09:00:00Z"})


def _visit(world: World, case_id: str) -> Prepared:
    return Prepared(params={"visit_id": _in_case_or_missing(world, case_id, world.visit_id)})


def _patch_visit(world: World, case_id: str) -> Prepared:
    visit_id = _in_case_or_missing(world, case_id, world.visit_id)
    etag = world.etag(f"/api/v1/site-visits/{world.visit_id}")
    return Prepared(
        params={"visit_id": visit_id},
        body={"observations": f"Crater {uuid.uuid4().hex[:6]}"},
        headers={"If-Match": etag},
    )


def tus_creation(case_id: str, length: int) -> dict[str, str]:
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("case_id", case_id), ("filename", "clip.mp4"))
    )
    return {"Tus-Resumable": "1.0.0", "Upload-Length": str(length), "Upload-Metadata": metadata}


def _upload_evidence(world: World, case_id: str) -> Prepared:
    return Prepared(
        params={"case_id": case_id},
        files={"file": ("photo.jpg", uuid.uuid4().bytes * 64, "image/jpeg")},
        body={"kind": "photo"},
    )


def _evidence(world: World, case_id: str) -> Prepared:
    return Prepared(params={"evidence_id": _in_case_or_missing(world, case_id, world.evidence_id)})


def _withdraw_evidence(world: World, case_id: str) -> Prepared:
    existing = world.new_evidence() if case_id == world.case_id else str(uuid.uuid4())
    return Prepared(params={"evidence_id": existing}, body={"reason": "Uploaded twice."})


def _create_upload(world: World, case_id: str) -> Prepared:
    return Prepared(headers=tus_creation(case_id, 16))


def _upload(world: World, case_id: str) -> Prepared:
    upload_id = world.new_upload() if case_id == world.case_id else str(uuid.uuid4())
    return Prepared(params={"upload_id": upload_id}, headers={"Tus-Resumable": "1.0.0"})


def _append_upload(world: World, case_id: str) -> Prepared:
    upload_id = world.new_upload(16) if case_id == world.case_id else str(uuid.uuid4())
    return Prepared(
        params={"upload_id": upload_id},
        content=uuid.uuid4().bytes,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )


DRIVERS: dict[RouteKey, Driver] = {
    ("POST", "/api/v1/users"): Driver(_create_user),
    ("GET", "/api/v1/users"): Driver(_no_params),
    ("GET", "/api/v1/users/me"): Driver(_no_params, _is_me),
    ("GET", "/api/v1/users/{user_id}"): Driver(_existing_user),
    ("PATCH", "/api/v1/users/{user_id}"): Driver(_patch_user),
    ("POST", "/api/v1/users/{user_id}/tokens"): Driver(_issue_token),
    ("GET", "/api/v1/users/{user_id}/tokens"): Driver(_existing_user),
    ("DELETE", "/api/v1/tokens/{token_id}"): Driver(_revoke_token),
    ("POST", "/api/v1/cases"): Driver(_create_case, record=_record_new_case),
    ("GET", "/api/v1/cases"): Driver(_list_cases, _lists_only_own_cases),
    ("GET", "/api/v1/cases/{case_id}"): Driver(_case),
    ("PATCH", "/api/v1/cases/{case_id}"): Driver(_patch_case),
    ("GET", "/api/v1/cases/{case_id}/members"): Driver(_case),
    ("PUT", "/api/v1/cases/{case_id}/members/{user_id}"): Driver(_put_member),
    ("DELETE", "/api/v1/cases/{case_id}/members/{user_id}"): Driver(_remove_member),
    ("POST", "/api/v1/cases/{case_id}/witnesses"): Driver(_register_witness),
    ("GET", "/api/v1/cases/{case_id}/witnesses"): Driver(_case),
    ("GET", "/api/v1/witnesses/{witness_id}"): Driver(_witness),
    ("PATCH", "/api/v1/witnesses/{witness_id}"): Driver(_patch_witness),
    ("POST", "/api/v1/cases/{case_id}/testimonies"): Driver(_create_testimony),
    ("GET", "/api/v1/cases/{case_id}/testimonies"): Driver(_case),
    ("GET", "/api/v1/testimonies/{testimony_id}"): Driver(_testimony),
    ("PATCH", "/api/v1/testimonies/{testimony_id}"): Driver(_patch_testimony),
    ("POST", "/api/v1/cases/{case_id}/site-visits"): Driver(_create_visit),
    ("GET", "/api/v1/cases/{case_id}/site-visits"): Driver(_case),
    ("GET", "/api/v1/site-visits/{visit_id}"): Driver(_visit),
    ("PATCH", "/api/v1/site-visits/{visit_id}"): Driver(_patch_visit),
    ("POST", "/api/v1/cases/{case_id}/evidence"): Driver(_upload_evidence),
    ("GET", "/api/v1/cases/{case_id}/evidence"): Driver(_case),
    ("GET", "/api/v1/evidence/{evidence_id}"): Driver(_evidence),
    ("GET", "/api/v1/evidence/{evidence_id}/content"): Driver(_evidence),
    ("GET", "/api/v1/evidence/{evidence_id}/custody"): Driver(_evidence),
    ("POST", "/api/v1/evidence/{evidence_id}/verify"): Driver(_evidence),
    ("POST", "/api/v1/evidence/{evidence_id}/withdraw"): Driver(_withdraw_evidence),
    ("OPTIONS", "/api/v1/uploads"): Driver(_no_params),
    ("POST", "/api/v1/uploads"): Driver(_create_upload),
    ("HEAD", "/api/v1/uploads/{upload_id}"): Driver(_upload),
    ("PATCH", "/api/v1/uploads/{upload_id}"): Driver(_append_upload),
    ("DELETE", "/api/v1/uploads/{upload_id}"): Driver(_upload),
    ("GET", "/api/v1/cases/{case_id}/audit"): Driver(_case),
    ("GET", "/api/v1/cases/{case_id}/protected-matches"): Driver(_case),
    ("GET", "/api/v1/audit/verify"): Driver(_no_params),
    ("GET", "/api/v1/signing-keys"): Driver(_no_params),
    ("GET", "/api/v1/cases/{case_id}/bundle"): Driver(_case),
}


def send(
    client: TestClient, route: RouteKey, prepared: Prepared, auth: dict[str, str]
) -> httpx.Response:
    method, template = route
    extra: dict[str, Any] = {"json": prepared.body}
    if prepared.files is not None:
        extra = {"files": prepared.files, "data": prepared.body}
    elif prepared.content is not None:
        extra = {"content": prepared.content}
    return client.request(
        method,
        template.format(**prepared.params),
        params=prepared.query or None,
        headers={**auth, **prepared.headers},
        **extra,
    )


# -- Reporting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    route: RouteKey
    caller: str
    expected: str
    got: str


def failure_table(failures: list[Failure]) -> str:
    """All mismatches at once, one line each, so one run shows the whole shape of a bug."""
    rows = [("route", "caller", "expected", "got")] + [
        (f"{f.route[0]} {f.route[1]}", f.caller, f.expected, f.got) for f in failures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    ]
    return f"{len(failures)} access-matrix mismatch(es):\n" + "\n".join(lines)


def describe(response: httpx.Response) -> str:
    text = response.text.replace("\n", " ")
    return f"{response.status_code} {text[:160]}"


def without_request_id(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        body.pop("request_id", None)
    return body


def problem_shape_issue(response: httpx.Response) -> str | None:
    """Refusals are RFC 9457 problems (API.md, Conventions) carrying their own status."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type != PROBLEM_JSON:
        return f"content-type {media_type!r}, not {PROBLEM_JSON}"
    if response.request.method == "HEAD":
        return None  # a HEAD answer carries the problem's headers, never a body (RFC 9110)
    body = without_request_id(response)
    if not isinstance(body, dict) or not {"type", "title", "status", "detail"} <= body.keys():
        return f"not a problem body: {response.text[:160]}"
    if body["status"] != response.status_code:
        return f"problem status {body['status']} on a {response.status_code} response"
    return None


# -- Walking the app's route table ---------------------------------------------------------------


@dataclass(frozen=True)
class RouteTable:
    guarded: frozenset[RouteKey]  # API routes that need a token
    public: frozenset[RouteKey]  # API routes marked @public
    docs: frozenset[str]  # the Starlette docs/openapi routes
    unknown: tuple[str, ...]  # anything else (a Mount, a plain Route...): nobody decided on it


def _routes(app: FastAPI) -> Iterator[tuple[Any, str]]:
    """Every route of `app.routes` with its full path template.

    Since FastAPI 0.137 `include_router` leaves one opaque `_IncludedRouter` in `app.routes`
    instead of copying its routes there, so a plain `for route in app.routes` would see no API
    route at all and this guard would pass while checking nothing. `iter_route_contexts` (what
    FastAPI's own OpenAPI generator walks) looks through included routers.
    """
    for context in iter_route_contexts(app.routes):
        yield context.original_route, str(context.path_format)


def route_table(app: FastAPI) -> RouteTable:
    docs_paths = {
        path
        for path in (
            app.openapi_url,
            app.docs_url,
            app.redoc_url,
            app.swagger_ui_oauth2_redirect_url,
            *DOCS_ROUTES,
        )
        if path
    }
    guarded: set[RouteKey] = set()
    public: set[RouteKey] = set()
    docs: set[str] = set()
    unknown: list[str] = []
    for route, path in _routes(app):
        if isinstance(route, APIRoute):
            keys = {(method, path) for method in route.methods or ()}
            (public if is_public_endpoint(route.endpoint) else guarded).update(keys)
        elif path in docs_paths:
            docs.add(path)
        else:
            unknown.append(f"{type(route).__name__} {path}")
    return RouteTable(frozenset(guarded), frozenset(public), frozenset(docs), tuple(unknown))


# -- Tests -------------------------------------------------------------------------------------


def test_every_route_has_an_access_rule(app: FastAPI) -> None:
    """A route without a row in EXPECTED has had nobody decide who may call it: fail the build.

    A row for a route the app does not serve means the table no longer describes the app (or
    the route walk went blind), which would make the matrix below check less than it claims.
    """
    table = route_table(app)
    without_rule = sorted(table.guarded - EXPECTED.keys())
    without_route = sorted(EXPECTED.keys() - table.guarded)
    assert not without_rule, f"routes with no entry in EXPECTED: {without_rule}"
    assert not without_route, f"EXPECTED names routes the app does not serve: {without_route}"
    assert not table.unknown, f"routes that are neither API routes nor docs: {table.unknown}"
    assert DRIVERS.keys() == EXPECTED.keys(), "every route in EXPECTED needs a way to call it"


def test_only_the_contracts_probes_are_public(app: FastAPI, client: TestClient) -> None:
    """`@public` switches authentication off; only the contract's probes and docs may have it.

    The route walk skips public endpoints, so a case route wrongly marked public would otherwise
    vanish from the matrix instead of failing it.
    """
    table = route_table(app)
    assert table.public <= CONTRACT_PUBLIC_ROUTES, (
        f"public beyond the contract: {sorted(table.public - CONTRACT_PUBLIC_ROUTES)}"
    )
    for _, path in sorted(table.public) + [("GET", p) for p in CONTRACT_PUBLIC_DOCS]:
        answer = client.get(path)
        assert answer.status_code == 200, f"{path} without a token: {describe(answer)}"


def test_every_caller_gets_what_the_contract_allows(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: Callable[..., dict[str, Any]],
    add_member: Callable[..., None],
    db: DatabaseProbe,
) -> None:
    """Every route x every caller kind: the status is the table's, refusals change nothing.

    On top of the status: a refusal is a problem+json body and leaves every table untouched; a
    non-member's 404 is byte-for-byte (request id aside) the 404 for a case that does not exist,
    so probing ids reveals nothing; and the case list of each caller holds exactly their cases.
    """
    world = build_world(client, admin, make_user, make_case, add_member)
    assert len(world.callers) == 1 + len(NON_ADMIN_ROLES) * (2 * len(CASE_ROLES) + 1)
    failures: list[Failure] = []
    for route, access in EXPECTED.items():
        for caller in world.callers:
            expected = access.status_for(caller)
            for problem in exercise(world, db, route, caller, expected):
                failures.append(Failure(route, str(caller), str(expected), problem))
    assert not failures, failure_table(failures)


def exercise(
    world: World, db: DatabaseProbe, route: RouteKey, caller: Caller, expected: int
) -> list[str]:
    """Make one call (and, for a 404, its twin on a case that does not exist); list problems."""
    driver = DRIVERS[route]
    prepared = driver.prepare(world, world.case_id)
    refused = expected >= 400
    before = db.fingerprint() if refused else None
    response = send(world.client, route, prepared, caller.actor.headers)
    if response.is_success and driver.record is not None:
        driver.record(world, caller, response)  # even a wrongly allowed case is theirs now
    problems: list[str] = []
    if response.status_code != expected:
        problems.append(describe(response))
    elif response.is_success and driver.check is not None:
        problems.extend(filter(None, [driver.check(world, caller, response)]))
    if refused:
        if before != db.fingerprint():
            problems.append(f"{response.status_code}, but the database changed")
        if response.status_code >= 400:
            problems.extend(filter(None, [problem_shape_issue(response)]))
    if expected == 404:
        problems.extend(compare_with_missing_case(world, db, route, caller, response))
    return problems


def compare_with_missing_case(
    world: World, db: DatabaseProbe, route: RouteKey, caller: Caller, response: httpx.Response
) -> list[str]:
    """The same request on a random case id must answer exactly as for the real, hidden case."""
    prepared = DRIVERS[route].prepare(world, str(uuid.uuid4()))
    before = db.fingerprint()
    ghost = send(world.client, route, prepared, caller.actor.headers)
    problems: list[str] = []
    if before != db.fingerprint():
        problems.append("a request on a missing case changed the database")
    if ghost.status_code != 404:
        problems.append(f"missing case answered {describe(ghost)}")
    if ghost.headers.get("content-type") != response.headers.get("content-type"):
        problems.append(
            f"content-type {response.headers.get('content-type')!r} for the hidden case, "
            f"{ghost.headers.get('content-type')!r} for a missing one"
        )
    hidden_body, missing_body = without_request_id(response), without_request_id(ghost)
    if hidden_body != missing_body:
        if isinstance(hidden_body, dict) and isinstance(missing_body, dict):
            differing = sorted(
                key
                for key in hidden_body.keys() | missing_body.keys()
                if hidden_body.get(key) != missing_body.get(key)
            )
            shown = "; ".join(
                f"{key}: {hidden_body.get(key)!r} (hidden) vs {missing_body.get(key)!r} (missing)"
                for key in differing
            )
        else:
            shown = f"{response.text[:120]!r} (hidden) vs {ghost.text[:120]!r} (missing)"
        problems.append(f"hidden and missing case answer differently: {shown}")
    return problems


def anonymous_headers(world: World) -> dict[str, dict[str, str]]:
    """Requests that carry no usable credentials: each must be answered 401 (API.md)."""
    issued = world.client.post(
        f"/api/v1/users/{world.token_owner_id}/tokens", json={}, headers=world.admin.headers
    )
    assert issued.status_code == 201, issued.text
    revoke = world.client.delete(
        f"/api/v1/tokens/{issued.json()['id']}", headers=world.admin.headers
    )
    assert revoke.status_code == 204, revoke.text
    return {
        "no Authorization header": {},
        "Basic instead of Bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "a bearer that is not a token": {"Authorization": "Bearer not-a-token"},
        "a revoked token": {"Authorization": f"Bearer {issued.json()['token']}"},
    }


def test_every_route_refuses_callers_without_a_valid_token(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: Callable[..., dict[str, Any]],
    add_member: Callable[..., None],
    db: DatabaseProbe,
) -> None:
    """No token (or no valid one) → 401 problem+json with a Bearer challenge, nothing changed.

    The requests are otherwise valid and address real users and cases, so a route that forgot
    authentication would answer 2xx here rather than a 404 that might hide the omission.
    """
    world = build_world(client, admin, make_user, make_case, add_member, with_callers=False)
    failures: list[Failure] = []
    requests = 0
    for label, headers in anonymous_headers(world).items():
        for route in EXPECTED:
            prepared = DRIVERS[route].prepare(world, world.case_id)
            before = _without_throttle(db.fingerprint())
            # Each from an address of its own: token guessing is throttled per address after
            # 20 failures (tests/auth/test_throttle.py), and this is not what is tested here.
            requests += 1
            caller = TestClient(client.app, client=(f"203.0.113.{requests % 256}", 40000))
            response = send(caller, route, prepared, headers)
            problems: list[str] = []
            if response.status_code != 401:
                problems.append(describe(response))
            else:
                problems.extend(filter(None, [problem_shape_issue(response)]))
                challenge = response.headers.get("www-authenticate", "")
                if not challenge.lower().startswith("bearer"):
                    problems.append(f"WWW-Authenticate is {challenge!r}, not a Bearer challenge")
            if before != _without_throttle(db.fingerprint()):
                problems.append(f"{response.status_code}, but the database changed")
            failures.extend(Failure(route, label, "401", p) for p in problems)
    assert requests < 256
    assert not failures, failure_table(failures)


def _without_throttle(fingerprint: dict[str, str]) -> dict[str, str]:
    """Everything but the count of failed authentications, which a refusal rightly moves."""
    return {table: rows for table, rows in fingerprint.items() if table != "auth_failures"}
