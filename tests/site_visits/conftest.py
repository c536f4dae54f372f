"""The `linked` scene: one site visit covering two cases with different leads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import GANJA, MakeUser
from tests.site_visits.support import Linked, body, log_visit


@pytest.fixture
def linked(
    client: TestClient,
    make_user: MakeUser,
    make_case: Callable[..., dict[str, Any]],
    add_member: Callable[..., None],
) -> Linked:
    lead_a = make_user("investigator")
    lead_b = make_user("investigator")
    case_a = make_case(lead_a)["id"]
    case_b = make_case(lead_b, GANJA)["id"]
    add_member(case_b, lead_a, "investigator")
    visit = log_visit(client, lead_a, case_a, body(also_case_ids=[case_b]))
    return Linked(
        client=client, lead_a=lead_a, lead_b=lead_b, case_a=case_a, case_b=case_b, visit=visit
    )
