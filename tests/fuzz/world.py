"""The data a fuzzing run starts from: a served app with one of everything in it.

Fuzzed requests that only ever name random ids stop at the first 404, so each fuzzing module
gets its own app, seeded through the API with a case the low-privilege member belongs to (and
one they do not), a witness, a testimony, a site visit, an evidence item, an unfinished tus
upload and a spare user with a token. Path parameters are then drawn from these real ids as
well as from random ones (see harness.py).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import httpx2 as httpx

from tests.fixtures.api import GANJA, MARTUNI, Actor

TUS = {"Tus-Resumable": "1.0.0"}
EVIDENCE_BYTES = b"Field notes, Martuni, 2020-12-03.\n" * 8


@dataclass
class World:
    """Who the fuzzer acts as, and the real ids it may name in paths (by parameter name)."""

    url: str
    admin: Actor
    member: Actor
    ids: dict[str, list[str]] = field(default_factory=dict)
    # The fuzzing actors' own token ids: revoking them would end the run's authentication.
    own_tokens: frozenset[str] = frozenset()


def _created(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 201, answer.text
    body: dict[str, str] = answer.json()
    return body


def _user(http: httpx.Client, admin: Actor, role: str, name: str) -> tuple[Actor, str]:
    user = _created(http.post("/api/v1/users", json={"name": name, "role": role}))
    token = _created(http.post(f"/api/v1/users/{user['id']}/tokens", json={}))
    actor = Actor(id=user["id"], name=name, role=role, token=token["token"])
    return actor, token["id"]


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def seed(url: str, admin: Actor, admin_token: str) -> World:
    """Fill a fresh app with one of everything, through its API, as its admin."""
    with httpx.Client(base_url=url, headers=admin.headers, timeout=60) as http:
        member, member_token = _user(http, admin, "viewer", "fuzz-viewer")
        spare, spare_token = _user(http, admin, "investigator", "fuzz-spare")
        case = _created(http.post("/api/v1/cases", json=MARTUNI))["id"]
        other = _created(http.post("/api/v1/cases", json=GANJA))["id"]
        membership = {"role": "viewer", "can_identify_witnesses": False}
        answer = http.put(f"/api/v1/cases/{case}/members/{member.id}", json=membership)
        assert answer.status_code == 200, answer.text
        witness = _created(
            http.post(f"/api/v1/cases/{case}/witnesses", json={"full_name": "Anahit Gevorgyan"})
        )["id"]
        testimony = _created(
            http.post(
                f"/api/v1/cases/{case}/testimonies",
                json={
                    "witness_id": witness,
                    "recorded_at": "2020-12-02T10:00:00Z",
                    "statement": "The first strike hit the school yard at six in the morning.",
                },
            )
        )["id"]
        visit = _created(
            http.post(
                f"/api/v1/cases/{case}/site-visits",
                json={"visited_at": "2020-12-03T09:00:00Z", "observations": "Crater, 2 m."},
            )
        )["id"]
        evidence = _created(
            http.post(
                f"/api/v1/cases/{case}/evidence",
                files={"file": ("notes.txt", EVIDENCE_BYTES, "text/plain")},
                data={"kind": "document", "title": "Field notes"},
            )
        )["id"]
        upload = http.post(
            "/api/v1/uploads",
            headers={
                **TUS,
                "Upload-Length": "64",
                "Upload-Metadata": _metadata(case_id=case, filename="photo.jpg"),
            },
        )
        assert upload.status_code == 201, upload.text
    return World(
        url=url,
        admin=admin,
        member=member,
        ids={
            "case_id": [case, other],
            # Never the admin's own id or token: the fuzzer may deactivate or revoke what it names.
            "user_id": [member.id, spare.id],
            "token_id": [spare_token],
            "witness_id": [witness],
            "testimony_id": [testimony],
            "visit_id": [visit],
            "evidence_id": [evidence],
            "upload_id": [upload.headers["Location"].rsplit("/", 1)[-1]],
        },
        own_tokens=frozenset({admin_token, member_token}),
    )
