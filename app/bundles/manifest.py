"""manifest.json: what the bundle is and holds, the one document the server signs.

Pure. The manifest binds every other file of the bundle by SHA-256 and size (all but itself,
its signature and SHA256SUMS, which is made from it), the audit chain's head and its signed
checkpoint, and states the redaction policy applied and who asked for the bundle. It is
signed with Ed25519 over its exact bytes: `manifest.json.sig` holds the raw 64-byte
signature, so `openssl pkeyutl -verify -rawin` checks it with no code of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import __version__
from app.bundles import redaction
from app.bundles.format import AUDIT_LOG, AUDIT_TEXTS, FORMAT, MANIFEST, PUBLIC_KEY, SIGNATURE
from app.bundles.snapshot import Snapshot


@dataclass(frozen=True)
class FileEntry:
    path: str
    sha256: str
    size: int


def document(
    snapshot: Snapshot,
    *,
    key_id: str,
    exhibits: list[dict[str, Any]],
    testimonies: list[dict[str, Any]],
    visits: list[dict[str, Any]],
    files: list[FileEntry],
    withheld_events: list[int],
    text_redactions: int,
) -> dict[str, Any]:
    requester = snapshot.requester
    return {
        "format": FORMAT,
        "bundle_id": str(snapshot.bundle_id),
        "generated_at": snapshot.generated_at.isoformat(),
        "generator": {"name": "casefile", "version": __version__},
        "requester": {
            "user_id": str(requester.user_id),
            "name": requester.name,
            "global_role": requester.global_role,
            "case_role": requester.case_role,
            "may_identify_witnesses": requester.may_identify_witnesses,
        },
        "signature": {
            "algorithm": "ed25519",
            "key_id": key_id,
            "public_key_file": PUBLIC_KEY,
            "signature_file": SIGNATURE,
            "signed_bytes": f"the exact bytes of {MANIFEST}",
        },
        "redaction": {
            "policy": redaction.POLICY_ID,
            "rule": redaction.RULE,
            "identity_fields_shown": list(redaction.SHOWN_IDENTITY_FIELDS),
            "witnesses_identified": [w.pseudonym for w in snapshot.witnesses if w.identity],
            "witnesses_pseudonymised": [
                {"pseudonym": w.pseudonym, "because": w.withheld_because}
                for w in snapshot.witnesses
                if not w.identity
            ],
            "text_replacements": text_redactions,
            "audit_event_bodies_withheld": withheld_events,
            "withdrawn_evidence": "listed with their files"
            if snapshot.include_withdrawn
            else "listed; their files left out",
            "staff": "named where the requester may see names (current case members; everyone "
            "for admins), otherwise by user id",
        },
        "case": snapshot.case,
        "audit": {
            "chain": snapshot.audit.chain,
            "length": snapshot.audit.length,
            "head_hash": snapshot.audit.head_hash,
            "export_event_seq": snapshot.audit.export_seq,
            "checkpoint": snapshot.audit.checkpoint,
            "log_file": AUDIT_LOG,
            "texts_file": AUDIT_TEXTS,
        },
        "exhibits": exhibits,
        "witnesses": [
            {
                "id": str(w.id),
                "pseudonym": w.pseudonym,
                "identity": w.identity,
                "identity_withheld_because": w.withheld_because,
                "consent": w.consent,
                "risk_level": w.risk_level,
            }
            for w in snapshot.witnesses
        ],
        "testimonies": testimonies,
        "site_visits": visits,
        "staff": [{"user_id": k, "name": v} for k, v in snapshot.staff.items()],
        "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files],
    }
