"""The bundle's own files, rendered from a snapshot: testimonies, site visits, the exhibit list,
the audit log and SHA256SUMS. Pure: bytes in, bytes out; the same snapshot gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from app.bundles.layout import safe_component
from app.bundles.redaction import Scrubber
from app.bundles.snapshot import WitnessEntry
from app.models.audit import AuditEvent
from app.site_visits.schemas import SiteVisitRead
from app.testimonies.schemas import TestimonyRead


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode()


def listing_json_bytes(document: dict[str, Any]) -> bytes:
    """A large document (the manifest) readably and fast: one top-level field per line, and
    long lists one item per line. (json's indent= falls back to its slow pure-Python encoder,
    which costs a 10,000-item manifest seconds before the first byte.)"""

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    fields = []
    for key, value in document.items():
        if isinstance(value, list) and value:
            rendered = "[\n" + ",\n".join(f"    {dumps(item)}" for item in value) + "\n  ]"
        else:
            rendered = dumps(value)
        fields.append(f"  {dumps(key)}: {rendered}")
    return ("{\n" + ",\n".join(fields) + "\n}\n").encode()


def _day(moment: str | None) -> str:
    return (moment or "undated")[:10]


# -- testimonies and site visits --------------------------------------------------------------
def testimony_paths(index: int, testimony: TestimonyRead) -> tuple[str, str]:
    stem = f"T-{index:04d}_{safe_component(testimony.witness_pseudonym)}_"
    stem += testimony.recorded_at.strftime("%Y-%m-%d")
    return f"testimonies/{stem}.json", f"testimonies/{stem}.txt"


def testimony_files(
    testimony: TestimonyRead,
    witness: WitnessEntry | None,
    staff: dict[str, str | None],
    scrubber: Scrubber,
) -> tuple[bytes, bytes]:
    document: dict[str, Any] = {
        "id": str(testimony.id),
        "witness": {
            "id": str(testimony.witness_id),
            "pseudonym": testimony.witness_pseudonym,
            "identity": witness.identity if witness else None,
            "identity_withheld_because": witness.withheld_because if witness else "unknown",
        },
        "recorded_at": testimony.recorded_at.isoformat(),
        "place": scrubber.scrub(testimony.place),
        "interviewer": person(testimony.interviewer_id, staff),
        "language": testimony.language,
        "statement": scrubber.scrub(testimony.statement),
        "translation": scrubber.scrub(testimony.translation),
        "translation_language": testimony.translation_language,
        "recorded_by": person(testimony.created_by, staff),
        "created_at": testimony.created_at.isoformat(),
        "updated_at": testimony.updated_at.isoformat(),
        "version": testimony.version,
    }
    who = testimony.witness_pseudonym
    if witness and witness.identity:
        who = f"{witness.identity['full_name']} ({who})"
    lines = [
        f"Testimony of {who}",
        f"Recorded: {document['recorded_at']}",
        f"Place: {document['place'] or '-'}",
        f"Language: {testimony.language}",
        "",
        "Statement:",
        document["statement"] or "",
    ]
    if testimony.translation:
        lines += ["", f"Translation ({testimony.translation_language or '?'}):"]
        lines.append(document["translation"] or "")
    return json_bytes(document), ("\n".join(lines) + "\n").encode()


def visit_paths(index: int, visit: SiteVisitRead) -> tuple[str, str]:
    stem = f"V-{index:04d}_{visit.visited_at.strftime('%Y-%m-%d')}"
    return f"site-visits/{stem}.json", f"site-visits/{stem}.txt"


def visit_files(
    visit: SiteVisitRead, staff: dict[str, str | None], scrubber: Scrubber
) -> tuple[bytes, bytes]:
    location = visit.location.model_dump(mode="json") if visit.location else None
    if location and location.get("name"):
        location["name"] = scrubber.scrub(location["name"])
    conditions = {k: scrubber.scrub(v) for k, v in visit.conditions.model_dump().items()}
    document: dict[str, Any] = {
        "id": str(visit.id),
        "visited_at": visit.visited_at.isoformat(),
        "visited_until": visit.visited_until.isoformat() if visit.visited_until else None,
        "location": location,
        "team": [person(member, staff) for member in visit.team],
        "purpose": scrubber.scrub(visit.purpose),
        "observations": scrubber.scrub(visit.observations),
        "conditions": conditions,
        "logged_by": person(visit.created_by, staff),
        "version": visit.version,
    }
    team = ", ".join(staff.get(str(member)) or str(member) for member in visit.team) or "-"
    lines = [
        f"Site visit of {document['visited_at']}",
        f"Location: {(location or {}).get('name') or '-'}"
        + (f" ({location['lat']}, {location['lon']})" if location and location["lat"] else ""),
        f"Team: {team}",
        f"Purpose: {document['purpose'] or '-'}",
        f"Conditions: {'; '.join(f'{k}: {v}' for k, v in conditions.items() if v) or '-'}",
        "",
        "Observations:",
        document["observations"] or "",
    ]
    return json_bytes(document), ("\n".join(lines) + "\n").encode()


def person(user_id: Any, staff: dict[str, str | None]) -> dict[str, Any] | None:
    if user_id is None:
        return None
    return {"user_id": str(user_id), "name": staff.get(str(user_id))}


# -- audit log and checksums ------------------------------------------------------------------
def audit_line(event: AuditEvent, withheld: bool) -> bytes:
    """One event as a JSON line, with its stored body verbatim (the hash covers its exact
    bytes), or withheld (it names a protected witness inline)."""
    record = {
        "type": "event",
        "chain": event.chain_id,
        "seq": event.seq,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "body": None if withheld else event.body,
    }
    if withheld:
        record["body_withheld"] = "names a protected witness"
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()


def text_line(ref: str, text: str, salt: str | None) -> bytes:
    """A text an event refers to: with its salt where shown as written (then
    sha256(salt ‖ text) = ref), as shown and without salt where something is withheld."""
    record = {"ref": ref, "text": text, "salt": salt, "withheld": salt is None}
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()


def checkpoint_line(checkpoint: dict[str, Any]) -> bytes:
    return (json.dumps({"type": "checkpoint", **checkpoint}, ensure_ascii=False) + "\n").encode()


def sha256sums(entries: Iterable[tuple[str, str]]) -> bytes:
    """coreutils format: hash, two spaces, name (names here never need escaping)."""
    return "".join(f"{digest}  {path}\n" for path, digest in entries).encode()


def event_summaries(events: Iterable[AuditEvent]) -> Iterator[dict[str, Any]]:
    for event in events:
        body = json.loads(event.body)
        yield {
            "seq": event.seq,
            "at": body.get("at"),
            "action": body.get("action"),
            "actor_id": body.get("actor_id"),
            "resource": f"{event.resource_type}:{event.resource_id}",
            "hash": event.hash,
        }
