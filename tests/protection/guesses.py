"""The guessing scenario: members without the flag write right and wrong guesses of who the
witness is, in a case of their own in the shared database (so it is built once per backend).

- the *author* (an investigator without the flag) writes each kind of text twice, naming
  her (`Gevorgyan`, right) and naming nobody (`Petrosyan`, wrong), and one visit note with both;
- the *own exporter* (a lead without the flag, so may write and export) writes a pair too;
- the *colleague* (a legal member without the flag) and a viewer only read and export;
- the *identifier* (who opened the case, so holds the flag) registered the witness.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from tests.evidence.support import post_file, unique_bytes
from tests.fixtures.api import MARTUNI, Actor
from tests.protection import corpus

RIGHT, WRONG = "Gevorgyan", corpus.WRONG_GUESS
BOTH_NOTE = f"guess {WRONG} / guess {RIGHT}"


@dataclass
class Pair:
    """The same kind of text written twice by one author: naming her, and naming nobody."""

    kind: str
    right: str  # path of the record with the right guess
    wrong: str


@dataclass
class Guesses:
    client: TestClient
    admin: Actor
    case_id: str
    identifier: Actor
    author: Actor
    own_exporter: Actor
    colleague: Actor
    viewer: Actor
    outsider: Actor
    pairs: list[Pair] = field(default_factory=list)
    both_note: str = ""  # path of the visit with both guesses
    exporter_pair: Pair | None = None

    def get(self, actor: Actor, path: str, **params: str) -> Any:
        answer = self.client.get(path, params=params or None, headers=actor.headers)
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
        return answer


def _created(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text[:500]
    body: dict[str, Any] = answer.json()
    return body


def build_guesses(client: TestClient, admin: Actor, make_user: Any) -> Guesses:
    identifier = make_user("investigator")
    case_id = _created(
        client.post("/api/v1/cases", json={**MARTUNI, "tags": []}, headers=identifier.headers)
    )["id"]
    witness = {k: v for k, v in corpus.IDENTITY.items() if k != "other_spellings"}
    witness_id = _created(
        client.post(f"/api/v1/cases/{case_id}/witnesses", json=witness, headers=identifier.headers)
    )["id"]
    people = {
        "author": ("investigator", "investigator"),
        "own_exporter": ("investigator", "lead"),
        "colleague": ("legal", "legal"),
        "viewer": ("viewer", "viewer"),
    }
    actors = {}
    for name, (global_role, case_role) in people.items():
        actors[name] = make_user(global_role)
        answer = client.put(
            f"/api/v1/cases/{case_id}/members/{actors[name].id}",
            json={"role": case_role, "can_identify_witnesses": False},
            headers=admin.headers,
        )
        assert answer.status_code == 200, answer.text
    guesses = Guesses(
        client, admin, case_id, identifier, outsider=make_user("investigator"), **actors
    )
    _write_pairs(guesses, witness_id)
    return guesses


def _visit(g: Guesses, actor: Actor, note: str) -> str:
    body = {"visited_at": "2020-12-03T09:00:00Z", "observations": note, "purpose": note}
    made = _created(
        g.client.post(f"/api/v1/cases/{g.case_id}/site-visits", json=body, headers=actor.headers)
    )
    return f"/api/v1/site-visits/{made['id']}"


def _testimony(g: Guesses, witness_id: str, guess: str) -> str:
    body = {
        "witness_id": witness_id,
        "recorded_at": "2020-12-02T10:00:00Z",
        "statement": f"The neighbour said the woman at the window was {guess}.",
        "place": f"Outside the {guess} house",
    }
    made = _created(
        g.client.post(f"/api/v1/cases/{g.case_id}/testimonies", json=body, headers=g.author.headers)
    )
    return f"/api/v1/testimonies/{made['id']}"


def _evidence(g: Guesses, guess: str) -> str:
    answer = post_file(
        g.client,
        g.author,
        g.case_id,
        unique_bytes(f"guess {uuid.uuid4()}", 96).hex().encode(),
        filename=f"guess {guess}.txt",
        content_type="text/plain",
        fields={"kind": "document", "title": f"Is it {guess}?", "source": f"Asked about {guess}"},
    )
    item = _created(answer)
    withdrawn = g.client.post(
        f"/api/v1/evidence/{item['id']}/withdraw",
        json={"reason": f"Wrong house: not {guess}'s"},
        headers=g.author.headers,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    return f"/api/v1/evidence/{item['id']}"


def _write_pairs(g: Guesses, witness_id: str) -> None:
    g.pairs.append(
        Pair(
            "site_visit",
            _visit(g, g.author, f"guess {RIGHT}"),
            _visit(g, g.author, f"guess {WRONG}"),
        )
    )
    g.pairs.append(
        Pair("testimony", _testimony(g, witness_id, RIGHT), _testimony(g, witness_id, WRONG))
    )
    g.pairs.append(Pair("evidence", _evidence(g, RIGHT), _evidence(g, WRONG)))
    g.both_note = _visit(g, g.author, BOTH_NOTE)
    g.exporter_pair = Pair(
        "site_visit",
        _visit(g, g.own_exporter, f"my guess {RIGHT}"),
        _visit(g, g.own_exporter, f"my guess {WRONG}"),
    )


# -- comparing what an author reads of a right and a wrong guess --------------------------------
_VOLATILE = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,}|"
    r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?|[A-Z]{2,4}-\d{4})$"
)
_REF = re.compile(r"^[0-9a-f]{32,}$")  # keys of `texts`
_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,}")
_VOLATILE_NUMBERS = frozenset({"crc32", "seq", "size", "length"})


def shape(value: Any, key: str = "") -> Any:
    """`value` with its ids, times, digests, salts and exhibit numbers masked and the right
    guess spelled as the wrong one: equal shapes mean the reader saw no difference."""
    if isinstance(value, dict):
        if any(_REF.match(k) for k in value):  # keyed by refs: the entries, in an order
            return sorted((shape(v) for v in value.values()), key=repr)
        return {k: shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, str):
        if key == "salt" or _VOLATILE.match(value):
            return "<volatile>"
        return _IDS.sub("<id>", value).replace(RIGHT, WRONG)
    if isinstance(value, int) and not isinstance(value, bool) and key in _VOLATILE_NUMBERS:
        return "<number>"
    return value
