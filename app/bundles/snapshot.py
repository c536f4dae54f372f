"""What goes into a bundle, read in one transaction that also records the export.

The case's chain is held (as an append would hold it) while the case is read, then the export
event is appended and the head signed, and all of it commits together: the bundle shows the
case exactly as its audit log up to and including its own export event describes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.canonical import case_chain
from app.auth.dependencies import CaseAccess
from app.bundles import redaction
from app.bundles.format import EXPORT_ACTION
from app.bundles.protected import record_protected_texts
from app.cases import repository as cases_repository
from app.cases.service import case_read
from app.db import utcnow
from app.evidence import service as evidence_service
from app.evidence.schemas import EvidenceRead
from app.models.audit import AuditEvent
from app.models.case import CaseMember
from app.models.evidence import EvidenceItem
from app.models.protected_text import ProtectedTextColumns
from app.models.site_visit import SiteVisitCase
from app.models.testimony import Testimony
from app.models.user import User
from app.models.witness import Witness, WitnessCase
from app.protection.policy import Reader, reader_of
from app.protection.terms import Term, identity_terms
from app.site_visits import service as visits_service
from app.site_visits.schemas import SiteVisitRead
from app.testimonies import service as testimonies_service
from app.testimonies.schemas import TestimonyRead
from app.witnesses.crypto import IdentityKeyring
from app.witnesses.identity import read_identity

_EVENT_BATCH = 2000


@dataclass(frozen=True)
class WitnessEntry:
    id: uuid.UUID
    pseudonym: str
    consent: dict[str, Any]
    risk_level: str
    identity: dict[str, Any] | None  # only the fields a bundle may show, only where allowed
    withheld_because: str | None
    terms: frozenset[Term]  # its protected strings (app.protection.terms)


@dataclass(frozen=True)
class Requester:
    user_id: uuid.UUID
    name: str
    global_role: str
    case_role: str | None
    may_identify_witnesses: bool


@dataclass(frozen=True)
class AuditHead:
    chain: str
    length: int
    head_hash: str
    export_seq: int
    checkpoint: dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    bundle_id: uuid.UUID
    generated_at: datetime
    include_withdrawn: bool
    requester: Requester
    case: dict[str, Any]
    exhibit_prefix: str
    evidence: list[EvidenceRead]  # by exhibit number
    objects: dict[uuid.UUID, tuple[str, str | None]]  # evidence id -> (object key, version)
    testimonies: list[TestimonyRead]  # by recorded_at
    visits: list[SiteVisitRead]  # by visited_at
    witnesses: list[WitnessEntry]  # by pseudonym
    staff: dict[str, str | None]  # user id -> name, where the requester may see names
    audit: AuditHead


def take(
    session: Session,
    *,
    access: CaseAccess,
    keyring: IdentityKeyring,
    include_withdrawn: bool,
) -> Snapshot:
    """Read the case under its chain's lock, record the export, sign the head. The caller
    commits; nothing of the bundle is sent before that."""
    case = access.case
    chain = case_chain(case.id)
    audit.lock_chain(session, chain)
    bundle_id = uuid.uuid4()
    reader = reader_of(access)
    witnesses = _witnesses(session, case.id, keyring, access.can_identify_witnesses)
    items = list(
        session.scalars(
            select(EvidenceItem)
            .where(EvidenceItem.case_id == case.id)
            .order_by(EvidenceItem.exhibit_seq)
        )
    )
    evidence = [evidence_service.read(item, reader) for item in items]
    objects = {item.id: (item.object_key, item.object_version) for item in items}
    testimony_rows = list(
        session.scalars(
            select(Testimony)
            .where(Testimony.case_id == case.id)
            .order_by(Testimony.recorded_at, Testimony.id)
        )
    )
    testimonies = testimonies_service.reads(session, testimony_rows, reader)
    visit_ids = session.scalars(
        select(SiteVisitCase.site_visit_id).where(SiteVisitCase.case_id == case.id)
    )
    visit_accesses = [visits_service.visit_access(session, access.principal, v) for v in visit_ids]
    visits = sorted(
        (visits_service.read(v) for v in visit_accesses),
        key=lambda visit: (visit.visited_at, str(visit.id)),
    )
    counts = cases_repository.case_counts(session, [case.id])[case.id]
    requester = Requester(
        user_id=access.principal.user_id,
        name=access.principal.name,
        global_role=access.principal.role.value,
        case_role=access.role.value if access.role else None,
        may_identify_witnesses=access.can_identify_witnesses,
    )
    identified = [w for w in witnesses if w.identity is not None]
    head = audit.record(
        session,
        chain=chain,
        action=EXPORT_ACTION,
        resource_type="bundle",
        resource_id=bundle_id,
        actor_id=access.principal.user_id,
        case_id=case.id,
        payload={
            "bundle_id": str(bundle_id),
            "include_withdrawn": include_withdrawn,
            "redaction_policy": redaction.POLICY_ID,
            "requester_case_role": requester.case_role,
            "evidence_items": len(evidence),
            "evidence_files": sum(1 for e in evidence if include_withdrawn or not e.withdrawn),
            "identified_witness_ids": sorted(str(w.id) for w in identified),
        },
    )
    rows: list[tuple[ProtectedTextColumns, Reader]] = [(case, reader)]
    rows += [(item, reader) for item in items]
    rows += [(testimony, reader) for testimony in testimony_rows]
    rows += [(v.visit, v.reader) for v in visit_accesses]
    record_protected_texts(
        session, bundle_id=bundle_id, requester=reader, case_id=case.id, rows=rows
    )
    audit.checkpoint(session, chain)
    checkpoint = audit.latest_checkpoint(session, chain)
    if checkpoint is None or checkpoint.length != head.length:
        raise RuntimeError("the export event's checkpoint was not written")
    return Snapshot(
        bundle_id=bundle_id,
        generated_at=utcnow(),
        include_withdrawn=include_withdrawn,
        requester=requester,
        case=case_read(case, counts, reader=reader).model_dump(mode="json"),
        exhibit_prefix=evidence_service.exhibit_prefix(case),
        evidence=evidence,
        objects=objects,
        testimonies=testimonies,
        visits=visits,
        witnesses=witnesses,
        staff=_staff(session, access, evidence, testimonies, visits),
        audit=AuditHead(
            chain=chain,
            length=head.length,
            head_hash=head.head_hash,
            export_seq=head.length,
            checkpoint={
                "chain": checkpoint.chain_id,
                "length": checkpoint.length,
                "head_hash": checkpoint.head_hash,
                "signed_at": checkpoint.signed_at,
                "key_id": checkpoint.key_id,
                "signature": checkpoint.signature,
            },
        ),
    )


def _witnesses(
    session: Session, case_id: uuid.UUID, keyring: IdentityKeyring, may_identify: bool
) -> list[WitnessEntry]:
    rows = session.scalars(
        select(Witness)
        .join(WitnessCase, WitnessCase.witness_id == Witness.id)
        .where(WitnessCase.case_id == case_id)
        .order_by(Witness.pseudonym)
    )
    entries = []
    for witness in rows:
        identity = read_identity(witness, keyring)
        reason = redaction.identity_reason(
            requester_may_identify=may_identify,
            consented=witness.consent_share_identity_with_courts,
        )
        entries.append(
            WitnessEntry(
                id=witness.id,
                pseudonym=witness.pseudonym,
                consent={
                    "named_publicly": witness.consent_named_publicly,
                    "share_identity_with_courts": witness.consent_share_identity_with_courts,
                    "use_testimony_in_reports": witness.consent_use_testimony_in_reports,
                    "obtained_at": witness.consent_obtained_at.isoformat()
                    if witness.consent_obtained_at
                    else None,
                    "method": witness.consent_method,
                },
                risk_level=witness.risk_level,
                identity=None
                if reason
                else {f: identity.get(f) for f in redaction.SHOWN_IDENTITY_FIELDS},
                withheld_because=reason,
                terms=frozenset(identity_terms(identity)),
            )
        )
    return entries


def _staff(
    session: Session,
    access: CaseAccess,
    evidence: list[EvidenceRead],
    testimonies: list[TestimonyRead],
    visits: list[SiteVisitRead],
) -> dict[str, str | None]:
    """Staff named as the requester may see them in the API: everyone for admins, current
    members of the case for others; anyone else by user id only."""
    ids: set[uuid.UUID] = {access.case.created_by_id}
    for item in evidence:
        ids.add(item.uploaded_by)
        if item.withdrawn:
            ids.add(item.withdrawn.by)
    for testimony in testimonies:
        ids.add(testimony.created_by)
        if testimony.interviewer_id:
            ids.add(testimony.interviewer_id)
    for visit in visits:
        ids.add(visit.created_by)
        ids.update(visit.team)
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    if access.principal.is_admin:
        visible = set(ids)
    else:
        visible = set(
            session.scalars(
                select(CaseMember.user_id).where(
                    CaseMember.case_id == access.case.id, CaseMember.user_id.in_(ids)
                )
            )
        )
    return {str(i): (names.get(i) if i in visible else None) for i in sorted(ids, key=str)}


def chain_events(session: Session, chain: str, up_to: int) -> Iterator[AuditEvent]:
    """The chain's events 1..up_to, in order, in batches (a big case has many)."""
    after = 0
    while after < up_to:
        batch = list(
            session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.chain_id == chain, AuditEvent.seq > after, AuditEvent.seq <= up_to
                )
                .order_by(AuditEvent.seq)
                .limit(_EVENT_BATCH)
            )
        )
        if not batch:
            return
        yield from batch
        after = batch[-1].seq
        session.expunge_all()
