"""No guessing oracle: writing a guess of who the witness is and reading it back tells a member
without the flag nothing, in anything they can read; a colleague's export withholds a right
guess with the generic marker (never the pseudonym), and that is recorded where the case's
identifiers — and only they — see it (docs/witness-protection.md, "What remains")."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tests.protection.corpus import MARKER
from tests.protection.guesses import BOTH_NOTE, RIGHT, WRONG, Guesses, Pair, shape
from tests.protection.leaks import in_bundle, report


def _item(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def test_authors_read_their_right_and_wrong_guesses_alike(guesses: Guesses) -> None:
    """Single reads and lists: the right guess comes back as written, like the wrong one."""
    g, problems = guesses, []
    lists = {"site_visit": "site-visits", "testimony": "testimonies", "evidence": "evidence"}
    for pair in g.pairs:
        right, wrong = g.get(g.author, pair.right), g.get(g.author, pair.wrong)
        if RIGHT not in right.text:
            problems.append(
                f"{pair.kind}: the author's right guess is not as written: {right.text[:300]}"
            )
        if shape(right.json()) != shape(wrong.json()):
            problems.append(f"{pair.kind}: {shape(right.json())} != {shape(wrong.json())}")
        listed = g.get(g.author, f"/api/v1/cases/{g.case_id}/{lists[pair.kind]}", limit="200")
        items = {i["id"]: i for i in listed.json()["items"]}
        if shape(items[_item(pair.right)]) != shape(items[_item(pair.wrong)]):
            problems.append(f"{pair.kind} in its list: the two guesses differ")
    note = g.get(g.author, g.both_note).json()
    if note["observations"] != BOTH_NOTE:
        problems.append(f"the author's note with both guesses reads {note['observations']!r}")
    assert not problems, "\n".join(problems)


def test_authors_download_their_right_and_wrong_guesses_alike(guesses: Guesses) -> None:
    g = guesses
    pair = next(p for p in g.pairs if p.kind == "evidence")
    right = g.client.get(f"{pair.right}/content", headers=g.author.headers)
    wrong = g.client.get(f"{pair.wrong}/content", headers=g.author.headers)
    assert (
        right.headers["content-disposition"].replace(RIGHT, WRONG)
        == wrong.headers["content-disposition"]
    )
    assert RIGHT in right.headers["content-disposition"]


def _events(g: Guesses, path: str, actor: Any, resource_id: str) -> list[dict[str, Any]]:
    page = g.get(actor, path, limit="200").json()
    assert page["next_cursor"] is None
    return [e for e in page["items"] if e["resource_id"] == resource_id]


def test_authors_audit_and_custody_show_no_difference(guesses: Guesses) -> None:
    """The events of a right guess are those of a wrong one: as many, of the same actions,
    with texts shown to their author as written (with salts) and no extra event."""
    g, problems = guesses, []
    audit = f"/api/v1/cases/{g.case_id}/audit"
    for pair in g.pairs:
        right = _events(g, audit, g.author, _item(pair.right))
        wrong = _events(g, audit, g.author, _item(pair.wrong))
        if not right or shape(right) != shape(wrong):
            problems.append(f"{pair.kind} audit: {shape(right)}\n  !=\n{shape(wrong)}")
        if pair.kind == "evidence":
            mine = [
                g.get(g.author, f"{p}/custody", limit="200").json()["items"]
                for p in (pair.right, pair.wrong)
            ]
            if shape(mine[0]) != shape(mine[1]):
                problems.append(f"custody: {shape(mine[0])}\n  !=\n{shape(mine[1])}")
    assert not problems, "\n".join(problems)


def test_authors_search_finds_the_same_for_either_guess(guesses: Guesses) -> None:
    g = guesses
    found = {
        guess: {c["id"] for c in g.get(g.author, "/api/v1/cases", q=guess).json()["items"]}
        for guess in (RIGHT, WRONG)
    }
    assert found[RIGHT] == found[WRONG] == {g.case_id}, found


def _export(g: Guesses, actor: Any) -> dict[str, Any]:
    answer = g.client.get(f"/api/v1/cases/{g.case_id}/bundle", headers=actor.headers)
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        visits = {
            json.loads(archive.read(n))["id"]: json.loads(archive.read(n))
            for n in archive.namelist()
            if n.startswith("site-visits/") and n.endswith(".json")
        }
    return {"data": answer.content, "visits": visits}


def test_an_authors_own_export_carries_both_guesses_as_written(guesses: Guesses) -> None:
    """A lead without the flag exports their own notes: the right guess as written, like the
    wrong one — not replaced by the witness's pseudonym, which would confirm it."""
    g = guesses
    pair = g.exporter_pair
    assert isinstance(pair, Pair)
    visits = _export(g, g.own_exporter)["visits"]
    right, wrong = visits[_item(pair.right)], visits[_item(pair.wrong)]
    assert right["observations"] == f"my guess {RIGHT}", right["observations"]
    assert shape(right) == shape(wrong)


def test_a_colleagues_export_withholds_a_right_guess_with_the_generic_marker(
    guesses: Guesses,
) -> None:
    """The colleague must not see the name: the right guess is `[withheld]`, the wrong one
    stays; nothing in the bundle names her or uses her pseudonym as the marker."""
    g = guesses
    bundle = _export(g, g.colleague)
    visit = next(p for p in g.pairs if p.kind == "site_visit")
    right = bundle["visits"][_item(visit.right)]["observations"]
    wrong = bundle["visits"][_item(visit.wrong)]["observations"]
    both = bundle["visits"][_item(g.both_note)]["observations"]
    assert (right, wrong, both) == (
        f"guess {MARKER}",
        f"guess {WRONG}",
        f"guess {WRONG} / guess {MARKER}",
    )
    leaks = in_bundle(bundle["data"], "colleague's bundle")
    assert not leaks, report(leaks)


def _protected_matches(g: Guesses, actor: Any) -> Any:
    return g.client.get(
        f"/api/v1/cases/{g.case_id}/protected-matches",
        params={"limit": "200"},
        headers=actor.headers,
    )


def test_protected_matches_are_recorded_for_the_cases_identifiers(guesses: Guesses) -> None:
    """The right guess's write is a `text.protected_match` by its author; the colleague's
    export that withheld it is a `bundle.protected_text` by the colleague; the wrong guess is
    in no such event; and the events name ids and fields, never the matched strings."""
    g = guesses
    _export(g, g.colleague)
    answer = _protected_matches(g, g.identifier)
    assert answer.status_code == 200, answer.text
    events = answer.json()["items"]
    assert {e["chain"] for e in events} == {f"protection:{g.case_id}"}
    visit = next(p for p in g.pairs if p.kind == "site_visit")
    matches = [e for e in events if e["action"] == "text.protected_match"]
    assert any(
        e["resource_id"] == _item(visit.right) and e["actor_id"] == g.author.id for e in matches
    ), matches
    assert not any(e["resource_id"] == _item(visit.wrong) for e in events)
    exports = [e for e in events if e["action"] == "bundle.protected_text"]
    assert any(e["actor_id"] == g.colleague.id for e in exports), exports
    assert RIGHT not in answer.text
    assert "Anahit" not in answer.text
    admin = _protected_matches(g, g.admin)
    assert admin.status_code == 200, admin.text
    assert admin.json()["items"]


def test_protected_matches_are_refused_to_everyone_else(guesses: Guesses) -> None:
    """Not to the author whose guess it records (403), nor to any member without the flag;
    a non-member is told the case does not exist (404)."""
    g = guesses
    got = {
        name: _protected_matches(g, actor).status_code
        for name, actor in {
            "author": g.author,
            "own exporter": g.own_exporter,
            "colleague": g.colleague,
            "viewer": g.viewer,
            "outsider": g.outsider,
        }.items()
    }
    assert got == {
        "author": 403,
        "own exporter": 403,
        "colleague": 403,
        "viewer": 403,
        "outsider": 404,
    }


def test_the_identifier_reads_the_guess_as_written(guesses: Guesses) -> None:
    g = guesses
    visit = next(p for p in g.pairs if p.kind == "site_visit")
    assert g.get(g.identifier, visit.right).json()["observations"] == f"guess {RIGHT}"
    assert g.get(g.identifier, g.both_note).json()["observations"] == BOTH_NOTE


def test_authorship_is_per_field(guesses: Guesses) -> None:
    """Changing one field of a colleague's note makes the author of that field only: their
    guess in it comes back as written, the identifier's text beside it stays withheld."""
    g = guesses
    body = {"visited_at": "2020-12-04T09:00:00Z", "observations": f"Spoke with Anahit {RIGHT}."}
    made = g.client.post(
        f"/api/v1/cases/{g.case_id}/site-visits", json=body, headers=g.identifier.headers
    )
    assert made.status_code == 201, made.text
    path = f"/api/v1/site-visits/{made.json()['id']}"
    etag = g.get(g.author, path).headers["etag"]
    changed = g.client.patch(
        path, json={"purpose": f"guess {RIGHT}"}, headers={**g.author.headers, "If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    for answer in (changed.json(), g.get(g.author, path).json()):
        assert answer["purpose"] == f"guess {RIGHT}"
        assert MARKER in answer["observations"], answer["observations"]
        assert RIGHT not in answer["observations"]
    seen = g.get(g.viewer, path).json()
    assert MARKER in seen["purpose"], seen["purpose"]
    assert MARKER in seen["observations"], seen["observations"]
