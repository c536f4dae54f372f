"""Lists take turns (app.kit.lanes): while a worker's list turns are all taken, another list
waits, and single reads and writes go straight through; the waiting list then answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from app.kit import lanes
from tests.fixtures.api import GANJA, Actor


@pytest.fixture
def all_turns_taken(client: TestClient) -> Iterator[Callable[[], None]]:
    """Take every list turn of the app's event loop; the fixture's value gives them back."""
    portal = client.portal
    assert portal is not None

    async def take() -> None:
        for _ in range(lanes.LIST_LANE_SIZE):
            await lanes.list_lane().acquire()

    async def give_back() -> None:
        for _ in range(lanes.LIST_LANE_SIZE):
            lanes.list_lane().release()

    portal.call(take)
    given = False

    def release() -> None:
        nonlocal given
        if not given:
            given = True
            portal.call(give_back)

    yield release
    release()


@pytest.mark.parametrize("listing", ["/api/v1/cases", "/api/v1/cases/{case}/evidence"])
def test_a_list_waits_for_a_turn_while_reads_and_writes_go_through(
    listing: str,
    client: TestClient,
    admin: Actor,
    make_case: Callable[..., dict[str, Any]],
    all_turns_taken: Callable[[], None],
) -> None:
    case = make_case(admin, GANJA)
    answers: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            client.get(listing.format(case=case["id"]), headers=admin.headers)
        )
    )
    waiting.start()
    waiting.join(timeout=1)
    assert waiting.is_alive(), "the list did not wait for a turn"

    read = client.get(f"/api/v1/cases/{case['id']}", headers=admin.headers)
    assert read.status_code == 200
    written = client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"summary": "Changed while every list turn was taken."},
        headers={**admin.headers, "If-Match": read.headers["ETag"]},
    )
    assert written.status_code == 200, written.text
    assert waiting.is_alive()

    all_turns_taken()
    waiting.join(timeout=30)
    assert not waiting.is_alive()
    assert answers[0].status_code == 200
    assert isinstance(answers[0].json()["items"], list)


def test_a_refused_list_gives_its_turn_back(client: TestClient, admin: Actor) -> None:
    """Lists refused inside their turn (422: a bad query) free it: after more refusals than
    there are turns, a good list still answers at once."""
    answers: list[httpx.Response] = []

    def refusals_then_a_list() -> None:
        for _ in range(2 * lanes.LIST_LANE_SIZE):
            answers.append(client.get("/api/v1/cases", params={"limit": 0}, headers=admin.headers))
        answers.append(client.get("/api/v1/cases", headers=admin.headers))

    listing = threading.Thread(target=refusals_then_a_list)
    listing.start()
    listing.join(timeout=30)
    stuck = listing.is_alive()
    if stuck:  # let it finish, so that the failure below is a failure, not a hung test

        async def give_turns() -> None:
            for _ in range(2 * lanes.LIST_LANE_SIZE):
                lanes.list_lane().release()

        assert client.portal is not None
        client.portal.call(give_turns)
        listing.join(timeout=30)
    assert not stuck, "a refused list kept its turn"
    assert [a.status_code for a in answers] == [422] * (2 * lanes.LIST_LANE_SIZE) + [200]
