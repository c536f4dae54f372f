"""Hostile path parameters on every route that has one: traversal, NUL, SQL, oversize.

Routes come from the app's route table, so a new one is swept too. Ids are UUIDs: anything
else is a 4xx problem (404 or 422), never a lookup by a string, a file path or a 5xx, and
nothing changes, whatever the method.
"""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.kit.routing import iter_api_routes
from tests.hostile.routes import World
from tests.hostile.support import Probes, assert_refused

HOSTILE_IDS = {
    "traversal": "..%2F..%2F..%2Fetc%2Fpasswd",
    "encoded backslashes": "..%5C..%5Cboot.ini",
    "double-encoded": "%252e%252e%252f",
    "NUL": "3c1f7a52-6d0e-4c1b-9b7e-2a4d5e6f7a8b%00",
    "CR LF": "x%0d%0aSet-Cookie:%20a=b",
    "SQL": "1'%20OR%20'1'='1",
    "10 KB": "a" * 10_000,
    "nil UUID": "00000000-0000-0000-0000-000000000000",
    "braced UUID": "%7B3c1f7a52-6d0e-4c1b-9b7e-2a4d5e6f7a8b%7D",
}
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for route in iter_api_routes(app)
        if PARAM.search(route.path)
        for method in route.methods
        if method not in ("HEAD", "OPTIONS")
    )


def test_hostile_ids_in_every_path_are_refused(
    app: FastAPI, client: TestClient, world: World, probes: Probes, subtests: pytest.Subtests
) -> None:
    routes = _routes(app)
    assert len(routes) >= 20, routes
    before = probes.state()
    for method, template in routes:
        for label, hostile in HOSTILE_IDS.items():
            # Only the last parameter is hostile: the ones before it name things that exist.
            names = PARAM.findall(template)
            path = template
            for name in names[:-1]:
                path = PARAM.sub(getattr(world, name, world.case_id), path, count=1)
            path = PARAM.sub(hostile, path, count=1)
            with subtests.test(f"{method} {template}: {label}"):
                headers = {**world.admin.headers, "Tus-Resumable": "1.0.0", "If-Match": '"1"'}
                answer = client.request(method, path, headers=headers, json={})
                problem = assert_refused(answer)
                # 415: a tus PATCH checks its Content-Type before the id (nothing is read).
                assert problem["status"] in (404, 405, 415, 422), problem
                assert "set-cookie" not in answer.headers
                assert "passwd" not in answer.text
    assert probes.state() == before
