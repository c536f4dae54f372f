"""Contract fuzzing as the admin: every operation, every check, on a seeded app of its own.

The admin may do everything, so this is where fuzzed requests reach the deepest: creating
users, cases and witnesses, patching with the right ETag, uploading evidence, building bundles.
"""

from __future__ import annotations

import httpx2 as httpx
import requests
import schemathesis
from sqlalchemy import Engine

from tests.fuzz.harness import load_schema, openapi_document, send
from tests.fuzz.world import World

schema = load_schema()


@schema.parametrize()
def test_admin(
    case: schemathesis.Case, world: World, http_session: requests.Session, fuzz_db: Engine
) -> None:
    send(case, world, world.admin, http_session, fuzz_db)


def test_served_document_is_the_fuzzed_one(world: World) -> None:
    """The schema above is built from the app without serving it; this is what it serves."""
    served = httpx.get(f"{world.url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == openapi_document()
