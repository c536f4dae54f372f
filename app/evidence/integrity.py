"""Whole-store integrity: re-hash every original (`casefile storage verify`) and compare the
store with the database (`casefile storage reconcile`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from app.db import Database
from app.evidence import service
from app.evidence.schemas import VerificationResult
from app.models.evidence import EvidenceItem
from app.storage import ObjectMissing, ObjectStore
from app.uploads import service as uploads

BATCH = 500
STALE_AFTER = timedelta(hours=24)  # matches the tus expiry: older temp objects are abandoned


def _items(database: Database) -> Iterator[EvidenceItem]:
    """Every evidence item, in batches (a million rows never sit in memory at once)."""
    after = ""
    while True:
        with database.read_sessions() as session:
            batch = list(
                session.scalars(
                    select(EvidenceItem)
                    .where(EvidenceItem.object_key > after)
                    .order_by(EvidenceItem.object_key)
                    .limit(BATCH)
                )
            )
            session.expunge_all()
        if not batch:
            return
        yield from batch
        after = batch[-1].object_key


def verify_store(database: Database, store: ObjectStore) -> list[VerificationResult]:
    """Re-hash every original; each result is an audit event on its case's chain."""
    results = []
    for item in _items(database):
        found = service.rehash(store, item)
        with database.write_sessions.begin() as session:
            results.append(
                service.record_verification(session, access=None, item=item, found=found, via="cli")
            )
    return results


@dataclass
class Reconciliation:
    orphan_objects: list[str] = field(default_factory=list)  # stored, but no row refers to it
    missing_objects: list[str] = field(default_factory=list)  # a row, but no object
    purged_temp_objects: int = 0
    purged_uploads: int = 0

    @property
    def clean(self) -> bool:
        return not self.orphan_objects and not self.missing_objects


def reconcile(database: Database, store: ObjectStore, *, fix: bool) -> Reconciliation:
    report = Reconciliation()
    known: set[str] = set()
    for item in _items(database):
        known.add(item.object_key)
        if not _present(store, item):
            report.missing_objects.append(f"{item.exhibit_number} {item.object_key}")
    for key in store.keys("evidence/"):
        if key not in known and not _pending_upload(database, key):
            report.orphan_objects.append(key)
    if fix:  # temp objects only: an orphaned original is for a person to look at
        report.purged_uploads = uploads.purge_expired(database, store, limit=10_000)
        report.purged_temp_objects = store.purge_incomplete(STALE_AFTER)
    return report


def _present(store: ObjectStore, item: EvidenceItem) -> bool:
    """Present with the right size (a storage outage is not an answer: it raises)."""
    try:
        return store.size(item.object_key, version_id=item.object_version) == item.size
    except ObjectMissing:
        return False


def _pending_upload(database: Database, key: str) -> bool:
    """A key unknown to the first pass may belong to an ingest that committed since."""
    with database.read_sessions() as session:
        return (
            session.scalar(select(EvidenceItem.id).where(EvidenceItem.object_key == key))
            is not None
        )
