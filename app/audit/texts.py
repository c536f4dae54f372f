"""Free texts in audit events: referred to, never held (docs/witness-protection.md).

An event is hash-chained and can never change, and members who may not identify witnesses
read it. So a text that a person or a file wrote (a file name, a title, a statement, a
reason, the before and after of a change) goes into an event as `{"$text": ref}`, and the
text itself into `audit_texts`, where readers get it through witness protection. `ref` is the
SHA-256 of a random salt followed by the text's UTF-8: the event's hash binds the text, and
the salt, given only with a text shown as written, keeps a reader of the event alone from
testing guesses against it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models.audit import AuditText

TEXT_KEY = "$text"
SALT_BYTES = 16
_REF = re.compile(r"[0-9a-f]{64}")


def reference(salt: bytes, text: str) -> str:
    return hashlib.sha256(salt + text.encode()).hexdigest()


def text_ref(session: Session, text: str | None) -> dict[str, str] | None:
    """Keep `text` and give what an event holds in its place (None stays None)."""
    if text is None:
        return None
    salt = secrets.token_bytes(SALT_BYTES)
    ref = reference(salt, text)
    session.execute(insert(AuditText).values(ref=ref, salt=salt.hex(), text=text))
    return {TEXT_KEY: ref}


def snapshot_refs(
    session: Session, snapshot: Mapping[str, Any], texts: Iterable[str]
) -> dict[str, Any]:
    """A snapshot (nested JSON) with the values at the dotted paths `texts` (strings, or
    lists of strings such as tags) replaced by references."""
    wanted = frozenset(texts)

    def walk(value: Any, path: str) -> Any:
        if path in wanted:
            return _referred(session, value)
        if isinstance(value, Mapping):
            return {k: walk(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        return value

    result: dict[str, Any] = walk(snapshot, "")
    return result


def change_refs(
    session: Session, changes: Mapping[str, Any], texts: Iterable[str]
) -> dict[str, Any]:
    """`audit.changes` output ({"a.b": {"from": x, "to": y}}) with the texts referred to."""
    wanted = frozenset(texts)
    return {
        key: {side: _referred(session, value) for side, value in change.items()}
        if key in wanted
        else change
        for key, change in changes.items()
    }


def _referred(session: Session, value: Any) -> Any:
    if isinstance(value, str):
        return text_ref(session, value)
    if isinstance(value, list):
        return [text_ref(session, v) if isinstance(v, str) else v for v in value]
    return value


def ref_of(value: Any) -> str | None:
    """The ref if `value` is a text reference."""
    if isinstance(value, Mapping) and len(value) == 1:
        ref = value.get(TEXT_KEY)
        if isinstance(ref, str) and _REF.fullmatch(ref):
            return ref
    return None


def refs_in(value: Any) -> set[str]:
    found: set[str] = set()
    if (ref := ref_of(value)) is not None:
        found.add(ref)
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= refs_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= refs_in(item)
    return found


def load(session: Session, refs: Iterable[str]) -> dict[str, tuple[str, str]]:
    """ref -> (salt in hex, text), for the refs that exist."""
    wanted = sorted(set(refs))
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(AuditText.ref, AuditText.salt, AuditText.text).where(
                AuditText.ref.in_(wanted[start : start + 500])
            )
        )
        found.update({ref: (salt, text) for ref, salt, text in rows})
    return found
