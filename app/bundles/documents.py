"""The bundle's own files, rendered from a snapshot: testimonies, site visits, the exhibit list,
the audit log and SHA256SUMS. Pure: bytes in, bytes out; the same snapshot gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from app.bundles.layout import evidence_path, safe_component
from app.bundles.redaction import Scrubber
from app.bundles.snapshot import WitnessEntry
from app.evidence.schemas import EvidenceRead
from app.models.audit import AuditEvent
from app.site_visits.schemas import SiteVisitRead
from app.testimonies.schemas import TestimonyRead

EXHIBIT_COLUMNS = (
    "exhibit_number",
    "path",
    "sha256",
    "size",
    "media_type",
    "kind",
    "title",
    "captured_at",
    "captured_at_exif",
    "gps_lat",
    "gps_lon",
    "collected_by",
    "source_url",
    "site_visit_id",
    "testimony_id",
    "uploaded_at",
    "withdrawn",
    "withdrawal_reason",
)
# Free-text cells that a spreadsheet would run as a formula if they began with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FREE_TEXT = {"title", "collected_by", "source_url", "withdrawal_reason"}


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
        "interviewer": _person(testimony.interviewer_id, staff),
        "language": testimony.language,
        "statement": scrubber.scrub(testimony.statement),
        "translation": scrubber.scrub(testimony.translation),
        "translation_language": testimony.translation_language,
        "recorded_by": _person(testimony.created_by, staff),
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
        "team": [_person(member, staff) for member in visit.team],
        "purpose": scrubber.scrub(visit.purpose),
        "observations": scrubber.scrub(visit.observations),
        "conditions": conditions,
        "logged_by": _person(visit.created_by, staff),
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


def _person(user_id: Any, staff: dict[str, str | None]) -> dict[str, Any] | None:
    if user_id is None:
        return None
    return {"user_id": str(user_id), "name": staff.get(str(user_id))}


# -- exhibits ---------------------------------------------------------------------------------
SCRUBBED_EVIDENCE_TEXTS = (
    "title",
    "description",
    "original_filename",
    "source",
    "source_url",
    "platform",
    "collected_by",
    "collection_method",
    "online_identity",
    "captured_by",
    "device",
    "withdrawal_reason",
)


@dataclass(frozen=True)
class Exhibit:
    """An evidence item as the bundle lists it (manifest, exhibits.csv, index.html), its
    free texts scrubbed of protected names."""

    item: EvidenceRead
    path: str | None  # None: withdrawn and its bytes left out
    texts: dict[str, str | None]

    @classmethod
    def of(cls, item: EvidenceRead, scrubber: Scrubber, *, include_file: bool) -> Exhibit:
        raw = {
            **item.provenance.model_dump(mode="json"),
            "title": item.title,
            "description": item.description,
            "original_filename": item.original_filename,
            "withdrawal_reason": item.withdrawn.reason if item.withdrawn else None,
        }
        texts = {k: scrubber.scrub(raw.get(k)) for k in SCRUBBED_EVIDENCE_TEXTS}
        filename = texts["original_filename"] or ""
        path = evidence_path(item.exhibit_number, filename) if include_file else None
        return cls(item, path, texts)

    @property
    def exif(self) -> dict[str, Any]:
        extracted = self.item.extracted or {}
        exif = extracted.get("exif") if isinstance(extracted, dict) else None
        return exif if isinstance(exif, dict) else {}

    @property
    def gps(self) -> dict[str, Any] | None:
        gps = self.exif.get("gps")
        return gps if isinstance(gps, dict) else None

    def listing(self, staff: dict[str, str | None]) -> dict[str, Any]:
        item, texts = self.item, self.texts
        provenance = item.provenance
        return {
            "exhibit_number": item.exhibit_number,
            "evidence_id": str(item.id),
            "path": self.path,
            "included": self.path is not None,
            "sha256": item.sha256,
            "size": item.size,
            "crc32": item.crc32,
            "media_type": item.media_type,
            "declared_media_type": item.declared_media_type,
            "original_filename": texts["original_filename"],
            "kind": item.kind.value,
            "title": texts["title"],
            "description": texts["description"],
            "captured_at": item.captured_at.isoformat() if item.captured_at else None,
            "exif": self.exif or None,
            "gps": self.gps,
            "provenance": {
                **{k: texts[k] for k in SCRUBBED_EVIDENCE_TEXTS[3:-1]},
                "collected_at": provenance.collected_at.isoformat()
                if provenance.collected_at
                else None,
                "site_visit_id": str(provenance.site_visit_id)
                if provenance.site_visit_id
                else None,
                "testimony_id": str(provenance.testimony_id) if provenance.testimony_id else None,
            },
            "uploaded_by": _person(item.uploaded_by, staff),
            "uploaded_at": item.uploaded_at.isoformat(),
            "withdrawn": {
                "at": item.withdrawn.at.isoformat(),
                "by": _person(item.withdrawn.by, staff),
                "reason": texts["withdrawal_reason"],
            }
            if item.withdrawn
            else None,
        }


def exhibits_csv(listings: Iterable[dict[str, Any]]) -> bytes:
    """The load file: one row per exhibit, by exhibit number; UTF-8 with a BOM so that
    spreadsheets read non-Latin titles right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXHIBIT_COLUMNS)
    for row in listings:
        gps = row["gps"] or {}
        withdrawn = row["withdrawn"]
        provenance = row["provenance"]
        cells = {
            **row,
            "path": row["path"] or "",
            "collected_by": provenance["collected_by"],
            "source_url": provenance["source_url"],
            "site_visit_id": provenance["site_visit_id"],
            "testimony_id": provenance["testimony_id"],
            "captured_at_exif": (row["exif"] or {}).get("captured_at"),
            "gps_lat": gps.get("lat"),
            "gps_lon": gps.get("lon"),
            "withdrawn": withdrawn["at"] if withdrawn else "",
            "withdrawal_reason": withdrawn["reason"] if withdrawn else "",
        }
        writer.writerow([_cell(column, cells.get(column)) for column in EXHIBIT_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


def _cell(column: str, value: Any) -> str:
    text = "" if value is None else str(value)
    if column in _FREE_TEXT and text.startswith(_FORMULA_START):
        return "'" + text
    return text


# -- audit log and checksums ------------------------------------------------------------------
def audit_line(event: AuditEvent, scrubber: Scrubber) -> tuple[bytes, bool]:
    """One event as a JSON line, with its stored body verbatim (the hash covers its exact
    bytes), or withheld if it names a protected witness. Returns (line, withheld)."""
    withheld = scrubber.names_anyone(event.body)
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
    return (json.dumps(record, ensure_ascii=False) + "\n").encode(), withheld


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
