"""Logs are read by operators, who may not identify: no request that carries or touches her
name puts it into a line — not the access log, not an error, not uvicorn's own.

Served by uvicorn on a real socket (with `casefile serve`'s HTTP protocol), so that uvicorn's
loggers see the requests too: a search for her name, a malformed id and an unknown path that
spell it, uploads named after her (multipart and tus), a body that is not JSON, and a bundle.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from app.kit.server import uvicorn_options
from app.main import create_app
from tests.evidence.support import Part, multipart
from tests.fixtures.api import LiveServer
from tests.protection.conftest import Shared, capturing_logs
from tests.protection.corpus import VARIANTS
from tests.protection.images import named_photo
from tests.protection.leaks import in_lines, report

NAME = VARIANTS["plain"]


@pytest.fixture
def served(shared: Shared) -> Iterator[LiveServer]:
    server = LiveServer(create_app(shared.settings), **uvicorn_options())
    server.start()
    yield server
    server.stop()


def test_requests_naming_her_log_no_protected_string(shared: Shared, served: LiveServer) -> None:
    world = shared.world
    lead, viewer = world.lead.headers, world.members["viewer"].headers
    boundary = "protection-log-test"
    form = multipart(
        [
            Part("kind", b"photo"),
            Part("title", f"Window of {NAME}".encode()),
            Part(
                "file",
                named_photo(artist=NAME, description=NAME, software=NAME),
                filename=f"{NAME}.jpg",
                content_type="image/jpeg",
            ),
        ],
        boundary,
    )
    metadata = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {"case_id": world.main_case, "filename": f"{NAME}.mp4", "title": NAME}.items()
    )
    with capturing_logs() as logs, served.client() as http:
        answers = [
            http.get("/api/v1/cases", params={"q": NAME}, headers=viewer),
            http.get(f"/api/v1/cases/{NAME.replace(' ', '-')}", headers=viewer),
            http.get(f"/api/v1/witnesses/{NAME}", headers=viewer),
            http.get(f"/api/v1/{NAME.replace(' ', '/')}", headers=viewer),
            http.post(
                f"/api/v1/cases/{world.main_case}/evidence",
                content=form,
                headers={**lead, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            ),
            http.post(
                "/api/v1/uploads",
                headers={
                    **lead,
                    "Tus-Resumable": "1.0.0",
                    "Upload-Length": "0",
                    "Upload-Metadata": metadata,
                },
            ),
            http.post(
                f"/api/v1/cases/{world.main_case}/site-visits",
                content=f"{{'{NAME}'".encode(),
                headers={**lead, "Content-Type": "application/json"},
            ),
            http.get(
                f"/api/v1/cases/{world.main_case}/bundle", headers=world.members["legal"].headers
            ),
        ]
    statuses = [a.status_code for a in answers]
    assert all(status < 500 for status in statuses), statuses
    assert (statuses[0], statuses[4], statuses[5], statuses[7]) == (200, 201, 201, 200), statuses
    assert any('"route"' in line for line in logs.lines), "no access line captured"
    leaks = in_lines(logs.lines, "log")
    assert not leaks, report(leaks)
