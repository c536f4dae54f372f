"""Audit events as a caller may read them: through witness protection, chain intact.

An event's payload is served exactly as stored, so that its hash can be recomputed; the texts
it refers to come beside it (`texts`), each as the caller may see it (app.protection.policy:
identifiers and the event's actor see it as written, with its salt; anyone else sees it with
protected strings withheld, and no salt). Events from before text references may hold texts
inline: for a caller who may not identify, their strings are shown withheld and the payload
is marked `payload_redacted` (its hash then cannot be recomputed from what was shown).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.audit import texts as audit_texts
from app.audit.schemas import AuditEventRead, AuditTextRead
from app.models.audit import AuditEvent
from app.protection.matcher import Matcher
from app.protection.policy import Reader
from app.protection.service import witnesses_of


class _Lazy:
    """The case's witnesses' strings, read only if some text needs them."""

    def __init__(self, session: Session, case_id: uuid.UUID | None) -> None:
        self.session, self.case_id = session, case_id
        self._matcher: Matcher | None = None

    def get(self) -> Matcher:
        if self._matcher is None:
            cases = [self.case_id] if self.case_id else []
            self._matcher = witnesses_of(self.session, cases).matcher if cases else Matcher()
        return self._matcher


def event_reads(
    session: Session, events: Sequence[AuditEvent], reader: Reader, case_id: uuid.UUID | None
) -> list[AuditEventRead]:
    """Events of one case's records, for `reader` (their protected strings: that case's)."""
    bodies = [json.loads(e.body) for e in events]
    refs = (
        set().union(*(audit_texts.refs_in(b.get("payload")) for b in bodies)) if bodies else set()
    )
    stored = audit_texts.load(session, refs)
    matcher = _Lazy(session, case_id)
    return [_read(e, b, stored, reader, matcher) for e, b in zip(events, bodies, strict=True)]


def _read(
    event: AuditEvent,
    body: dict[str, Any],
    stored: dict[str, tuple[str, str]],
    reader: Reader,
    matcher: _Lazy,
) -> AuditEventRead:
    payload: dict[str, Any] = body["payload"]
    clear = reader.identifies or body.get("actor_id") == str(reader.user_id)
    texts = {}
    for ref in audit_texts.refs_in(payload):
        if ref in stored:
            salt, text = stored[ref]
            texts[ref] = _text(salt, text, clear, matcher)
    redacted = False
    if not clear:
        shown = _withheld_inline(payload, matcher.get())
        redacted, payload = shown != payload, shown
    return AuditEventRead(
        chain=event.chain_id,
        seq=event.seq,
        prev_hash=event.prev_hash,
        hash=event.hash,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        at=body["at"],
        actor_id=body["actor_id"],
        action=body["action"],
        case_id=body["case_id"],
        request_id=body["request_id"],
        client_address=body["client_address"],
        payload=payload,
        payload_redacted=redacted,
        texts=texts,
    )


def _text(salt: str, text: str, clear: bool, matcher: _Lazy) -> AuditTextRead:
    if clear:
        return AuditTextRead(text=text, salt=salt, withheld=False)
    shown = matcher.get().redact(text) or text
    if shown == text:
        return AuditTextRead(text=text, salt=salt, withheld=False)
    return AuditTextRead(text=shown, salt=None, withheld=True)


def _withheld_inline(value: Any, matcher: Matcher) -> Any:
    """Every string of a payload with protected strings withheld (references left alone)."""
    if isinstance(value, str):
        return matcher.redact(value)
    if audit_texts.ref_of(value) is not None:
        return value
    if isinstance(value, dict):
        return {k: _withheld_inline(v, matcher) for k, v in value.items()}
    if isinstance(value, list):
        return [_withheld_inline(v, matcher) for v in value]
    return value
