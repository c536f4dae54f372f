"""What the walk withholds is still there for those who may identify: the case's lead (who
holds `can_identify_witnesses`) and an admin read every text of the world exactly as it was
written, in single reads, in lists, in `Content-Disposition`, in audit and custody texts and
in a bundle (the witness consented to courts knowing her identity)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tests.evidence.support import parse_disposition
from tests.protection.bodies import all_items, strings, value_at
from tests.protection.conftest import Shared
from tests.protection.corpus import MARKER, OTHER_SPELLINGS, PROTECTED
from tests.protection.world import Record, World


def test_other_spellings_are_accepted_and_shown_to_identifiers(shared: Shared) -> None:
    """`other_spellings` is a new identity field: recorded at registration, read back by
    identifiers as `identity.other_spellings`, and never shown to anyone else."""
    world = shared.world
    assert world.other_spellings_accepted, (
        "POST /cases/{id}/witnesses refused `other_spellings` (world.py fell back to "
        "registering the witness without them)"
    )
    path = f"/api/v1/witnesses/{world.witness_id}"
    for label, actor in world.identifiers.items():
        read = world.client.get(path, headers=actor.headers)
        assert read.status_code == 200, read.text
        assert read.json()["identity"]["other_spellings"] == OTHER_SPELLINGS, label
    shown = world.client.get(path, headers=world.members["viewer"].headers)
    assert "identity" not in shown.json()
    assert "other_spellings" not in shown.text


def test_identifiers_read_every_text_as_written(shared: Shared) -> None:
    world = shared.world
    problems: list[str] = []
    readers = list(world.identifiers.items())
    for index, record in enumerate(world.records):
        label, actor = readers[index % len(readers)]  # the lead and the admin in turn
        answer = world.client.get(record.path, headers=actor.headers)
        if answer.status_code != 200:
            problems.append(f"{label}: {record.path} answered {answer.status_code}")
            continue
        problems += [f"{label}: {p}" for p in _differences(record, answer.json())]
    assert not problems, "\n".join(problems[:60])


def _differences(record: Record, body: dict[str, Any]) -> list[str]:
    return [
        f"{record.kind} {record.label} {path}: {value_at(body, path)!r}, written {written!r}"
        for path, written in record.texts.items()
        if value_at(body, path) != written
    ]


def test_identifiers_read_lists_as_written(shared: Shared) -> None:
    world = shared.world
    base = f"/api/v1/cases/{world.main_case}"
    lists = {"testimony": "testimonies", "site_visit": "site-visits", "evidence": "evidence"}
    problems: list[str] = []
    for label, actor in world.identifiers.items():
        for kind, suffix in lists.items():
            items = _all_items(world, f"{base}/{suffix}", actor.headers)
            kinds = ("evidence", "upload", "photo") if kind == "evidence" else (kind,)
            for record in world.of_kind(*kinds):
                if record.id not in items:
                    problems.append(f"{label}: {record.kind} {record.label} not in {suffix}")
                    continue
                problems += [f"{label} (list): {p}" for p in _differences(record, items[record.id])]
        cases = _all_items(world, "/api/v1/cases", actor.headers)
        for record in world.of_kind("case"):
            problems += [
                f"{label} (case list): {p}" for p in _differences(record, cases[record.id])
            ]
    assert not problems, "\n".join(problems[:60])


def _all_items(world: World, path: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in all_items(world.client, path, headers)}


def test_identifiers_download_under_the_name_as_written(shared: Shared) -> None:
    world = shared.world
    for record in world.of_kind("evidence", "upload"):
        answer = world.client.get(f"{record.path}/content", headers=world.lead.headers)
        assert answer.status_code == 200, answer.text
        _, name = parse_disposition(answer.headers["content-disposition"])
        assert name == record.texts["original_filename"], record.label


def test_identifiers_read_audit_texts_as_written(shared: Shared) -> None:
    """For the lead, no audit text is withheld: every `texts` entry is as written, with its
    salt, and no payload is served redacted."""
    world = shared.world
    problems: list[str] = []
    for case_id in world.case_ids:
        for event in all_items(world.client, f"/api/v1/cases/{case_id}/audit", world.lead.headers):
            if event.get("payload_redacted") is not False:
                problems.append(
                    f"{event['action']} #{event['seq']}: payload_redacted "
                    f"{event.get('payload_redacted')!r}"
                )
            for ref, text in (event.get("texts") or {}).items():
                if (
                    text.get("withheld")
                    or text.get("salt") is None
                    or MARKER in (text.get("text") or "")
                ):
                    problems.append(f"{event['action']} #{event['seq']} text {ref}: {text!r}")
    assert not problems, "\n".join(problems[:60])


def test_identifiers_export_texts_as_written(shared: Shared) -> None:
    """The witness consented to courts knowing her identity: the lead's bundle carries each
    testimony and visit text as written (neither the marker nor her pseudonym)."""
    world = shared.world
    answer = world.client.get(f"/api/v1/cases/{world.main_case}/bundle", headers=world.lead.headers)
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        entries = [
            json.loads(archive.read(name))
            for name in archive.namelist()
            if name == "manifest.json"
            or (name.startswith(("testimonies/", "site-visits/")) and name.endswith(".json"))
        ]
    shown = set(strings(entries))
    missing = [
        f"{r.kind} {r.label} {path}"
        for r in world.of_kind("testimony", "site_visit")
        for path, written in r.texts.items()
        if PROTECTED.found_in(written) and written not in shown
    ]
    assert not missing, (
        f"{len(missing)} text(s) not in the lead's bundle as written: {missing[:20]}"
    )
