"""HEAD on every GET route (RFC 9110 §9.3.2): for the same caller, the GET's status and
headers, and no body — problems (401, 403, 404) included. Walked over the app's own route
table, so a new GET route cannot escape.

An original's HEAD reads no byte of the object and records no download; a bundle's HEAD builds
and exports nothing (it leaves out the size and id that only a built bundle has)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from app.kit.routing import iter_api_routes
from tests.fixtures.api import Actor, LiveServer, MakeUser
from tests.hostile.routes import World

# Differ between any two requests; everything else must be the GET's.
VOLATILE = {"x-request-id", "date"}
# Counts requests, so its size changes with each one (the HEAD itself included).
SIZE_CHANGES = {"/metrics"}
BUNDLE = "/api/v1/cases/{case_id}/bundle"
# A bundle's size and id exist once it is built (and its export recorded); a HEAD builds none.
BUNDLE_ONLY_GET = {"content-length", "content-disposition", "casefile-bundle-id"}


def _get_routes(client: TestClient) -> list[str]:
    return sorted(
        route.path_format
        for route in iter_api_routes(client.app)  # type: ignore[arg-type]
        if "GET" in (route.methods or ())
    )


def _headers(answer: httpx.Response, ignored: set[str]) -> dict[str, str]:
    return {k: v for k, v in answer.headers.items() if k not in VOLATILE | ignored}


def _callers(client: TestClient, world: World, make_user: MakeUser) -> dict[str, dict[str, str]]:
    viewer = make_user("viewer")
    joined = client.put(
        f"/api/v1/cases/{world.case_id}/members/{viewer.id}",
        json={"role": "viewer", "can_identify_witnesses": False},
        headers=world.admin.headers,
    )
    assert joined.status_code == 200, joined.text
    return {
        "admin": world.admin.headers,
        "viewer member": viewer.headers,  # 403 on the bundle and the admin routes
        "outsider": make_user("investigator").headers,  # 404 on the case's resources
        "anonymous": {},  # 401 (a bad token would soon be throttled: 429)
    }


def test_every_get_route_answers_head_as_get(
    client: TestClient, world: World, make_user: MakeUser
) -> None:
    callers = _callers(client, world, make_user)
    problems: list[str] = []
    statuses: set[int] = set()
    for template in _get_routes(client):
        path = template.format_map(vars(world))
        ignored = BUNDLE_ONLY_GET if template == BUNDLE else set()
        if template in SIZE_CHANGES:
            ignored = {"content-length"}
        for who, headers in callers.items():
            got = client.get(path, headers=headers)
            head = client.head(path, headers=headers)
            statuses.add(head.status_code)
            where = f"{who}: HEAD {path}"
            if head.status_code != got.status_code:
                problems.append(f"{where} answered {head.status_code}, GET {got.status_code}")
            if head.content:
                problems.append(f"{where} sent a body: {head.content[:80]!r}")
            if _headers(head, ignored) != _headers(got, ignored):
                problems.append(f"{where}: {_headers(head, ignored)} != {_headers(got, ignored)}")
    assert not problems, "\n".join(problems)
    assert {200, 401, 403, 404} <= statuses  # the walk met every kind of answer


class _CountingStore:
    """The app's real object store, counting the reads of object bytes."""

    def __init__(self, store: Any) -> None:
        self.store, self.reads = store, 0

    def read(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        self.reads += 1
        return self.store.read(*args, **kwargs)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
def counting_store(client: TestClient) -> Iterator[_CountingStore]:
    state = client.app.state  # type: ignore[attr-defined]
    real = state.object_store
    state.object_store = _CountingStore(real)
    yield state.object_store
    state.object_store = real


def _downloads(client: TestClient, admin: Actor, evidence_id: str) -> int:
    custody = client.get(
        f"/api/v1/evidence/{evidence_id}/custody", params={"limit": "200"}, headers=admin.headers
    )
    assert custody.status_code == 200, custody.text
    return sum(e["action"] == "evidence.downloaded" for e in custody.json()["items"])


@pytest.mark.parametrize("byte_range", [None, "bytes=2-5", "bytes=-3", "bytes=99-"])
def test_content_head_reads_no_byte_and_records_no_download(
    client: TestClient, world: World, counting_store: _CountingStore, byte_range: str | None
) -> None:
    path = f"/api/v1/evidence/{world.evidence_id}/content"
    headers = {**world.admin.headers, **({"Range": byte_range} if byte_range else {})}
    before = _downloads(client, world.admin, world.evidence_id)
    head = client.head(path, headers=headers)
    assert counting_store.reads == 0
    assert _downloads(client, world.admin, world.evidence_id) == before
    got = client.get(path, headers=headers)
    assert head.status_code == got.status_code
    assert _headers(head, set()) == _headers(got, set())
    assert head.content == b""
    if got.status_code in (200, 206):
        for name in ("content-length", "etag", "repr-digest", "accept-ranges", "content-type"):
            assert name in head.headers, name


def test_bundle_head_exports_nothing(client: TestClient, world: World) -> None:
    audit = f"/api/v1/cases/{world.case_id}/audit"
    before = client.get(audit, params={"limit": "200"}, headers=world.admin.headers).json()
    head = client.head(f"/api/v1/cases/{world.case_id}/bundle", headers=world.admin.headers)
    assert head.status_code == 200
    assert head.headers["content-type"] == "application/zip"
    assert head.content == b""
    after = client.get(audit, params={"limit": "200"}, headers=world.admin.headers).json()
    assert after["items"] == before["items"]


def test_head_through_uvicorn(live_server: LiveServer, world: World) -> None:
    """Under the server `casefile serve` runs: an original's and a problem's HEAD end cleanly
    with their GET's Content-Length and no body, and the connection stays usable."""
    content = f"/api/v1/evidence/{world.evidence_id}/content"
    with live_server.client() as http:
        for path, headers, status in [
            (content, world.admin.headers, 200),
            (f"/api/v1/cases/{world.case_id}", {}, 401),
            (f"/api/v1/cases/{world.case_id}", world.admin.headers, 200),
        ]:
            got = http.get(path, headers=headers)
            head = http.head(path, headers=headers)
            assert (head.status_code, got.status_code) == (status, status)
            assert head.content == b""
            assert head.headers["content-length"] == str(len(got.content))
