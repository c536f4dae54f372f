"""Reading a bundle's audit log (`audit/case-events.jsonl`) into the rows the chain check takes,
noting on the way what the bundle verifier needs: each exhibit's ingest event, the bundle's
own export event, how many bodies were withheld. No database code."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

from app.audit.chain_check import CheckpointRow, EventRow
from app.bundles import format as names


class BundleProblem(Exception):
    """The first thing found wrong; the message names it."""


class AuditLog:
    """Reads the log's lines into chain rows, noting what the bundle's checks need."""

    def __init__(self, chain: object, bundle_id: object) -> None:
        self.chain, self.bundle_id = chain, bundle_id
        self.ingested: dict[str, dict[str, Any]] = {}
        self.export_seq: int | None = None
        self.withheld = 0
        self.refs: set[str] = set()  # the texts the shown events refer to (`{"$text": ref}`)

    def events(self, lines: io.TextIOWrapper) -> Iterator[EventRow]:
        """Every line but the last (the checkpoint, read apart)."""
        pending: str | None = None
        for number, line in enumerate(lines, start=1):
            if pending is not None:
                yield self._row(pending, number - 1)
            pending = line

    def _row(self, line: str, number: int) -> EventRow:
        try:
            record = json.loads(line)
        except ValueError:
            raise BundleProblem(f"{names.AUDIT_LOG} line {number} is not JSON") from None
        if not isinstance(record, dict) or record.get("type") != "event":
            raise BundleProblem(f"{names.AUDIT_LOG} line {number} is not an event")
        row = event_row(record, number)
        if row.chain != self.chain:
            raise BundleProblem(f"{names.AUDIT_LOG} line {number} is of chain {row.chain}")
        self._note(row)
        return row

    def _note(self, row: EventRow) -> None:
        if row.body is None:
            self.withheld += 1
            if row.resource_type == "evidence":
                self.ingested.setdefault(row.resource_id, {"withheld": True})
            return
        try:
            body = json.loads(row.body)
            payload = body.get("payload") or {}
        except (ValueError, AttributeError):
            return  # the chain check names it: its hash no longer matches
        self.refs |= text_refs(payload)
        if body.get("action") == names.INGEST_ACTION and row.resource_type == "evidence":
            self.ingested[row.resource_id] = payload
        if body.get("action") == names.EXPORT_ACTION and payload.get("bundle_id") == self.bundle_id:
            self.export_seq = row.seq


def text_refs(value: Any) -> set[str]:
    """The refs of `{"$text": ref}` anywhere in a payload (docs/audit-format.md)."""
    if isinstance(value, dict):
        ref = value.get("$text")
        if len(value) == 1 and isinstance(ref, str):
            return {ref}
        return set().union(*(text_refs(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(text_refs(v) for v in value)) if value else set()
    return set()


def check_text_line(line: str, number: int, refs: set[str]) -> bool:
    """One line of audit/texts.jsonl; whether it is shown as written (its salt proves it)."""
    where = f"{names.AUDIT_TEXTS} line {number}"
    try:
        record = json.loads(line)
        ref, text, salt = record["ref"], record["text"], record["salt"]
    except (ValueError, KeyError, TypeError):
        raise BundleProblem(f"{where} is not a text record") from None
    if not isinstance(ref, str) or ref not in refs:
        raise BundleProblem(f"{where}: no event of the log refers to it")
    if salt is None:
        return False
    try:
        digest = hashlib.sha256(bytes.fromhex(salt) + str(text).encode()).hexdigest()
    except (ValueError, TypeError):
        raise BundleProblem(f"{where}: its salt is not hex") from None
    if digest != ref:
        raise BundleProblem(f"{where}: the text does not match the reference its event holds")
    return True


def event_row(record: dict[str, Any], number: int) -> EventRow:
    try:
        body = record["body"]
        return EventRow(
            chain=str(record["chain"]),
            seq=int(record["seq"]),
            prev_hash=str(record["prev_hash"]),
            hash=str(record["hash"]),
            resource_type=str(record["resource_type"]),
            resource_id=str(record["resource_id"]),
            body=None if body is None else str(body).encode(),
        )
    except (KeyError, TypeError, ValueError):
        raise BundleProblem(f"{names.AUDIT_LOG} line {number} is not a complete event") from None


def checkpoint_row(record: dict[str, Any], number: int) -> CheckpointRow:
    try:
        return CheckpointRow(
            chain=str(record["chain"]),
            length=int(record["length"]),
            head_hash=str(record["head_hash"]),
            signed_at=str(record["signed_at"]),
            key_id=str(record["key_id"]),
            signature=str(record["signature"]),
        )
    except (KeyError, TypeError, ValueError):
        raise BundleProblem(f"{names.AUDIT_LOG} line {number} is not a checkpoint") from None
