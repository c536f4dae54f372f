"""Helpers shared by the testimony tests: a case with a witness, and terse HTTP calls."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from tests.fixtures.api import Actor

WITNESS_NAME = "Anahit Gevorgyan"

# What a mother in Martuni told an interviewer (after HRW, "Azerbaijan: Unlawful Strikes in
# Nagorno-Karabakh", 2020), in Armenian, with its English translation.
ARMENIAN = (
    "Իմ փոքրիկ տղան մինչև հիմա արթնանում է ու ասում, որ երկնքում ինքնաթիռներ կան, "
    "որոնք ռմբակոծում են։\nՍեպտեմբերի 27-ին, առավոտյան ժամը 6-ին, առաջին հարվածը եղավ։"
)
ENGLISH = (
    "My little boy now still wakes up saying that there are planes in the sky bombing.\n"
    "The first strike came on 27 September, at 6 in the morning."
)
AZERBAIJANI = (
    "Gecə saat birdə evimizə raket düşdü.\r\n\tQonşularımızın evi tamamilə dağıldı; "
    "uşaqlar da orada idi. Əmim oğlu Şəmsəddin yaralandı."
)
RUSSIAN = (
    "Ночью в час ракета попала в наш дом.\nДом соседей был полностью разрушен — "
    "там были и дети. Ёлка во дворе сгорела."
)


@dataclass(frozen=True)
class Scene:
    """A case led by an investigator, with one registered witness."""

    client: TestClient
    lead: Actor
    case_id: str
    witness_id: str
    pseudonym: str

    def body(self, **changes: Any) -> dict[str, Any]:
        """The smallest valid testimony of this case's witness, with `changes` applied
        (a value of DROP removes the field)."""
        body: dict[str, Any] = {
            "witness_id": self.witness_id,
            "recorded_at": "2020-12-02T10:00:00Z",
            "statement": ARMENIAN,
        }
        for name, value in changes.items():
            if value is DROP:
                body.pop(name, None)
            else:
                body[name] = value
        return body

    def record(self, actor: Actor | None = None, **changes: Any) -> dict[str, Any]:
        answer = post_testimony(self.client, actor or self.lead, self.case_id, self.body(**changes))
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


DROP: Any = object()


def register_witness(client: TestClient, actor: Actor, case_id: str, name: str) -> dict[str, Any]:
    answer = client.post(
        f"/api/v1/cases/{case_id}/witnesses", json={"full_name": name}, headers=actor.headers
    )
    assert answer.status_code == 201, answer.text
    witness: dict[str, Any] = answer.json()
    return witness


def post_testimony(
    client: TestClient,
    actor: Actor,
    case_id: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        f"/api/v1/cases/{case_id}/testimonies",
        json=body,
        headers={**actor.headers, **(headers or {})},
    )


def patch_testimony(
    client: TestClient, actor: Actor, testimony_id: str, body: Any, etag: str | None
) -> httpx.Response:
    headers = dict(actor.headers)
    if etag is not None:
        headers["If-Match"] = etag
    return client.patch(f"/api/v1/testimonies/{testimony_id}", json=body, headers=headers)


def audit_events(client: TestClient, actor: Actor, case_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/cases/{case_id}/audit?limit=200", headers=actor.headers)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["next_cursor"] is None, "more audit events than one page: raise the limit"
    items: list[dict[str, Any]] = page["items"]
    return items


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def as_text(value: Any) -> str:
    """JSON with non-ASCII kept as is, so that a search for a phrase finds it in any script."""
    return json.dumps(value, ensure_ascii=False)


def without_request_id(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem body minus the per-request id, for "the two answers are the same" checks."""
    return {k: v for k, v in problem.items() if k != "request_id"}
