"""The `scene` every testimony test starts from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import MakeUser
from tests.testimonies.support import WITNESS_NAME, Scene, register_witness


@pytest.fixture
def scene(
    client: TestClient, make_user: MakeUser, make_case: Callable[..., dict[str, Any]]
) -> Scene:
    lead = make_user("investigator")
    case = make_case(lead)
    witness = register_witness(client, lead, case["id"], WITNESS_NAME)
    return Scene(
        client=client,
        lead=lead,
        case_id=case["id"],
        witness_id=witness["id"],
        pseudonym=witness["pseudonym"],
    )
