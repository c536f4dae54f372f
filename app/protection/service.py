"""Keeping the shown texts of rows right: when text is written, and when witnesses change.

Matching needs the identities in clear and a pass over each text, so it runs when text is
written, in that transaction, never on a read. A write holds its cases' audit chains (as an
append does) before it reads the cases' witnesses: a witness registered at the same moment
(which holds the chain too) is either seen by it or recomputes its texts after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.canonical import case_chain, protection_chain
from app.db import KEYRING_INFO_KEY
from app.models.case import Case
from app.models.protected_text import ProtectedTextColumns
from app.models.witness import Witness, WitnessCase
from app.protection.fields import TAGS, fields_of
from app.protection.matcher import Matcher
from app.protection.shown import RULES_VERSION, Shown, compute
from app.protection.terms import identity_terms
from app.witnesses.crypto import IdentityKeyring
from app.witnesses.identity import open_identity

_MATCHERS = "protection_matchers"
MATCH_ACTION = "text.protected_match"


@dataclass(frozen=True)
class CaseWitnesses:
    """The witnesses of some cases: their protected strings, and which case has which."""

    matcher: Matcher
    by_case: dict[uuid.UUID, frozenset[uuid.UUID]]


def keyring_of(session: Session) -> IdentityKeyring:
    keyring = session.info.get(KEYRING_INFO_KEY)
    if not isinstance(keyring, IdentityKeyring):
        raise RuntimeError("this session has no identity keyring: create_database(keyring=…)")
    return keyring


def witnesses_of(session: Session, case_ids: Iterable[uuid.UUID]) -> CaseWitnesses:
    """The protected strings of every witness linked to these cases (cached for the
    transaction; `forget_witnesses` after a witness changes)."""
    key = frozenset(case_ids)
    cache: dict[frozenset[uuid.UUID], CaseWitnesses] = session.info.setdefault(_MATCHERS, {})
    if key in cache:
        return cache[key]
    keyring = keyring_of(session)
    rows = session.execute(
        select(
            WitnessCase.case_id, Witness.id, Witness.identity_key_id, Witness.identity_ciphertext
        )
        .join(Witness, Witness.id == WitnessCase.witness_id)
        .where(WitnessCase.case_id.in_(key))
    ).all()
    terms: dict[uuid.UUID, Any] = {}
    by_case: dict[uuid.UUID, set[uuid.UUID]] = {c: set() for c in key}
    for case_id, witness_id, key_id, blob in rows:
        by_case[case_id].add(witness_id)
        if witness_id not in terms:
            terms[witness_id] = identity_terms(open_identity(keyring, witness_id, key_id, blob))
    found = CaseWitnesses(Matcher.of(terms), {c: frozenset(w) for c, w in by_case.items()})
    cache[key] = found
    return found


def forget_witnesses(session: Session) -> None:
    session.info.pop(_MATCHERS, None)


def lock_cases(session: Session, case_ids: Iterable[uuid.UUID]) -> None:
    """Hold the cases' audit chains (always in the same order, so that two writers never
    wait for each other crosswise) until the transaction ends."""
    for case_id in sorted(set(case_ids), key=str):
        audit.lock_chain(session, case_chain(case_id))


def protect(
    session: Session,
    row: ProtectedTextColumns,
    *,
    case_ids: list[uuid.UUID],
    author: uuid.UUID | None,
    changed: Iterable[str],
) -> None:
    """Before a row with text is flushed: note who wrote the `changed` fields, compute how its
    texts are shown, and record a protected-match event where a changed field names a
    witness. Call only when the row really changes (setting these columns is a change).

    Not flushed here (no autoflush either): the caller's own flush writes the row once, with
    one version bump, where it turns a concurrent change into 412."""
    with session.no_autoflush:
        lock_cases(session, case_ids)
        found = witnesses_of(session, case_ids)
    changed = list(changed)
    if author is not None and changed:
        row.text_authors = {**(row.text_authors or {}), **dict.fromkeys(changed, str(author))}
    shown = compute(row, found.matcher)
    apply(row, shown)
    if getattr(row, "id", None) is None:
        row.id = uuid.uuid4()  # type: ignore[attr-defined]  # every protected row has one
    naming = {f: w for f, w in shown.naming.items() if f in changed}
    if naming:
        with session.no_autoflush:
            record_match(session, row, found, naming, actor=author)


def text_values(row: ProtectedTextColumns) -> dict[str, Any]:
    """The row's text fields (and a case's tags) now: what `changed_texts` compares with."""
    values: dict[str, Any] = {f: getattr(row, f) for f in fields_of(row).texts}
    if isinstance(row, Case):
        values[TAGS] = sorted(t.tag for t in row.tags)
    return values


def changed_texts(row: ProtectedTextColumns, before: dict[str, Any]) -> list[str]:
    return [f for f, value in text_values(row).items() if before.get(f) != value]


def apply(row: ProtectedTextColumns, shown: Shown) -> None:
    row.withheld_texts = shown.withheld or None
    row.protected_with = RULES_VERSION
    if shown.search_shown is not None:
        row.search_shown = shown.search_shown  # type: ignore[attr-defined]
    if isinstance(row, Case):
        for tag in row.tags:
            tag.shown = shown.tags.get(tag.tag, tag.tag)


def record_match(
    session: Session,
    row: ProtectedTextColumns,
    found: CaseWitnesses,
    naming: dict[str, frozenset[uuid.UUID]],
    *,
    actor: uuid.UUID | None,
) -> None:
    """ "This visit note names a protected witness", in the protection chain of each case
    whose witnesses it names: ids and field names, never the matched strings."""
    for case_id, witnesses in sorted(found.by_case.items(), key=lambda item: str(item[0])):
        fields = sorted(f for f, named in naming.items() if named & witnesses)
        if not fields:
            continue
        named_here = set().union(*(naming[f] & witnesses for f in fields))
        audit.record(
            session,
            chain=protection_chain(case_id),
            action=MATCH_ACTION,
            resource_type=resource_type(row),
            resource_id=row.id,  # type: ignore[attr-defined]
            actor_id=actor,
            case_id=case_id,
            payload={"fields": fields, "witness_ids": sorted(str(w) for w in named_here)},
        )


def resource_type(row: ProtectedTextColumns) -> str:
    return resource_type_of(type(row))


def resource_type_of(model: type[ProtectedTextColumns]) -> str:
    return _RESOURCE_TYPES[model.__name__]


_RESOURCE_TYPES = {
    "Case": "case",
    "Testimony": "testimony",
    "SiteVisit": "site_visit",
    "EvidenceItem": "evidence",
}
