"""Changing a case: JSON merge patch under If-Match, so that no concurrent edit is ever lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import MARTUNI, Actor, DatabaseProbe, LiveServer

MakeCase = Callable[..., dict[str, Any]]


def patch(client: TestClient, actor: Actor, case_id: str, body: Any, etag: str | None) -> Any:
    headers = dict(actor.headers)
    if etag is not None:
        headers["If-Match"] = etag
    return client.patch(f"/api/v1/cases/{case_id}", json=body, headers=headers)


def test_patch_changes_only_what_is_sent(
    client: TestClient, admin: Actor, make_case: MakeCase
) -> None:
    case = make_case(admin)
    answer = patch(
        client,
        admin,
        case["id"],
        {"status": "under_review", "casualties": {"injured": 3, "children_injured": 2}},
        '"1"',
    )
    assert answer.status_code == 200, answer.text
    updated = answer.json()
    assert answer.headers["etag"] == '"2"'
    assert updated["version"] == 2
    assert updated["status"] == "under_review"
    # Nested objects merge: killed and children_killed are kept.
    assert updated["casualties"] == {
        "killed": 1,
        "injured": 3,
        "children_killed": 1,
        "children_injured": 2,
    }
    assert updated["title"] == case["title"]
    assert updated["location"] == case["location"]
    assert updated["updated_at"] > case["updated_at"]
    assert updated["created_at"] == case["created_at"]
    assert client.get(f"/api/v1/cases/{case['id']}", headers=admin.headers).json() == updated


def test_null_clears_a_field_or_a_whole_object(
    client: TestClient, admin: Actor, make_case: MakeCase
) -> None:
    case = make_case(admin, weapon="Unguided rockets")
    answer = patch(client, admin, case["id"], {"weapon": None, "location": None}, '"1"')
    assert answer.status_code == 200, answer.text
    assert answer.json()["weapon"] is None
    assert answer.json()["location"] is None


def test_tags_are_replaced_as_a_set(client: TestClient, admin: Actor, make_case: MakeCase) -> None:
    case = make_case(admin)
    answer = patch(client, admin, case["id"], {"tags": ["Cluster", "cluster", "night"]}, '"1"')
    assert answer.status_code == 200, answer.text
    assert answer.json()["tags"] == ["cluster", "night"]


def test_a_patch_that_changes_nothing_keeps_the_version(
    client: TestClient, admin: Actor, make_case: MakeCase
) -> None:
    case = make_case(admin)
    answer = patch(client, admin, case["id"], {"title": case["title"]}, '"1"')
    assert answer.status_code == 200
    assert answer.headers["etag"] == '"1"'


def test_missing_if_match_is_428(
    client: TestClient, admin: Actor, make_case: MakeCase, db: DatabaseProbe
) -> None:
    case = make_case(admin)
    before = db.snapshot()
    answer = patch(client, admin, case["id"], {"status": "closed"}, None)
    assert answer.status_code == 428
    assert answer.json()["type"] == "urn:casefile:problem:precondition-required"
    assert db.snapshot() == before


@pytest.mark.parametrize("stale", ['"0"', '"2"', 'W/"1"', "1", '"1 "', "garbage"])
def test_stale_or_wrong_if_match_is_412(
    client: TestClient, admin: Actor, make_case: MakeCase, db: DatabaseProbe, stale: str
) -> None:
    case = make_case(admin)
    before = db.snapshot()
    answer = patch(client, admin, case["id"], {"status": "closed"}, stale)
    assert answer.status_code == 412, answer.text
    assert answer.headers["etag"] == '"1"'  # tells the client what is current
    assert db.snapshot() == before


def test_if_match_star_and_lists(client: TestClient, admin: Actor, make_case: MakeCase) -> None:
    case = make_case(admin)
    assert patch(client, admin, case["id"], {"status": "closed"}, "*").status_code == 200
    answer = patch(client, admin, case["id"], {"status": "open"}, '"7", "2"')
    assert answer.status_code == 200
    assert answer.headers["etag"] == '"3"'


def test_a_second_writer_with_the_old_etag_is_refused(
    client: TestClient, admin: Actor, make_case: MakeCase
) -> None:
    case = make_case(admin)
    assert patch(client, admin, case["id"], {"weapon": "Smerch MLRS"}, '"1"').status_code == 200
    late = patch(client, admin, case["id"], {"weapon": "Grad MLRS"}, '"1"')
    assert late.status_code == 412
    read = client.get(f"/api/v1/cases/{case['id']}", headers=admin.headers).json()
    assert read["weapon"] == "Smerch MLRS"


INVALID_PATCHES = {
    "title to null": ({"title": None}, "title"),
    "unknown status": ({"status": "archived"}, "status"),
    "children exceed killed after merge": ({"casualties": {"children_killed": 5}}, "casualties"),
    "killed below children after merge": ({"casualties": {"killed": 0}}, "casualties"),
    "half a coordinate pair after merge": ({"location": {"lat": None}}, "location"),
    "latitude out of range": ({"location": {"lat": 123}}, "location.lat"),
    "future date": ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
    "unknown field": ({"owner": "x"}, "owner"),
    "not an object": ([], ""),
}


@pytest.mark.parametrize(("body", "field"), INVALID_PATCHES.values(), ids=INVALID_PATCHES.keys())
def test_invalid_patch_is_refused_and_nothing_is_written(
    client: TestClient,
    admin: Actor,
    make_case: MakeCase,
    db: DatabaseProbe,
    body: Any,
    field: str,
) -> None:
    case = make_case(admin)
    before = db.snapshot()
    answer = patch(client, admin, case["id"], body, '"1"')
    assert answer.status_code == 422, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]], answer.json()
    assert db.snapshot() == before


def test_concurrent_patches_lose_nothing(
    live_server: LiveServer, admin: Actor, client: TestClient
) -> None:
    """Eight writers each add their own tag by read-modify-write with If-Match, retrying on
    412. Without optimistic concurrency some tags would be overwritten; with it all survive."""
    case = client.post("/api/v1/cases", json=MARTUNI, headers=admin.headers).json()
    url = f"/api/v1/cases/{case['id']}"
    writers = 8
    tags_per_writer = 3
    conflicts = []
    errors: list[str] = []
    barrier = threading.Barrier(writers)

    def writer(number: int) -> None:
        with live_server.client(headers=admin.headers) as http:
            barrier.wait()
            for round_ in range(tags_per_writer):
                for _attempt in range(200):
                    current = http.get(url)
                    tags = [*current.json()["tags"], f"w{number}-{round_}"]
                    answer = http.patch(
                        url, json={"tags": tags}, headers={"If-Match": current.headers["etag"]}
                    )
                    if answer.status_code == 200:
                        break
                    if answer.status_code != 412:
                        errors.append(f"{answer.status_code}: {answer.text}")
                        return
                    conflicts.append(number)
                else:
                    errors.append(f"writer {number} never got through")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    final = client.get(url, headers=admin.headers).json()
    expected = {f"w{n}-{r}" for n in range(writers) for r in range(tags_per_writer)}
    assert expected <= set(final["tags"])
    assert final["version"] == 1 + writers * tags_per_writer
    assert conflicts, "the writers never collided, so the test proved nothing"
