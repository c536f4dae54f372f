"""Conditional GET over HTTP (RFC 9110 §13, RFC 9111): 304 for what the caller already holds,
never for another caller's representation, never for an unsafe method; Cache-Control chosen
per resource."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import Actor, MakeUser
from tests.hostile.routes import World


def _resources(world: World) -> dict[str, str]:
    return {
        "case": f"/api/v1/cases/{world.case_id}",
        "evidence item": f"/api/v1/evidence/{world.evidence_id}",
        "content": f"/api/v1/evidence/{world.evidence_id}/content",
        "testimony": f"/api/v1/testimonies/{world.testimony_id}",
        "witness": f"/api/v1/witnesses/{world.witness_id}",
        "site visit": f"/api/v1/site-visits/{world.visit_id}",
    }


KINDS = ["case", "evidence item", "content", "testimony", "witness", "site visit"]


def _get(client: TestClient, path: str, actor: Actor, **headers: str) -> httpx.Response:
    return client.get(path, headers={**actor.headers, **headers})


@pytest.mark.parametrize("kind", KINDS)
def test_a_matching_tag_is_not_modified(client: TestClient, world: World, kind: str) -> None:
    path, admin = _resources(world)[kind], world.admin
    first = _get(client, path, admin)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    for sent in [etag, "*", f"W/{etag}", f'"nope", {etag}', f'"nope",{etag}']:
        again = _get(client, path, admin, **{"If-None-Match": sent})
        assert again.status_code == 304, (sent, again.status_code)
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == first.headers["cache-control"]
        assert "content-length" not in again.headers or again.headers["content-length"] == "0"
    for sent in ['"nope"', f'"{etag}"', etag.rstrip('"') + 'x"', "W/" + etag.rstrip('"') + '0"']:
        assert _get(client, path, admin, **{"If-None-Match": sent}).status_code == 200, sent
    head = client.head(path, headers={**admin.headers, "If-None-Match": etag})
    assert (head.status_code, head.content) == (304, b"")


def test_cache_control_per_resource(client: TestClient, world: World) -> None:
    admin = world.admin
    lists = [f"/api/v1/cases/{world.case_id}/{name}" for name in ("witnesses", "testimonies")]
    stored_nowhere = [
        *(_resources(world)[k] for k in KINDS if k != "content"),
        *lists,
        "/api/v1/cases",
        f"/api/v1/cases/{world.case_id}/audit",
        f"/api/v1/cases/{world.case_id}/bundle",
    ]
    for path in stored_nowhere:
        answer = _get(client, path, admin)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["cache-control"] == "private, no-store", path
        assert "Authorization" in answer.headers["vary"], path
    content = _get(client, _resources(world)["content"], admin)
    assert content.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in content.headers["vary"]
    refused = client.get(_resources(world)["witness"])
    assert refused.status_code == 401
    assert refused.headers["cache-control"] == "private, no-store"


def _viewer(client: TestClient, world: World, make_user: MakeUser, identify: bool) -> Actor:
    viewer = make_user("viewer")
    _set_identify(client, world, viewer, identify)
    return viewer


def _set_identify(client: TestClient, world: World, member: Actor, identify: bool) -> None:
    answer = client.put(
        f"/api/v1/cases/{world.case_id}/members/{member.id}",
        json={"role": "viewer", "can_identify_witnesses": identify},
        headers=world.admin.headers,
    )
    assert answer.status_code == 200, answer.text


def test_no_304_for_another_callers_representation(
    client: TestClient, world: World, make_user: MakeUser
) -> None:
    """The admin sees the witness's name; a viewer who may not identify sees a pseudonym. The
    admin's tag must not revalidate for the viewer (a cache holding the admin's answer would
    show the viewer the name), and the viewer's tag tells nothing of the admin's."""
    viewer = _viewer(client, world, make_user, identify=False)
    path = _resources(world)["witness"]
    by_admin = _get(client, path, world.admin)
    by_viewer = _get(client, path, viewer)
    assert "Anahit" in by_admin.text
    assert "Anahit" not in by_viewer.text
    assert by_admin.headers["etag"] != by_viewer.headers["etag"]
    crossed = _get(client, path, viewer, **{"If-None-Match": by_admin.headers["etag"]})
    assert crossed.status_code == 200
    assert "Anahit" not in crossed.text
    own = _get(client, path, viewer, **{"If-None-Match": by_viewer.headers["etag"]})
    assert own.status_code == 304


def test_a_right_taken_away_ends_revalidation(
    client: TestClient, world: World, make_user: MakeUser
) -> None:
    """Same record, same version: when the viewer loses the identify flag, the tag of the
    answer that showed the name no longer gives 304."""
    viewer = _viewer(client, world, make_user, identify=True)
    path = _resources(world)["witness"]
    named = _get(client, path, viewer)
    assert "Anahit" in named.text
    unchanged = _get(client, path, viewer, **{"If-None-Match": named.headers["etag"]})
    assert unchanged.status_code == 304  # until the right goes
    _set_identify(client, world, viewer, identify=False)
    again = _get(client, path, viewer, **{"If-None-Match": named.headers["etag"]})
    assert again.status_code == 200
    assert "Anahit" not in again.text


def test_a_case_read_changes_tag_when_its_counts_do(client: TestClient, world: World) -> None:
    path = _resources(world)["case"]
    before = _get(client, path, world.admin)
    assert (
        _get(client, path, world.admin, **{"If-None-Match": before.headers["etag"]}).status_code
        == 304
    )
    visit = {"visited_at": "2020-12-04T09:00:00Z", "observations": "Another crater."}
    made = client.post(f"{path}/site-visits", json=visit, headers=world.admin.headers)
    assert made.status_code == 201, made.text
    after = _get(client, path, world.admin, **{"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.json() != before.json()


def _date(moment: datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


def test_content_if_modified_since(client: TestClient, world: World) -> None:
    path, admin = _resources(world)["content"], world.admin
    first = _get(client, path, admin)
    modified = email.utils.parsedate_to_datetime(first.headers["last-modified"])
    assert modified.tzinfo is not None
    assert datetime.now(UTC) - modified < timedelta(minutes=10)
    exact, later = first.headers["last-modified"], _date(modified + timedelta(hours=1))
    earlier = _date(modified - timedelta(seconds=1))
    for since, status in [(exact, 304), (later, 304), (earlier, 200), ("yesterday", 200)]:
        answer = _get(client, path, admin, **{"If-Modified-Since": since})
        assert answer.status_code == status, since
        if status == 304:
            assert answer.content == b""
            assert answer.headers["last-modified"] == exact
    # If-None-Match takes precedence: a stale tag is a 200 whatever the date says, a
    # matching one a 304 whatever it says.
    stale = {"If-None-Match": '"nope"', "If-Modified-Since": later}
    assert _get(client, path, admin, **stale).status_code == 200
    current = {"If-None-Match": first.headers["etag"], "If-Modified-Since": earlier}
    assert _get(client, path, admin, **current).status_code == 304
    ranged = {"If-None-Match": first.headers["etag"], "Range": "bytes=0-1"}
    assert _get(client, path, admin, **ranged).status_code == 304
    json_read = _resources(world)["case"]
    assert _get(client, json_read, admin, **{"If-Modified-Since": later}).status_code == 200


def test_no_304_for_unsafe_methods(client: TestClient, world: World) -> None:
    path, admin = _resources(world)["case"], world.admin
    etag = _get(client, path, admin).headers["etag"]
    assert _get(client, path, admin, **{"If-None-Match": etag}).status_code == 304  # a GET would
    patched = client.patch(
        path,
        json={"status": "under_review"},
        headers={**admin.headers, "If-Match": etag, "If-None-Match": etag},
    )
    assert patched.status_code == 200, patched.text  # a GET's tag serves for If-Match
    verified = client.post(
        f"/api/v1/evidence/{world.evidence_id}/verify",
        headers={**admin.headers, "If-None-Match": "*"},
    )
    assert verified.status_code == 200, verified.text
    stale = client.patch(path, json={"status": "open"}, headers={**admin.headers, "If-Match": etag})
    assert stale.status_code == 412  # the version it named is gone
