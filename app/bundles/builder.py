"""Assembling a bundle: render its own files, sign its manifest, plan the ZIP, stream it.

Memory stays bounded whatever the case's size: the files the bundle renders (testimonies,
visits, the audit log, index.html, exhibits.csv) are written once to a temporary spool file,
hashed on the way, and read back while the ZIP streams; evidence streams from the object store
in 1 MiB chunks, each original checked against its recorded SHA-256 (and CRC32, by stream-zip)
as it passes (app.bundles.prefetch), so an altered original breaks the download instead of
slipping into a bundle.
"""

from __future__ import annotations

import hashlib
import json
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from stream_zip import NO_COMPRESSION_32, NO_COMPRESSION_64, MemberFile, stream_zip

from app.audit import texts as audit_texts
from app.audit.signing import Signer
from app.bundles import documents, index_page, layout, thumbnails
from app.bundles import format as names
from app.bundles import manifest as manifest_doc
from app.bundles.exhibits import Exhibit, exhibits_csv
from app.bundles.prefetch import Original, Prefetcher
from app.bundles.redaction import Scrubber, scrub_case
from app.bundles.snapshot import Snapshot, chain_events
from app.bundles.spool import Spool
from app.protection.matcher import Matcher
from app.storage import ObjectStore

ZIP_CHUNK_BYTES = 1024 * 1024  # stream-zip's 64 KiB default costs a thread hop per 64 KiB
FILE_MODE = stat.S_IFREG | 0o644


@dataclass(frozen=True)
class BundleFile:
    path: str
    size: int
    sha256: str
    crc32: int
    modified_at: datetime
    content: Callable[[], Iterator[bytes]]


@dataclass
class Bundle:
    bundle_id: str
    files: list[BundleFile]  # in ZIP order
    plan: layout.Plan
    spool: Spool
    prefetcher: Prefetcher
    closed: bool = field(default=False)

    @property
    def size(self) -> int:
        return self.plan.total_size

    def chunks(self) -> Iterator[bytes]:
        """The ZIP, in ~1 MiB chunks. Closing the iterator stops reading from storage."""
        members: list[MemberFile] = []
        for placement, item in zip(self.plan.placements, self.files, strict=True):
            method = NO_COMPRESSION_64 if placement.zip64 else NO_COMPRESSION_32
            members.append(
                (item.path, item.modified_at, FILE_MODE, method(item.size, item.crc32), _lazy(item))
            )
        try:
            yield from stream_zip(members, chunk_size=ZIP_CHUNK_BYTES)
        finally:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.prefetcher.close()
            self.spool.close()


def _lazy(item: BundleFile) -> Iterator[bytes]:
    yield from item.content()


def build(session: Session, snapshot: Snapshot, *, store: ObjectStore, signer: Signer) -> Bundle:
    """Render, hash and sign everything but the originals (which are only planned); the
    returned bundle streams on demand."""
    assembly = _Assembly(session, snapshot, store, signer, Spool())
    try:
        return assembly.run()
    except BaseException:
        assembly.prefetcher.close()
        assembly.spool.close()
        raise


class _Assembly:
    def __init__(
        self, session: Session, snapshot: Snapshot, store: ObjectStore, signer: Signer, spool: Spool
    ) -> None:
        self.identifies = snapshot.requester.may_identify_witnesses
        withheld = {w.id: w for w in snapshot.witnesses if w.identity is None}
        if self.identifies:
            # Texts come as written: the strings of those who did not consent become pseudonyms.
            self.protected = Matcher.of({w.id: w.terms for w in withheld.values()})
            pseudonyms = {w.id: w.pseudonym for w in withheld.values()}
            self.scrubber = Scrubber(self.protected, pseudonyms)
        else:
            # Texts come as shown already (their author's own as written): nothing more to do
            # to them, or a right guess would come back different from a wrong one.
            self.protected = Matcher.of({w.id: w.terms for w in snapshot.witnesses})
            self.scrubber = Scrubber()
        # The case's own texts (a summary may name a witness) go out scrubbed like the rest.
        snapshot = replace(snapshot, case=scrub_case(snapshot.case, self.scrubber))
        self.session, self.snapshot, self.store, self.signer = session, snapshot, store, signer
        self.spool = spool
        self.at = snapshot.generated_at
        self.rendered: list[BundleFile] = []
        self.prefetcher = Prefetcher(store, [])

    def run(self) -> Bundle:
        snapshot = self.snapshot
        exhibits = [
            Exhibit.of(
                item,
                self.scrubber,
                include_file=snapshot.include_withdrawn or item.withdrawn is None,
            )
            for item in snapshot.evidence
        ]
        included = [e for e in exhibits if e.path is not None]
        # The first originals are read while the bundle's own files are rendered.
        self.prefetcher = prefetcher = Prefetcher(self.store, [self._located(e) for e in included])
        prefetcher.warm()
        listings = [e.listing(snapshot.staff) for e in exhibits]
        public_key = self._inline(names.PUBLIC_KEY, self.signer.public_pem.encode())
        testimonies = self._testimonies()
        visits = self._visits()
        withheld, referred = self._audit_log()
        self._audit_texts(referred)
        exhibit_list = self._render(names.EXHIBITS, [exhibits_csv(listings)])
        index = self._index(exhibits, listings, testimonies, visits)
        originals = [self._original(e, i, prefetcher) for i, e in enumerate(included)]
        listed = [public_key, index, exhibit_list, *self.rendered, *originals]
        document = manifest_doc.document(
            snapshot,
            key_id=self.signer.key_id,
            exhibits=listings,
            testimonies=[t["entry"] for t in testimonies],
            visits=[v["entry"] for v in visits],
            files=[manifest_doc.FileEntry(f.path, f.sha256, f.size) for f in listed],
            withheld_events=withheld,
            text_redactions=self.scrubber.count,
        )
        manifest_bytes = documents.listing_json_bytes(document)
        signature = self.signer.private_key.sign(manifest_bytes)
        manifest = self._inline(names.MANIFEST, manifest_bytes)
        signed = self._inline(names.SIGNATURE, signature)
        head = [manifest, signed, *listed]
        sums = documents.sha256sums((f.path, f.sha256) for f in head)
        files = [*head, self._inline(names.CHECKSUMS, sums)]
        members = [layout.Member(f.path, f.size) for f in files]
        return Bundle(str(snapshot.bundle_id), files, layout.plan(members), self.spool, prefetcher)

    # -- files ---------------------------------------------------------------------------
    def _inline(self, path: str, data: bytes) -> BundleFile:
        return BundleFile(
            path,
            len(data),
            hashlib.sha256(data).hexdigest(),
            zlib.crc32(data),
            self.at,
            lambda: iter((data,)) if data else iter(()),
        )

    def _render(self, path: str, pieces: Iterable[bytes]) -> BundleFile:
        entry = self.spool.add(pieces)
        spool = self.spool
        return BundleFile(
            path, entry.size, entry.sha256, entry.crc32, self.at, lambda: spool.read(entry)
        )

    def _pair(self, json_path: str, data: bytes, text_path: str, text: bytes) -> dict[str, Any]:
        """A record as JSON and as readable text; the parsed JSON for index.html."""
        self.rendered.append(self._render(json_path, [data]))
        self.rendered.append(self._render(text_path, [text]))
        document: dict[str, Any] = json.loads(data)
        return {"document": document, "path": json_path}

    def _testimonies(self) -> list[dict[str, Any]]:
        witnesses = {w.id: w for w in self.snapshot.witnesses}
        out = []
        for index, testimony in enumerate(self.snapshot.testimonies, start=1):
            json_path, text_path = documents.testimony_paths(index, testimony)
            json_bytes, text_bytes = documents.testimony_files(
                testimony, witnesses.get(testimony.witness_id), self.snapshot.staff, self.scrubber
            )
            out.append(
                {
                    **self._pair(json_path, json_bytes, text_path, text_bytes),
                    "entry": {
                        "id": str(testimony.id),
                        "witness_pseudonym": testimony.witness_pseudonym,
                        "recorded_at": testimony.recorded_at.isoformat(),
                        "language": testimony.language,
                        "json": json_path,
                        "text": text_path,
                    },
                }
            )
        return out

    def _visits(self) -> list[dict[str, Any]]:
        out = []
        for index, visit in enumerate(self.snapshot.visits, start=1):
            json_path, text_path = documents.visit_paths(index, visit)
            json_bytes, text_bytes = documents.visit_files(
                visit, self.snapshot.staff, self.scrubber
            )
            out.append(
                {
                    **self._pair(json_path, json_bytes, text_path, text_bytes),
                    "entry": {
                        "id": str(visit.id),
                        "visited_at": visit.visited_at.isoformat(),
                        "json": json_path,
                        "text": text_path,
                    },
                }
            )
        return out

    def _audit_log(self) -> tuple[list[int], dict[str, str | None]]:
        """The case's events; which are withheld; the texts the others refer to (and each
        one's author: the event's actor)."""
        withheld: list[int] = []
        referred: dict[str, str | None] = {}
        audit = self.snapshot.audit
        requester = str(self.snapshot.requester.user_id)

        def lines() -> Iterator[bytes]:
            for event in chain_events(self.session, audit.chain, audit.length):
                body = json.loads(event.body)
                hidden = self.protected.spans(event.body) != [] and (
                    self.identifies or body.get("actor_id") != requester
                )
                if hidden:
                    withheld.append(event.seq)
                elif audit_texts.TEXT_KEY in event.body:
                    for ref in audit_texts.refs_in(body.get("payload")):
                        referred.setdefault(ref, body.get("actor_id"))
                yield documents.audit_line(event, hidden)
            yield documents.checkpoint_line(audit.checkpoint)

        self.rendered.append(self._render(names.AUDIT_LOG, lines()))
        return withheld, referred

    def _audit_texts(self, referred: dict[str, str | None]) -> None:
        """audit/texts.jsonl: each text as the requester may see it, as their API read would
        show it (and, in an identifier's bundle, non-consenting witnesses as pseudonyms)."""
        requester = str(self.snapshot.requester.user_id)
        refs = list(referred)

        def lines() -> Iterator[bytes]:
            for start in range(0, len(refs), 500):
                batch = refs[start : start + 500]
                stored = audit_texts.load(self.session, batch)
                for ref in batch:
                    if ref not in stored:
                        continue
                    salt, text = stored[ref]
                    if self.identifies:
                        shown = self.scrubber.scrub(text) or text
                    elif referred[ref] == requester:
                        shown = text  # their own words
                    else:
                        shown = self.protected.redact(text) or text
                    yield documents.text_line(ref, shown, salt if shown == text else None)

        self.rendered.append(self._render(names.AUDIT_TEXTS, lines()))

    def _index(
        self,
        exhibits: list[Exhibit],
        listings: list[dict[str, Any]],
        testimonies: list[dict[str, Any]],
        visits: list[dict[str, Any]],
    ) -> BundleFile:
        budget = thumbnails.PreviewBudget()
        previews: dict[str, str] = {}
        for exhibit in exhibits:
            item = exhibit.item
            if exhibit.path is None or item.media_type not in thumbnails.PREVIEWABLE:
                continue
            key, version = self.snapshot.objects[item.id]
            uri = thumbnails.preview(self.store, key, version, item.size, budget)
            if uri:
                previews[item.exhibit_number] = uri
        audit = self.snapshot.audit
        timeline = documents.event_summaries(chain_events(self.session, audit.chain, audit.length))
        pieces = index_page.render(
            self.snapshot,
            exhibits=listings,
            previews=previews,
            testimonies=testimonies,
            visits=visits,
            timeline=timeline,
            key_id=self.signer.key_id,
            previews_skipped=budget.skipped,
        )
        return self._render(names.INDEX, (piece.encode() for piece in pieces))

    def _located(self, exhibit: Exhibit) -> Original:
        item = exhibit.item
        key, version = self.snapshot.objects[item.id]
        return Original(item.exhibit_number, key, version, item.size, item.sha256)

    def _original(self, exhibit: Exhibit, index: int, prefetcher: Prefetcher) -> BundleFile:
        item = exhibit.item
        return BundleFile(
            exhibit.path or "",
            item.size,
            item.sha256,
            item.crc32,
            item.uploaded_at,
            lambda: prefetcher.content(index),
        )
