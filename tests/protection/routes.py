"""Every route of the app, and how the walk reads it as a member who may not identify.

`ROUTES` has one entry per route in the app's route table (test_route_table_is_complete checks
both ways, so a new route without a decision here fails the build). An entry is either walked
— the calls a viewer, an investigator and a legal member make, each with the status they must
get — or says why the route returns no text of others: it answers with what the caller sent
(an author sees their own words; test_guessing.py covers those), or with no case text at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.docs_ui import DOCS_ROUTES
from tests.fixtures.api import Actor
from tests.protection.corpus import VARIANTS
from tests.protection.world import MAIN_TAG, World

RouteKey = tuple[str, str]


@dataclass(frozen=True)
class Call:
    """One request, and the status this caller must get (a walk that got 404 everywhere would
    otherwise pass while reading nothing)."""

    method: str
    path: str
    expect: int = 200
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body_is_original: bool = False  # the evidence itself: never altered, so never searched
    paged: bool = False  # follow next_cursor to the end
    anonymous: bool = False


Calls = Callable[[World, str, Actor], list[Call]]  # (world, caller's case role, caller)


@dataclass(frozen=True)
class Entry:
    walk: Calls | None = None
    why: str = ""  # for a route that is not walked: why it returns no text of others


def own(why: str) -> Entry:
    return Entry(why=f"answers with the caller's own writes: {why}")


def no_text(why: str) -> Entry:
    return Entry(why=f"no case text: {why}")


def _allowed(role: str, *roles: str) -> bool:
    return role in roles


def _share(world: World, role: str, targets: list[str]) -> list[str]:
    """The targets one caller reads: the first, and every third from their place on. The
    three callers read every target between them (each spelling is read by one of them) and
    each reads every route, at a third of the requests."""
    place = list(world.members).index(role)
    return [t for i, t in enumerate(targets) if i == 0 or i % len(world.members) == place]


def _each_case(suffix: str = "", **options: Any) -> Calls:
    def calls(world: World, role: str, actor: Actor) -> list[Call]:
        cases = _share(world, role, world.case_ids)
        return [Call("GET", f"/api/v1/cases/{c}{suffix}", **options) for c in cases]

    return calls


def _main_case(suffix: str, *queries: dict[str, str]) -> Calls:
    def calls(world: World, role: str, actor: Actor) -> list[Call]:
        path = f"/api/v1/cases/{world.main_case}{suffix}"
        return [Call("GET", path, params=q, paged=True) for q in queries or ({},)]

    return calls


def _records(kind: str, suffix: str = "", **options: Any) -> Calls:
    kinds = ("evidence", "upload", "photo") if kind == "evidence" else (kind,)

    def calls(world: World, role: str, actor: Actor) -> list[Call]:
        paths = _share(world, role, [r.path for r in world.of_kind(*kinds)])
        return [Call("GET", path + suffix, **options) for path in paths]

    return calls


def _fixed(method: str, path: str, **options: Any) -> Calls:
    return lambda world, role, actor: [Call(method, path, **options)]


def _case_list(world: World, role: str, actor: Actor) -> list[Call]:
    queries = [{}, {"q": "rockets"}, {"q": "Gevorgyan"}, {"tag": MAIN_TAG}]
    return [Call("GET", "/api/v1/cases", params={"limit": "200", **q}, paged=True) for q in queries]


def _patches(kind: str, change: dict[str, Any]) -> Calls:
    """An investigator changes a field that holds no text (so is author of no text) and reads
    back the whole record; the others are refused."""

    def calls(world: World, role: str, actor: Actor) -> list[Call]:
        targets = world.of_kind(kind)
        if not _allowed(role, "investigator"):
            return [
                Call(
                    "PATCH",
                    targets[0].path,
                    403,
                    json=change,
                    headers=_etag(world, targets[0].path, actor),
                )
            ]
        return [
            Call("PATCH", r.path, json=change, headers=_etag(world, r.path, actor)) for r in targets
        ]

    return calls


def _etag(world: World, path: str, actor: Actor) -> dict[str, str]:
    return {"If-Match": world.client.get(path, headers=actor.headers).headers.get("etag", "*")}


def _witness_patch(world: World, role: str, actor: Actor) -> list[Call]:
    path = f"/api/v1/witnesses/{world.witness_id}"
    status = 200 if _allowed(role, "investigator") else 403
    return [
        Call(
            "PATCH", path, status, json={"risk_level": "medium"}, headers=_etag(world, path, actor)
        )
    ]


def _verify(world: World, role: str, actor: Actor) -> list[Call]:
    """One item of each kind: re-hashing answers no text but the exhibit number."""
    ids = [world.of_kind(kind)[0].id for kind in ("evidence", "upload", "photo")]
    if not _allowed(role, "investigator", "legal"):
        return [Call("POST", f"/api/v1/evidence/{ids[0]}/verify", 403)]
    return [Call("POST", f"/api/v1/evidence/{i}/verify") for i in ids]


def _withdraw(world: World, role: str, actor: Actor) -> list[Call]:
    body = {"reason": "Uploaded twice."}
    if not _allowed(role, "investigator"):
        return [Call("POST", f"/api/v1/evidence/{world.withdrawable[0]}/withdraw", 403, body)]
    return [Call("POST", f"/api/v1/evidence/{i}/withdraw", json=body) for i in world.withdrawable]


def _bundles(world: World, role: str, actor: Actor) -> list[Call]:
    if not _allowed(role, "legal"):
        return [Call("GET", f"/api/v1/cases/{world.main_case}/bundle", 403)]
    return [Call("GET", f"/api/v1/cases/{c}/bundle") for c in world.case_ids]


def _protected_matches(world: World, role: str, actor: Actor) -> list[Call]:
    """Readable by the case's identifiers only: 403 for every member without the flag."""
    return [Call("GET", f"/api/v1/cases/{world.main_case}/protected-matches", 403)]


_API = "/api/v1"
ROUTES: dict[RouteKey, Entry] = {
    ("GET", "/healthz"): Entry(_fixed("GET", "/healthz", anonymous=True)),
    ("GET", "/readyz"): Entry(_fixed("GET", "/readyz", anonymous=True)),
    ("GET", "/metrics"): Entry(_fixed("GET", "/metrics", anonymous=True)),
    ("POST", f"{_API}/users"): no_text("admins manage accounts"),
    ("GET", f"{_API}/users"): no_text("admins only; user names are not protected strings"),
    ("GET", f"{_API}/users/me"): Entry(_fixed("GET", f"{_API}/users/me")),
    ("GET", f"{_API}/users/{{user_id}}"): no_text("admins only"),
    ("PATCH", f"{_API}/users/{{user_id}}"): no_text("admins only"),
    ("POST", f"{_API}/users/{{user_id}}/tokens"): no_text("admins only"),
    ("GET", f"{_API}/users/{{user_id}}/tokens"): no_text("admins only"),
    ("DELETE", f"{_API}/tokens/{{token_id}}"): no_text("admins only; no body"),
    ("POST", f"{_API}/cases"): own("the new case holds only what its creator sent"),
    ("GET", f"{_API}/cases"): Entry(_case_list),
    ("GET", f"{_API}/cases/{{case_id}}"): Entry(_each_case()),
    ("PATCH", f"{_API}/cases/{{case_id}}"): Entry(_patches("case", {"status": "under_review"})),
    ("GET", f"{_API}/cases/{{case_id}}/members"): Entry(_each_case("/members")),
    ("PUT", f"{_API}/cases/{{case_id}}/members/{{user_id}}"): no_text("leads only; ids and flags"),
    ("DELETE", f"{_API}/cases/{{case_id}}/members/{{user_id}}"): no_text("leads only; no body"),
    ("POST", f"{_API}/cases/{{case_id}}/witnesses"): own(
        "a registration answers with what was sent"
    ),
    ("GET", f"{_API}/cases/{{case_id}}/witnesses"): Entry(_each_case("/witnesses")),
    ("GET", f"{_API}/witnesses/{{witness_id}}"): Entry(
        lambda world, role, actor: [Call("GET", f"{_API}/witnesses/{world.witness_id}")]
    ),
    ("PATCH", f"{_API}/witnesses/{{witness_id}}"): Entry(_witness_patch),
    ("POST", f"{_API}/cases/{{case_id}}/testimonies"): own("the new testimony is the caller's"),
    ("GET", f"{_API}/cases/{{case_id}}/testimonies"): Entry(_main_case("/testimonies")),
    ("GET", f"{_API}/testimonies/{{testimony_id}}"): Entry(_records("testimony")),
    ("PATCH", f"{_API}/testimonies/{{testimony_id}}"): Entry(
        _patches("testimony", {"language": "hy-AM"})
    ),
    ("POST", f"{_API}/cases/{{case_id}}/site-visits"): own("the new visit log is the caller's"),
    ("GET", f"{_API}/cases/{{case_id}}/site-visits"): Entry(_main_case("/site-visits")),
    ("GET", f"{_API}/site-visits/{{visit_id}}"): Entry(_records("site_visit")),
    ("PATCH", f"{_API}/site-visits/{{visit_id}}"): Entry(
        _patches("site_visit", {"visited_until": "2020-12-03T13:00:00Z"})
    ),
    ("POST", f"{_API}/cases/{{case_id}}/evidence"): own("the new item is the uploader's"),
    ("GET", f"{_API}/cases/{{case_id}}/evidence"): Entry(
        _main_case("/evidence", {}, {"withdrawn": "true"})
    ),
    ("GET", f"{_API}/evidence/{{evidence_id}}"): Entry(_records("evidence")),
    ("GET", f"{_API}/evidence/{{evidence_id}}/content"): Entry(
        _records("evidence", "/content", body_is_original=True)
    ),
    ("GET", f"{_API}/evidence/{{evidence_id}}/custody"): Entry(
        _records("evidence", "/custody", paged=True)
    ),
    ("POST", f"{_API}/evidence/{{evidence_id}}/verify"): Entry(_verify),
    ("POST", f"{_API}/evidence/{{evidence_id}}/withdraw"): Entry(_withdraw),
    ("OPTIONS", f"{_API}/uploads"): no_text("tus capabilities"),
    ("POST", f"{_API}/uploads"): own("an upload belongs to its starter (404 for anyone else)"),
    ("HEAD", f"{_API}/uploads/{{upload_id}}"): own("the starter's own upload"),
    ("PATCH", f"{_API}/uploads/{{upload_id}}"): own("the starter's own upload"),
    ("DELETE", f"{_API}/uploads/{{upload_id}}"): own("the starter's own upload"),
    ("GET", f"{_API}/cases/{{case_id}}/bundle"): Entry(_bundles),
    ("GET", f"{_API}/cases/{{case_id}}/audit"): Entry(_each_case("/audit", paged=True)),
    ("GET", f"{_API}/cases/{{case_id}}/protected-matches"): Entry(_protected_matches),
    ("GET", f"{_API}/audit/verify"): no_text("admins only; chain ids, counts and hashes"),
    ("GET", f"{_API}/signing-keys"): Entry(_fixed("GET", f"{_API}/signing-keys")),
}
WALKED = sorted(route for route, entry in ROUTES.items() if entry.walk is not None)
assert len(VARIANTS) > 10  # the walk's world writes every variant (corpus.py)


def app_routes(app: FastAPI) -> tuple[set[RouteKey], list[str]]:
    """The app's API routes (as the access matrix walks them), and anything else that is not
    documentation (nobody decided on it)."""
    docs = {
        app.openapi_url,
        app.docs_url,
        app.redoc_url,
        app.swagger_ui_oauth2_redirect_url,
        *DOCS_ROUTES,
    }
    routes: set[RouteKey] = set()
    unknown: list[str] = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, str(context.path_format)
        if isinstance(route, APIRoute):
            routes |= {(method, path) for method in route.methods or ()}
        elif path not in docs:
            unknown.append(f"{type(route).__name__} {path}")
    return routes, unknown


def send(client: TestClient, call: Call, actor: Actor) -> Iterator[httpx.Response]:
    """The call's answer (every page of it, for a paged list)."""
    headers = {**({} if call.anonymous else actor.headers), **call.headers}
    params = dict(call.params)
    while True:
        extra = {"json": call.json} if call.json is not None else {}
        answer = client.request(
            call.method, call.path, params=params or None, headers=headers, **extra
        )
        yield answer
        cursor = answer.json().get("next_cursor") if call.paged and answer.is_success else None
        if not cursor:
            return
        params["cursor"] = cursor
