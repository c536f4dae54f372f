"""Verifying a case bundle offline: no server, no network, no database code.

Checks, in order, and names the first thing that is wrong:
1. the ZIP opens and every entry name is safe (relative, no '..', no duplicates);
2. `manifest.json` is a Casefile manifest; `public-key.pem` is the key it names (and, if the
   caller pinned keys, one of those); `manifest.json.sig` is that key's signature over it;
3. every file the manifest lists is there with its size and SHA-256; nothing else is there;
4. `SHA256SUMS` agrees with the files;
5. the audit log is one gapless hash chain ending at the head the manifest names, with that
   head's checkpoint signed by the bundle's key; the bundle's own export event is in it;
6. every exhibit's ingest event is in the chain with the exhibit's SHA-256 and size.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.audit.chain_check import ChainCheck, CheckpointRow, HeadRow, Report
from app.bundles import format as names
from app.bundles.layout import is_safe_entry_name
from app.bundles.verify_log import AuditLog, BundleProblem, check_text_line, checkpoint_row

_READ = 1024 * 1024


@dataclass
class BundleReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        first = self.problems[0] if self.problems else None
        return {"ok": self.ok, "first_problem": first, **self.facts, "notes": self.notes}


def verify_bundle(path: Path, pinned_keys: Mapping[str, str] | None = None) -> BundleReport:
    report = BundleReport()
    try:
        with zipfile.ZipFile(path) as archive:
            _Check(archive, report, pinned_keys).run()
    except BundleProblem as problem:
        report.problems.append(str(problem))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        report.problems.append(f"{path.name}: not a readable ZIP file ({exc})")
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        # A signed manifest of the wrong shape (only its signer could make one): name it.
        report.problems.append(f"{names.MANIFEST} is malformed ({type(exc).__name__}: {exc})")
    return report


class _Check:
    def __init__(
        self, archive: zipfile.ZipFile, report: BundleReport, pinned: Mapping[str, str] | None
    ) -> None:
        self.archive, self.report, self.pinned = archive, report, pinned
        self.hashes: dict[str, str] = {}

    def run(self) -> None:
        entries = self._entries()
        manifest_bytes = self._read_small(names.MANIFEST)
        manifest = self._manifest(manifest_bytes)
        public_pem = self._signature(manifest, manifest_bytes)
        self._files(manifest, entries)
        self._checksums()
        ingested = self._audit_log(manifest, public_pem)
        self._exhibits(manifest, ingested)

    # -- 1. the archive ------------------------------------------------------------------
    def _entries(self) -> set[str]:
        seen: set[str] = set()
        for info in self.archive.infolist():
            if not is_safe_entry_name(info.filename) or info.is_dir():
                raise BundleProblem(f"unsafe entry name in the ZIP: {info.filename!r}")
            if info.filename in seen:
                raise BundleProblem(f"the ZIP holds {info.filename} twice")
            seen.add(info.filename)
        for required in names.UNLISTED + (names.PUBLIC_KEY,):
            if required not in seen:
                raise BundleProblem(f"missing file: {required}")
        return seen

    # -- 2. manifest, key, signature -----------------------------------------------------
    def _manifest(self, data: bytes) -> dict[str, Any]:
        try:
            manifest = json.loads(data)
        except ValueError as exc:
            raise BundleProblem(f"{names.MANIFEST} is not valid JSON ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != names.FORMAT:
            raise BundleProblem(f"{names.MANIFEST} is not a {names.FORMAT} manifest")
        self.report.facts.update(
            bundle_id=manifest.get("bundle_id"),
            case_title=(manifest.get("case") or {}).get("title"),
            generated_at=manifest.get("generated_at"),
            requester=(manifest.get("requester") or {}).get("name"),
        )
        return manifest

    def _signature(self, manifest: dict[str, Any], manifest_bytes: bytes) -> str:
        pem = self._read_small(names.PUBLIC_KEY)
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError as exc:
            raise BundleProblem(f"{names.PUBLIC_KEY} is not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise BundleProblem(f"{names.PUBLIC_KEY} is not an Ed25519 key")
        key_id = _key_id(key)
        named = (manifest.get("signature") or {}).get("key_id")
        if key_id != named:
            raise BundleProblem(
                f"{names.PUBLIC_KEY} is key {key_id}, but the manifest names {named}"
            )
        if self.pinned is not None and key_id not in self.pinned:
            expected = ", ".join(sorted(self.pinned)) or "none"
            raise BundleProblem(f"signed by key {key_id}, not the expected key ({expected})")
        signature = self._read_small(names.SIGNATURE)
        try:
            key.verify(signature, manifest_bytes)
        except InvalidSignature:
            raise BundleProblem(
                f"{names.SIGNATURE} does not verify: {names.MANIFEST} or its signature was altered"
            ) from None
        self.report.facts.update(key_id=key_id, key_pinned=self.pinned is not None)
        return pem.decode()

    # -- 3 and 4. files and checksums ----------------------------------------------------
    def _files(self, manifest: dict[str, Any], entries: set[str]) -> None:
        listed = manifest.get("files")
        if not isinstance(listed, list):
            raise BundleProblem(f"{names.MANIFEST} lists no files")
        expected: set[str] = set(names.UNLISTED)
        total = 0
        for item in listed:
            path, digest, size = item.get("path"), item.get("sha256"), item.get("size")
            if path not in entries:
                raise BundleProblem(f"missing file: {path}")
            expected.add(path)
            found_digest, found_size = self._hash(path)
            if found_size != size:
                raise BundleProblem(f"{path}: size {found_size}, the manifest says {size}")
            if found_digest != digest:
                raise BundleProblem(f"{path}: SHA-256 {found_digest}, the manifest says {digest}")
            total += found_size
        extra = sorted(entries - expected)
        if extra:
            raise BundleProblem(f"unexpected file not in the manifest: {extra[0]}")
        for unlisted in (names.MANIFEST, names.SIGNATURE):
            self._hash(unlisted)
        self.report.facts.update(files=len(listed), bytes=total)

    def _checksums(self) -> None:
        text = self._read_small(names.CHECKSUMS).decode("utf-8", errors="replace")
        covered = set()
        for number, line in enumerate(text.splitlines(), start=1):
            digest, separator, path = line.partition("  ")
            if not separator or path not in self.hashes:
                raise BundleProblem(f"{names.CHECKSUMS} line {number} names no file of the bundle")
            if self.hashes[path] != digest:
                raise BundleProblem(f"{names.CHECKSUMS}: {path} does not match its line")
            covered.add(path)
        missing = sorted(set(self.hashes) - covered - {names.CHECKSUMS})
        if missing:
            raise BundleProblem(f"{names.CHECKSUMS} does not cover {missing[0]}")

    def _hash(self, path: str) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        try:
            with self.archive.open(path) as member:
                while chunk := member.read(_READ):
                    digest.update(chunk)
                    size += len(chunk)
        except zipfile.BadZipFile as exc:
            raise BundleProblem(f"{path}: altered or damaged in the ZIP ({exc})") from exc
        self.hashes[path] = digest.hexdigest()
        return self.hashes[path], size

    def _read_small(self, path: str, limit: int = 256 * 1024 * 1024) -> bytes:
        try:
            info = self.archive.getinfo(path)
        except KeyError:
            raise BundleProblem(f"missing file: {path}") from None
        if info.file_size > limit:
            raise BundleProblem(f"{path} is implausibly large ({info.file_size} bytes)")
        try:
            return self.archive.read(path)
        except zipfile.BadZipFile as exc:
            raise BundleProblem(f"{path}: altered or damaged in the ZIP ({exc})") from exc

    # -- 5. the audit log ----------------------------------------------------------------
    def _audit_log(self, manifest: dict[str, Any], public_pem: str) -> dict[str, dict[str, Any]]:
        audit = manifest.get("audit") or {}
        chain, key_id = str(audit.get("chain")), self.report.facts["key_id"]
        checkpoint = self._checkpoint(audit, key_id)
        log = AuditLog(chain, manifest.get("bundle_id"))
        chain_report = Report()
        check = ChainCheck(chain, [checkpoint], {key_id: public_pem}, chain_report)
        with self._open_log() as lines:
            for row in log.events(lines):
                check.feed(row)
        check.finish(HeadRow(chain, int(audit.get("length") or 0), str(audit.get("head_hash"))))
        if not chain_report.ok:
            raise BundleProblem(f"{names.AUDIT_LOG}: {chain_report.problems[0].describe()}")
        if log.export_seq is None or log.export_seq != audit.get("export_event_seq"):
            raise BundleProblem(f"{names.AUDIT_LOG}: the bundle's own export event is not in it")
        self.report.facts.update(
            audit_chain=chain, audit_events=chain_report.events, audit_head=audit.get("head_hash")
        )
        self._texts(audit, log.refs)
        if log.withheld:
            self.report.notes.append(
                f"{log.withheld} audit event bodies withheld (they name a protected witness): "
                "their hashes are linked into the chain, their contents not shown"
            )
        return log.ingested

    def _texts(self, audit: dict[str, Any], refs: set[str]) -> None:
        """Each text the log's events refer to: bound to its event where shown as written."""
        path = audit.get("texts_file")
        if path is None:
            return  # a bundle from before text references
        if path != names.AUDIT_TEXTS:
            raise BundleProblem(f"{names.MANIFEST}: the audit texts are not in {names.AUDIT_TEXTS}")
        shown = withheld = 0
        try:
            with self.archive.open(names.AUDIT_TEXTS) as raw:
                for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), start=1):
                    if check_text_line(line, number, refs):
                        shown += 1
                    else:
                        withheld += 1
        except KeyError:
            raise BundleProblem(f"missing file: {names.AUDIT_TEXTS}") from None
        except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise BundleProblem(f"{names.AUDIT_TEXTS}: altered or damaged ({exc})") from exc
        self.report.facts.update(audit_texts=shown + withheld)
        if withheld:
            self.report.notes.append(
                f"{withheld} audit text(s) shown with protected strings withheld: bound by the "
                "signed manifest only (their references cannot be checked without the text)"
            )

    def _checkpoint(self, audit: dict[str, Any], key_id: str) -> CheckpointRow:
        """The log's last line: the signed checkpoint of its head (the manifest's too)."""
        last = None
        with self._open_log() as lines:
            for line in lines:
                last = line
        record = json.loads(last) if last else None
        if not isinstance(record, dict) or record.get("type") != "checkpoint":
            raise BundleProblem(f"{names.AUDIT_LOG} does not end with a signed checkpoint")
        checkpoint = checkpoint_row(record, 0)
        if record != {"type": "checkpoint", **(audit.get("checkpoint") or {})}:
            raise BundleProblem(f"{names.AUDIT_LOG}: its checkpoint is not the manifest's")
        if checkpoint.key_id != key_id:
            raise BundleProblem(
                f"{names.AUDIT_LOG}: the checkpoint is signed by key {checkpoint.key_id}, "
                f"not by the bundle's key {key_id}"
            )
        return checkpoint

    @contextmanager
    def _open_log(self) -> Iterator[io.TextIOWrapper]:
        try:
            with self.archive.open(names.AUDIT_LOG) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8")
        except KeyError:
            raise BundleProblem(f"missing file: {names.AUDIT_LOG}") from None
        except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise BundleProblem(f"{names.AUDIT_LOG}: altered or damaged ({exc})") from exc

    # -- 6. exhibits ---------------------------------------------------------------------
    def _exhibits(self, manifest: dict[str, Any], ingested: dict[str, dict[str, Any]]) -> None:
        exhibits = manifest.get("exhibits") or []
        withheld = 0
        for exhibit in exhibits:
            event = ingested.get(str(exhibit.get("evidence_id")))
            number = exhibit.get("exhibit_number")
            if event is None:
                raise BundleProblem(f"exhibit {number}: no ingest event in the audit log")
            if event.get("withheld"):
                withheld += 1
                continue
            if event.get("sha256") != exhibit.get("sha256") or event.get("size") != exhibit.get(
                "size"
            ):
                raise BundleProblem(
                    f"exhibit {number}: SHA-256/size {exhibit.get('sha256')}/{exhibit.get('size')}"
                    f" differ from its ingest event's {event.get('sha256')}/{event.get('size')}"
                )
        included = sum(1 for e in exhibits if e.get("path"))
        self.report.facts.update(exhibits=len(exhibits), exhibit_files=included)
        if withheld:
            self.report.notes.append(
                f"{withheld} exhibit(s) whose ingest event is withheld: their SHA-256 is bound "
                "by the signed manifest only"
            )


def _key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]
