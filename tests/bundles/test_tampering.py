"""Tampering with a bundle after it left the server: each change is caught, and named.

Most changes are made as a forger would make them: unpack, edit, zip again (so the ZIP's own
CRCs are fresh and only our hashes and signatures can tell)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit.signing import key_id_for, public_pem_of
from tests.bundles.support import Bundle, Dossier, verify_cli

Entries = dict[str, bytes]

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _photo(entries: Entries) -> str:
    return next(n for n in entries if n.startswith("evidence/MRT-0001"))


def _testimony(entries: Entries) -> str:
    return next(n for n in entries if n.startswith("testimonies/") and n.endswith(".json"))


def _flip(data: bytes, at: int | None = None) -> bytes:
    index = len(data) // 2 if at is None else at
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _change_evidence(e: Entries) -> None:
    e[_photo(e)] = _flip(e[_photo(e)])


def _change_manifest(e: Entries) -> None:
    e["manifest.json"] = e["manifest.json"].replace(b"Smerch 300mm", b"Smerch 301mm")


def _change_testimony(e: Entries) -> None:
    e[_testimony(e)] = e[_testimony(e)].replace(b"statement", b"statemenT", 1)


def _change_event_log(e: Entries) -> None:
    log = "audit/case-events.jsonl"
    e[log] = e[log].replace(b"case.created", b"case.createD", 1)


def _remove_file(e: Entries) -> None:
    del e[_testimony(e)]


def _add_file(e: Entries) -> None:
    e["evidence/MRT-0099_planted.jpg"] = b"\xff\xd8 planted"


def _change_checksums(e: Entries) -> None:
    e["SHA256SUMS"] = e["SHA256SUMS"].replace(b"  index.html", b"  exhibits.csv", 1)


def _climb_out(e: Entries) -> None:
    e["../../outside.txt"] = b"zip slip"


CASES: dict[str, tuple[Callable[[Entries], None], str]] = {
    "one byte of an evidence file": (
        _change_evidence,
        r"evidence/MRT-0001_courtyard\.jpg: SHA-256",
    ),
    "one byte of the manifest": (_change_manifest, r"manifest\.json\.sig does not verify"),
    "one byte of a testimony": (
        _change_testimony,
        r"testimonies/T-\d{4}_W-\d{4}_.*\.json: SHA-256",
    ),
    "one byte of the event log": (_change_event_log, r"audit/case-events\.jsonl: SHA-256"),
    "a file removed": (_remove_file, r"missing file: testimonies/"),
    "a file added": (_add_file, r"unexpected file not in the manifest: evidence/MRT-0099"),
    "SHA256SUMS edited": (_change_checksums, r"SHA256SUMS: exhibits\.csv does not match"),
    "an entry climbing out": (_climb_out, r"unsafe entry name in the ZIP: '\.\./\.\./outside"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_change_is_detected_and_named(dossier: Dossier, tmp_path: Path, case: str) -> None:
    change, named = CASES[case]
    bundle = dossier.export(dossier.lead)
    assert bundle.verify(tmp_path).ok
    report = bundle.rewritten(change).verify(tmp_path)
    assert not report.ok
    assert _matches(named, report.problems[0])


def test_one_byte_changed_in_place_inside_the_zip(dossier: Dossier, tmp_path: Path) -> None:
    """A byte flipped in the archive itself (a damaged copy): the ZIP's CRC names the file."""
    bundle = dossier.export(dossier.lead)
    document = dossier.downloads["document"]
    at = bundle.data.index(document) + 5
    report = Bundle(_flip(bundle.data, at)).verify(tmp_path)
    assert not report.ok
    assert _matches(r"evidence/MRT-0002_notes\.txt: altered or damaged", report.problems[0])


def test_a_new_key_and_a_new_signature_are_caught(dossier: Dossier, tmp_path: Path) -> None:
    """The forger swaps in their own key and re-signs the manifest: the audit checkpoint was
    signed by the server's key, and a pinned key names the forgery outright."""
    bundle = dossier.export(dossier.lead)
    original = bundle.read("public-key.pem")
    forger = Ed25519PrivateKey.generate()
    forged = bundle.rewritten(lambda e: _resign(e, forger, change=_change_manifest))
    report = forged.verify(tmp_path)
    assert not report.ok
    assert _matches(
        r"the checkpoint is signed by key ed25519:\w+, not by the bundle's key", report.problems[0]
    )
    pinned = _pin(original)
    report = forged.verify(tmp_path, pinned)
    assert _matches(
        r"signed by key ed25519:\w+, not the expected key \(ed25519:", report.problems[0]
    )
    assert bundle.verify(tmp_path, pinned).ok


def test_only_a_pinned_key_exposes_a_complete_forgery(dossier: Dossier, tmp_path: Path) -> None:
    """Re-signing everything (manifest and audit checkpoint) with a key of one's own makes a
    self-consistent bundle: which is why courts should pin the organisation's key."""
    bundle = dossier.export(dossier.lead)
    original = bundle.read("public-key.pem")
    forger = Ed25519PrivateKey.generate()
    forged = bundle.rewritten(
        lambda e: _resign(e, forger, change=_change_manifest, checkpoint=True)
    )
    assert forged.verify(tmp_path).ok
    report = forged.verify(tmp_path, _pin(original))
    assert _matches(r"not the expected key", report.problems[0])


def test_a_malformed_manifest_signed_by_its_maker_is_named_not_a_crash(
    dossier: Dossier, tmp_path: Path
) -> None:
    def garble(entries: Entries) -> None:
        manifest = json.loads(entries["manifest.json"])
        manifest["files"] = [1, "two"]
        entries["manifest.json"] = json.dumps(manifest).encode()

    forger = Ed25519PrivateKey.generate()
    forged = dossier.export(dossier.lead).rewritten(lambda e: _resign_only(e, forger, garble))
    report = forged.verify(tmp_path)
    assert _matches(r"manifest\.json is malformed \(AttributeError", report.problems[0])


def test_the_command_exits_non_zero_naming_the_problem(dossier: Dossier, tmp_path: Path) -> None:
    forged = dossier.export(dossier.lead).rewritten(_change_testimony)
    path = forged.save(tmp_path / "forged.zip")
    result = verify_cli(path, cwd=tmp_path)
    assert result.returncode == 1
    assert "FAILED: testimonies/" in result.stdout  # the verdict, on stdout (issue 15)
    assert "SHA-256" in result.stdout
    assert result.stderr == ""
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip at all")
    result = verify_cli(garbage, "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["first_problem"].startswith("garbage.zip: not a readable ZIP")


# -- forging ------------------------------------------------------------------------------------
def _resign(
    entries: Entries,
    key: Ed25519PrivateKey,
    *,
    change: Callable[[Entries], None],
    checkpoint: bool = False,
) -> None:
    change(entries)
    public = key.public_key()
    key_id = key_id_for(public)
    entries["public-key.pem"] = public_pem_of(public).encode()
    manifest = json.loads(entries["manifest.json"])
    manifest["signature"]["key_id"] = key_id
    if checkpoint:
        _resign_checkpoint(entries, manifest, key, key_id)
    for item in manifest["files"]:
        item["sha256"] = hashlib.sha256(entries[item["path"]]).hexdigest()
        item["size"] = len(entries[item["path"]])
    entries["manifest.json"] = json.dumps(manifest, indent=2).encode()
    entries["manifest.json.sig"] = key.sign(entries["manifest.json"])
    entries["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in entries.items()
        if name != "SHA256SUMS"
    ).encode()


def _resign_only(
    entries: Entries, key: Ed25519PrivateKey, change: Callable[[Entries], None]
) -> None:
    public = key.public_key()
    manifest = json.loads(entries["manifest.json"])
    manifest["signature"]["key_id"] = key_id_for(public)
    entries["manifest.json"] = json.dumps(manifest).encode()
    change(entries)
    entries["public-key.pem"] = public_pem_of(public).encode()
    entries["manifest.json.sig"] = key.sign(entries["manifest.json"])


def _resign_checkpoint(
    entries: Entries, manifest: dict[str, object], key: Ed25519PrivateKey, key_id: str
) -> None:
    lines = entries["audit/case-events.jsonl"].decode().splitlines()
    checkpoint = json.loads(lines[-1])
    checkpoint["key_id"] = key_id
    message = rfc8785.dumps(
        {
            "context": "casefile-audit-checkpoint-v1",
            **{k: checkpoint[k] for k in ("chain", "length", "head_hash", "signed_at", "key_id")},
        }
    )
    checkpoint["signature"] = base64.b64encode(key.sign(message)).decode()
    lines[-1] = json.dumps(checkpoint)
    entries["audit/case-events.jsonl"] = ("\n".join(lines) + "\n").encode()
    audit = manifest["audit"]
    assert isinstance(audit, dict)
    audit["checkpoint"] = {k: v for k, v in checkpoint.items() if k != "type"}


def _pin(pem: bytes) -> dict[str, str]:
    public = serialization.load_pem_public_key(pem)
    return {key_id_for(public): public_pem_of(public)}  # type: ignore[arg-type]


def _matches(pattern: str, text: str) -> bool:
    assert re.search(pattern, text), text
    return True
