"""Regression tests for what contract fuzzing found, one test per finding, as plain requests.

Each of these failed before its fix; the fuzzer might not draw the same input again, so the
finding is pinned here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fixtures.api import MARTUNI, Actor, DatabaseProbe

TUS = {"Tus-Resumable": "1.0.0"}
NO_SUCH_UPLOAD = "/api/v1/uploads/00000000-0000-4000-8000-000000000000"


def _operation(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = app.openapi()["paths"][path][method]
    return operation


def test_malformed_idempotency_key_is_a_documented_400(
    app: FastAPI, client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    """Finding: POST /users and POST /users/{id}/tokens answered 400 to a malformed
    Idempotency-Key without documenting 400, and the key's schema allowed any string."""
    before = db.fingerprint()
    answer = client.post(
        "/api/v1/users",
        json={"name": "amira", "role": "viewer"},
        headers={**admin.headers, "Idempotency-Key": ""},
    )
    assert answer.status_code == 400, answer.text
    assert db.fingerprint() == before
    for method, path in (
        ("post", "/api/v1/users"),
        ("post", "/api/v1/users/{user_id}/tokens"),
        ("post", "/api/v1/cases/{case_id}/testimonies"),
    ):
        operation = _operation(app, method, path)
        assert "400" in operation["responses"], path
        (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        pattern = re.compile(key["schema"]["pattern"])
        assert pattern.fullmatch("retry-2020-12-03")
        assert not pattern.fullmatch("two words")
        assert key["schema"]["maxLength"] == 255


def test_malformed_json_is_a_documented_400(
    app: FastAPI, client: TestClient, admin: Actor, make_case: Callable[..., dict[str, Any]]
) -> None:
    """Finding: PUT /cases/{id}/members/{user_id} (and other JSON routes) answered 400 to a
    body that is not JSON without documenting 400."""
    case = make_case(admin)
    answer = client.put(
        f"/api/v1/cases/{case['id']}/members/{admin.id}",
        content=b"\x00",
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                assert "400" in operation["responses"], f"{method} {path}"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/uploads"),
        ("head", NO_SUCH_UPLOAD),
        ("patch", NO_SUCH_UPLOAD),
        ("delete", NO_SUCH_UPLOAD),
    ],
)
def test_tus_resumable_is_a_documented_required_header(
    app: FastAPI, client: TestClient, admin: Actor, method: str, path: str
) -> None:
    """Finding: HEAD, PATCH and DELETE on an upload answer 412 without Tus-Resumable but did
    not declare the header, so a client following the document could never use them."""
    answer = client.request(method.upper(), path, headers=admin.headers)
    assert answer.status_code == 412
    template = path if path == "/api/v1/uploads" else "/api/v1/uploads/{upload_id}"
    parameters = _operation(app, method, template)["parameters"]
    (version,) = [p for p in parameters if p["name"] == "Tus-Resumable"]
    assert version["required"] is True
    assert version["schema"]["enum"] == ["1.0.0"]
    if method == "patch":
        (offset,) = [p for p in parameters if p["name"] == "Upload-Offset"]
        assert offset["required"] is True


@pytest.mark.parametrize("occurred_at", [1601186400, 1601186400.5, "1601186400", "0.5"])
def test_numbers_are_not_timestamps(
    client: TestClient, admin: Actor, db: DatabaseProbe, occurred_at: object
) -> None:
    """Finding: `occurred_at: 0.5` (or `occurred_to=0.5` in a query) was read as seconds since
    1970 and accepted; timestamps are ISO 8601."""
    before = db.fingerprint()
    answer = client.post(
        "/api/v1/cases", json={**MARTUNI, "occurred_at": occurred_at}, headers=admin.headers
    )
    assert answer.status_code == 422, answer.text
    assert db.fingerprint() == before
    listed = client.get("/api/v1/cases", params={"occurred_to": "0.5"}, headers=admin.headers)
    assert listed.status_code == 422, listed.text
    iso = client.get(
        "/api/v1/cases", params={"occurred_to": "2020-10-01T00:00:00Z"}, headers=admin.headers
    )
    assert iso.status_code == 200, iso.text


@pytest.mark.parametrize(
    "changes",
    [
        {"casualties": {"killed": 1, "injured": 1, "children_injured": False}},
        {"casualties": {"killed": True}},
        {"casualties": {"killed": "3"}},
        {"location": {"name": "Martuni", "lat": True, "lon": 47.1}},
    ],
)
def test_booleans_and_strings_are_not_numbers_in_cases(
    client: TestClient, admin: Actor, db: DatabaseProbe, changes: dict[str, Any]
) -> None:
    """Finding: `children_injured: false` was stored as 0 (lax JSON reads booleans as numbers)."""
    before = db.fingerprint()
    answer = client.post("/api/v1/cases", json={**MARTUNI, **changes}, headers=admin.headers)
    assert answer.status_code == 422, answer.text
    assert db.fingerprint() == before


def test_booleans_are_not_coordinates_of_site_visits(
    client: TestClient, admin: Actor, db: DatabaseProbe, make_case: Callable[..., dict[str, Any]]
) -> None:
    case = make_case(admin)
    before = db.fingerprint()
    answer = client.post(
        f"/api/v1/cases/{case['id']}/site-visits",
        json={"visited_at": "2020-12-03T09:00:00Z", "location": {"lat": False, "lon": 47.1}},
        headers=admin.headers,
    )
    assert answer.status_code == 422, answer.text
    assert db.fingerprint() == before


def test_users_me_allows_get_only(client: TestClient, admin: Actor) -> None:
    """Finding: PATCH /users/me was routed to PATCH /users/{user_id} (422 about the id "me")
    instead of 405, and Allow on /users/me offered PATCH."""
    for method in ("PATCH", "DELETE", "OPTIONS"):
        answer = client.request(method, "/api/v1/users/me", headers=admin.headers)
        assert answer.status_code == 405, (method, answer.text)
        assert answer.headers["Allow"] == "GET"
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert client.get(f"/api/v1/users/{admin.id}", headers=admin.headers).status_code == 200


def test_evidence_content_documents_the_originals_media_type(
    app: FastAPI, client: TestClient, admin: Actor, make_case: Callable[..., dict[str, Any]]
) -> None:
    """Finding: the original is served with its own (sniffed) media type, text/plain here,
    but the document promised application/octet-stream only."""
    case = make_case(admin)
    item = client.post(
        f"/api/v1/cases/{case['id']}/evidence",
        files={"file": ("notes.txt", b"Field notes, Martuni.\n" * 4, "text/plain")},
        data={"kind": "document"},
        headers=admin.headers,
    )
    assert item.status_code == 201, item.text
    whole = client.get(f"/api/v1/evidence/{item.json()['id']}/content", headers=admin.headers)
    part = client.get(
        f"/api/v1/evidence/{item.json()['id']}/content",
        headers={**admin.headers, "Range": "bytes=0-4"},
    )
    responses = _operation(app, "get", "/api/v1/evidence/{evidence_id}/content")["responses"]
    for answer, status in ((whole, "200"), (part, "206")):
        assert answer.status_code == int(status)
        media_type = answer.headers["Content-Type"].split(";")[0]
        assert media_type == "text/plain"
        documented = responses[status]["content"]
        assert media_type in documented or "*/*" in documented


def test_flags_are_json_booleans(
    client: TestClient,
    admin: Actor,
    db: DatabaseProbe,
    make_case: Callable[..., dict[str, Any]],
    make_user: Callable[..., Actor],
) -> None:
    """Finding: `can_identify_witnesses: 0` was accepted (lax JSON reads 0, 1, "yes", "off"
    as booleans); permission and consent flags, and a user's `active`, are true or false."""
    case = make_case(admin)
    viewer = make_user("viewer")
    before = db.fingerprint()
    refused = [
        client.put(
            f"/api/v1/cases/{case['id']}/members/{viewer.id}",
            json={"role": "viewer", "can_identify_witnesses": flag},
            headers=admin.headers,
        )
        for flag in (0, 1, "true", "yes")
    ]
    refused.append(
        client.post(
            f"/api/v1/cases/{case['id']}/witnesses",
            json={"full_name": "Anahit Gevorgyan", "consent": {"share_identity_with_courts": 1}},
            headers=admin.headers,
        )
    )
    refused.append(
        client.post(
            f"/api/v1/cases/{case['id']}/witnesses",
            json={"full_name": "Anahit Gevorgyan", "home_location": {"lat": True, "lon": 47.1}},
            headers=admin.headers,
        )
    )
    refused.append(
        client.patch(
            f"/api/v1/users/{viewer.id}",
            json={"active": 0},
            headers={**admin.headers, "If-Match": "*"},
        )
    )
    assert [a.status_code for a in refused] == [422] * len(refused), [a.text for a in refused]
    assert db.fingerprint() == before


def test_witness_consent_null_is_withdrawn_consent(
    client: TestClient, admin: Actor, make_case: Callable[..., dict[str, Any]]
) -> None:
    """Finding: PATCH /witnesses/{id} with `"consent": null` was a 500 (the merge read null
    as a mapping). Null removes the record (RFC 7396): consent to nothing, as at registration."""
    case = make_case(admin)
    consent = {"named_publicly": True, "share_identity_with_courts": True}
    witness = client.post(
        f"/api/v1/cases/{case['id']}/witnesses",
        json={"full_name": "Anahit Gevorgyan", "consent": consent},
        headers=admin.headers,
    )
    assert witness.status_code == 201, witness.text
    answer = client.patch(
        f"/api/v1/witnesses/{witness.json()['id']}",
        json={"consent": None, "home_location": None},
        headers={**admin.headers, "If-Match": witness.headers["ETag"]},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["consent"]["named_publicly"] is False
    assert answer.json()["consent"]["share_identity_with_courts"] is False
    audit = client.get(f"/api/v1/cases/{case['id']}/audit", headers=admin.headers)
    assert audit.json()["items"][-1]["action"] == "witness.updated"


def test_an_empty_if_match_on_withdraw_is_no_condition(
    client: TestClient, admin: Actor, make_case: Callable[..., dict[str, Any]]
) -> None:
    """Finding: withdrawing evidence with an empty If-Match was a 428, a status its route did
    not list (If-Match is optional there); an empty header lists no tags, so no condition."""
    case = make_case(admin)
    item = client.post(
        f"/api/v1/cases/{case['id']}/evidence",
        files={"file": ("notes.txt", b"Field notes.\n", "text/plain")},
        headers=admin.headers,
    )
    assert item.status_code == 201, item.text
    url = f"/api/v1/evidence/{item.json()['id']}/withdraw"
    reason = {"reason": "Uploaded to the wrong case."}
    stale = client.post(url, json=reason, headers={**admin.headers, "If-Match": '"0"'})
    assert stale.status_code == 412, stale.text
    answer = client.post(url, json=reason, headers={**admin.headers, "If-Match": ""})
    assert answer.status_code == 200, answer.text
    assert answer.json()["withdrawn"]["reason"] == reason["reason"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"])
def test_timestamps_beyond_utc_years_are_refused(
    client: TestClient, admin: Actor, db: DatabaseProbe, moment: str
) -> None:
    """Finding: GET /cases?occurred_from=9999-12-31T23:00:00-05:00 was a 500 (converting it to
    UTC overflows the year 9999); so was such a timestamp in any body."""
    listed = client.get("/api/v1/cases", params={"occurred_from": moment}, headers=admin.headers)
    assert listed.status_code == 422, listed.text
    before = db.fingerprint()
    created = client.post(
        "/api/v1/cases", json={**MARTUNI, "occurred_at": moment}, headers=admin.headers
    )
    assert created.status_code == 422, created.text
    assert db.fingerprint() == before
