"""`casefile demo`: the demonstration data set, loaded by the real command as an operator would.

It is shown to people deciding whether to trust Casefile with real witnesses, so it must hold
the seed document's facts exactly, say plainly that it is demonstration data, protect the two
named witnesses like any other (encrypted at rest, readable by the admin through the API), keep
the audit trail intact, and be safe to run twice.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.testclient import TestClient

from app.config import Settings
from tests.fixtures.api import Actor, DatabaseProbe
from tests.fixtures.cli import casefile, environment

COUNTED: tuple[str, ...] = ("users", "cases", "case_members", "case_tags", "witnesses")
COUNTED += ("witness_cases", "testimonies", "site_visits", "site_visit_cases", "site_visit_team")
COUNTED += ("evidence_items",)
NAMES = ("Anahit Gevorgyan", "Ramiz Gahramanov")


def run_demo(settings: Settings) -> str:
    """Run `casefile demo`; return its stderr (the command reports there)."""
    result = casefile("demo", env=environment(settings))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def counts(db: DatabaseProbe) -> dict[str, int]:
    return {table: db.scalar(f"SELECT count(*) FROM {table}") for table in COUNTED}  # noqa: S608


def demo_cases(client: TestClient, admin: Actor) -> dict[str, dict[str, Any]]:
    answer = client.get("/api/v1/cases", params={"tag": "demo-data"}, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    return {case["location"]["name"]: case for case in answer.json()["items"]}


def test_demo_loads_the_seed_once_and_protects_the_witnesses(
    settings: Settings, client: TestClient, admin: Actor, db: DatabaseProbe
) -> None:
    """The facts are those of the seed (AFP, 14 January 2021), marked as demonstration data;
    the two witnesses named in it get pseudonyms, and their names exist only encrypted:
    readable by the admin through the API, absent from every table in clear. Operators rerun
    setup scripts, so a second run must create nothing (duplicate witnesses would no longer
    match the documented pseudonyms), and the audit trail the loader appends to must verify.
    (One test, not several: each run of the command costs a process start.)"""
    run_demo(settings)
    first = counts(db)
    assert first["cases"] == 2
    assert first["witnesses"] == 2
    assert first["testimonies"] == 2
    assert first["site_visits"] == 2
    assert first["evidence_items"] == 2
    before = db.snapshot()
    second = run_demo(settings)
    assert "(0 new item(s))" in second, second
    assert counts(db) == first
    after = db.snapshot()
    for table in COUNTED:
        assert after[table] == before[table], table

    cases = demo_cases(client, admin)
    assert set(cases) == {"Martuni", "Ganja"}
    martuni, ganja = cases["Martuni"], cases["Ganja"]
    assert martuni["occurred_at"].startswith("2020-09-27")
    assert martuni["casualties"] == {
        "killed": 1,
        "injured": 1,
        "children_killed": 1,
        "children_injured": 1,
    }
    assert ganja["occurred_at"].startswith("2020-10-17")
    assert ganja["casualties"]["killed"] == 21
    assert ganja["location"]["country"] == "Azerbaijan"
    for case in (martuni, ganja):
        assert "demo-data" in case["tags"]
        assert "DEMONSTRATION DATA" in case["summary"]
        assert case["title"].startswith("[DEMO]")
        detail = client.get(f"/api/v1/cases/{case['id']}", headers=admin.headers)
        assert detail.status_code == 200, detail.text
        assert detail.json()["counts"] == {
            "witnesses": 1,
            "testimonies": 1,
            "site_visits": 1,
            "evidence": 1,
        }

    stored = db.all_text()
    for name in NAMES:
        assert name not in stored
        assert name.split()[1] not in stored

    seen = {}
    for place, case in cases.items():
        answer = client.get(f"/api/v1/cases/{case['id']}/witnesses", headers=admin.headers)
        assert answer.status_code == 200, answer.text
        [witness] = answer.json()["items"]
        seen[place] = (witness["pseudonym"], witness["identity"]["full_name"])
    assert seen == {
        "Martuni": ("W-0001", "Anahit Gevorgyan"),
        "Ganja": ("W-0002", "Ramiz Gahramanov"),
    }
    stored = db.all_text()  # reading them (an audited view) stored no name either
    for name in NAMES:
        assert name not in stored

    testimonies = client.get(f"/api/v1/cases/{martuni['id']}/testimonies", headers=admin.headers)
    assert testimonies.status_code == 200, testimonies.text
    [quote] = testimonies.json()["items"]
    assert "planes in the sky" in quote["statement"]
    assert quote["witness_pseudonym"] == "W-0001"

    check_placeholder_photos(client, admin, cases)

    verify = casefile("audit", "verify", env=environment(settings))
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.splitlines()[-1] == "audit trail intact"  # the verdict, on stdout


def check_placeholder_photos(
    client: TestClient, admin: Actor, cases: dict[str, dict[str, Any]]
) -> None:
    """Each case has one placeholder photo, plainly labelled, stored and fingerprinted like an
    upload, whose EXIF (written by hand, the demo runs without Pillow) is read back as a
    camera's: capture time at the site in UTC, the site's position, and a device that says it
    is no camera."""
    expected = {
        "Martuni": ("MRT-0001", "2020-12-03T09:40:12Z", (39.7953, 47.1136)),
        "Ganja": ("GNJ-0001", "2020-12-06T10:25:40Z", (40.6828, 46.3606)),
    }
    for place, case in cases.items():
        listed = client.get(f"/api/v1/cases/{case['id']}/evidence", headers=admin.headers)
        assert listed.status_code == 200, listed.text
        [photo] = listed.json()["items"]
        exhibit, taken, (lat, lon) = expected[place]
        assert photo["exhibit_number"] == exhibit
        assert photo["title"].startswith("[DEMO]")
        assert photo["media_type"] == "image/png"
        assert photo["kind"] == "photo"
        exif = photo["extracted"]["exif"]
        assert exif["captured_at"] == taken
        assert exif["model"] == "Placeholder (not a photograph)"
        assert abs(exif["gps"]["lat"] - lat) < 1e-4
        assert abs(exif["gps"]["lon"] - lon) < 1e-4
        assert photo["provenance"]["site_visit_id"] is not None
        content = client.get(f"/api/v1/evidence/{photo['id']}/content", headers=admin.headers)
        assert content.status_code == 200
        assert hashlib.sha256(content.content).hexdigest() == photo["sha256"]
        assert len(content.content) == photo["size"]
