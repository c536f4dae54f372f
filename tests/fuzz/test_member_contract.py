"""Contract fuzzing as a low-privilege member: a global `viewer` who is a `viewer` member of
one seeded case and not of the other, on a seeded app of its own.

Most of what they try is refused; every refusal must still be a documented 4xx problem (403
for what their role forbids, 404 for the case they are not on), never a 5xx.
"""

from __future__ import annotations

import requests
import schemathesis
from sqlalchemy import Engine

from tests.fuzz.harness import load_schema, send
from tests.fuzz.world import World

schema = load_schema()


@schema.parametrize()
def test_member(
    case: schemathesis.Case, world: World, http_session: requests.Session, fuzz_db: Engine
) -> None:
    send(case, world, world.member, http_session, fuzz_db)
