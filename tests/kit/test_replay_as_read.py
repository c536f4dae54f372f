"""An idempotent replay answers as the caller is allowed now, not as they were allowed then.

A registration retried after the caller's `can_identify_witnesses` was revoked must not hand
back the identity the first answer held; and an identity a replay does show is an audited
view, like any read of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import MARTUNI, Actor, MakeUser

ANAHIT = {"full_name": "Anahit Gevorgyan", "contact": "+374 77 123456"}


@dataclass(frozen=True)
class Setting:
    client: TestClient
    admin: Actor
    lead: Actor
    identifier: Actor  # an investigator member of the case, with the flag (at first)
    case_id: str

    def set_flag(self, flag: bool) -> None:
        answer = self.client.put(
            f"/api/v1/cases/{self.case_id}/members/{self.identifier.id}",
            json={"role": "investigator", "can_identify_witnesses": flag},
            headers=self.lead.headers,
        )
        assert answer.status_code == 200, answer.text

    def post(self, path: str, body: dict[str, Any], key: str) -> Any:
        return self.client.post(
            f"/api/v1/cases/{self.case_id}/{path}",
            json=body,
            headers={**self.identifier.headers, "Idempotency-Key": key},
        )

    def identity_views(self) -> list[dict[str, Any]]:
        events = self.client.get(
            f"/api/v1/cases/{self.case_id}/audit", headers=self.admin.headers
        ).json()["items"]
        return [e for e in events if e["action"] == "witness.identity_viewed"]


@pytest.fixture
def setting(
    client: TestClient, admin: Actor, make_user: MakeUser, add_member: Callable[..., None]
) -> Setting:
    lead = make_user("investigator")
    case_id = client.post("/api/v1/cases", json=MARTUNI, headers=lead.headers).json()["id"]
    identifier = make_user("investigator")
    add_member(case_id, identifier, "investigator", can_identify_witnesses=True)
    return Setting(client, admin, lead, identifier, case_id)


def test_a_replay_after_the_flag_was_revoked_shows_no_identity(setting: Setting) -> None:
    first = setting.post("witnesses", ANAHIT, "register-anahit")
    assert first.status_code == 201, first.text
    assert first.json()["identity"]["full_name"] == "Anahit Gevorgyan"
    setting.set_flag(False)
    again = setting.post("witnesses", ANAHIT, "register-anahit")
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["pseudonym"] == first.json()["pseudonym"]
    assert "identity" not in again.json()
    assert "Gevorgyan" not in again.text
    assert "123456" not in again.text
    assert setting.identity_views() == []  # nothing was shown, nothing is recorded


def test_an_identity_shown_by_a_replay_is_audited(setting: Setting) -> None:
    first = setting.post("witnesses", ANAHIT, "register-anahit")
    assert setting.identity_views() == []  # the registration's own event covers its answer
    again = setting.post("witnesses", ANAHIT, "register-anahit")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    views = setting.identity_views()
    assert [(e["actor_id"], e["payload"]) for e in views] == [
        (setting.identifier.id, {"witness_ids": [first.json()["id"]]})
    ]


def test_a_replay_shows_the_witness_as_it_is_now(setting: Setting) -> None:
    """A re-read, not the stored bytes: a later change shows, with its ETag."""
    first = setting.post("witnesses", ANAHIT, "register-anahit")
    changed = setting.client.patch(
        first.headers["location"],
        json={"risk_level": "high"},
        headers={**setting.lead.headers, "If-Match": first.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    again = setting.post("witnesses", ANAHIT, "register-anahit")
    assert again.json()["risk_level"] == "high"
    assert again.headers["etag"] == changed.headers["etag"]


@pytest.mark.parametrize(
    ("path", "body", "change"),
    [
        (
            "testimonies",
            {"recorded_at": "2020-12-02T10:00:00Z", "statement": "The rockets fell at dawn."},
            {"language": "hy"},
        ),
        (
            "site-visits",
            {"visited_at": "2020-12-03T09:00:00Z", "observations": "A crater by the market."},
            {"observations": "A crater by the market, filled with rain."},
        ),
    ],
)
def test_replays_of_texts_are_read_again_through_the_policy(
    setting: Setting, path: str, body: dict[str, Any], change: dict[str, Any]
) -> None:
    """Testimonies and site visits hold protected texts: their replays are reads too."""
    if path == "testimonies":
        body = {**body, "witness_id": setting.post("witnesses", ANAHIT, "w").json()["id"]}
    first = setting.post(path, body, f"{path}-1")
    assert first.status_code == 201, first.text
    changed = setting.client.patch(
        first.headers["location"],
        json=change,
        headers={**setting.lead.headers, "If-Match": first.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    again = setting.post(path, body, f"{path}-1")
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == changed.json()
    assert again.headers["etag"] == changed.headers["etag"]
