"""Case search never matches through a protected string for those who may not see it.

Each query below matches the world's cases only through texts that name the witness (her
surname, her contact's digits, a spelling an identifier recorded, her name in Armenian and
Cyrillic script, a tag naming her family): a viewer, an investigator and a legal member find
nothing, while the lead and an admin, who may identify, find the case. On both backends (the
world is built on each). Timings are measured in bench/, not asserted here.
"""

from __future__ import annotations

import pytest

from tests.fixtures.api import Actor
from tests.protection.conftest import Shared
from tests.protection.world import MAIN_TAG, World

THROUGH_PROTECTED = {
    "surname": "Gevorgyan",
    "contact digits": "91123456",
    "other spelling": "Kevorkian",
    "armenian script": "Գևորգյան",
    "cyrillic script": "Геворгян",
    "first name": "Anahit",
}


def _found(world: World, actor: Actor, **params: str) -> set[str]:
    answer = world.client.get(
        "/api/v1/cases", params={"limit": "200", **params}, headers=actor.headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["next_cursor"] is None
    return {item["id"] for item in answer.json()["items"]}


@pytest.mark.parametrize("query", THROUGH_PROTECTED.values(), ids=THROUGH_PROTECTED.keys())
def test_search_through_a_protected_string_finds_nothing_for_non_identifiers(
    shared: Shared, query: str
) -> None:
    world = shared.world
    found = {role: _found(world, actor, q=query) for role, actor in world.members.items()}
    assert found == {role: set() for role in world.members}, (
        f"q={query!r} found cases through a protected string: "
        + ", ".join(f"{role}: {len(ids)}" for role, ids in found.items())
    )


@pytest.mark.parametrize("query", THROUGH_PROTECTED.values(), ids=THROUGH_PROTECTED.keys())
def test_search_through_a_protected_string_finds_the_case_for_identifiers(
    shared: Shared, query: str
) -> None:
    world = shared.world
    for label, actor in world.identifiers.items():
        assert world.main_case in _found(world, actor, q=query), f"{label}: q={query!r}"


def test_tag_naming_the_witness_finds_nothing_for_non_identifiers(shared: Shared) -> None:
    world = shared.world
    variant_tag = "anahit gevorgyan"  # the plain variant case's tag (tags are lower-cased)
    for tag in (MAIN_TAG, variant_tag):
        for role, actor in world.members.items():
            assert _found(world, actor, tag=tag) == set(), f"{role}: tag={tag!r}"
    assert world.main_case in _found(world, world.lead, tag=MAIN_TAG)
    assert world.cases["plain"] in _found(world, world.admin, tag=variant_tag)


def test_search_still_finds_what_is_not_protected(shared: Shared) -> None:
    """The same cases are found by a word of theirs that names nobody, by everyone: withheld
    search is not a search switched off."""
    world = shared.world
    for actor in [*world.members.values(), *world.identifiers.values()]:
        assert world.main_case in _found(world, actor, q="rockets"), actor.role
        assert world.cases["plain"] in _found(world, actor, q="courtyard"), actor.role
