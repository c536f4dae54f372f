"""Witnesses: registration and linking, reading with the identity only where allowed, changes.

Who may see a witness's identity is decided here, once: admins, and members holding
`can_identify_witnesses` on any case the witness is linked to. `witness_view` is the one place
that turns that decision into a response; every identity shown is an audited event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit import service as audit
from app.audit.canonical import case_chain
from app.auth.dependencies import CaseAccess, Principal
from app.auth.permissions import CasePermission, case_role_allows
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from app.kit.counters import increment_counter
from app.kit.etag import etag_for, require_match
from app.kit.pagination import PageParams, Position, decode_cursor, encode_cursor
from app.kit.problems import invalid_field, validation_problem
from app.models.case import CaseMember, CaseRole
from app.models.witness import RiskLevel, Witness, WitnessCase
from app.protection.refresh import refresh_cases
from app.witnesses.crypto import IdentityKeyring
from app.witnesses.identity import identity_context, read_identity
from app.witnesses.schemas import (
    IDENTITY_FIELDS,
    Consent,
    ConsentRead,
    IdentifiedWitnessRead,
    WitnessIdentity,
    WitnessPatch,
    WitnessRead,
    WitnessRegister,
    WitnessView,
)

PSEUDONYM_COUNTER = "witness_pseudonym"


class WitnessNotFound(NotFound):
    slug, title = "witness-not-found", "Witness not found"


class WitnessAlreadyLinked(Conflict):
    slug, title = "witness-already-linked", "Witness already linked to this case"


@dataclass(frozen=True)
class WitnessAccess:
    """A witness the caller may read, and their standing on it."""

    witness: Witness
    principal: Principal
    linked_case_ids: list[uuid.UUID]  # in link order
    memberships: dict[uuid.UUID, CaseMember]  # the caller's, on those cases

    @property
    def visible_case_ids(self) -> list[uuid.UUID]:
        if self.principal.is_admin:
            return self.linked_case_ids
        return [c for c in self.linked_case_ids if c in self.memberships]

    @property
    def identifying_case_id(self) -> uuid.UUID | None:
        """The case through which the caller may see the identity (None: they may not)."""
        if self.principal.is_admin:
            return self.linked_case_ids[0] if self.linked_case_ids else None
        return next(
            (
                c
                for c in self.linked_case_ids
                if c in self.memberships and self.memberships[c].can_identify_witnesses
            ),
            None,
        )

    @property
    def editing_case_id(self) -> uuid.UUID | None:
        """The case through which the caller may change the witness (None: they may not)."""
        return next(
            (
                c
                for c in self.linked_case_ids
                if case_role_allows(
                    self._role(c), CasePermission.EDIT, admin=self.principal.is_admin
                )
            ),
            None,
        )

    def _role(self, case_id: uuid.UUID) -> CaseRole | None:
        member = self.memberships.get(case_id)
        return CaseRole(member.role) if member else None


# -- reading ----------------------------------------------------------------------------------
def witness_access(session: Session, principal: Principal, witness_id: uuid.UUID) -> WitnessAccess:
    """Load a witness the caller may read, or 404 (its existence is not revealed)."""
    accesses = _accesses(session, principal, [witness_id])
    access = accesses.get(witness_id)
    if access is None or not access.visible_case_ids:
        raise WitnessNotFound()
    return access


def _accesses(
    session: Session, principal: Principal, witness_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, WitnessAccess]:
    ids = list(witness_ids)
    if not ids:
        return {}
    witnesses = {w.id: w for w in session.scalars(select(Witness).where(Witness.id.in_(ids)))}
    links: dict[uuid.UUID, list[uuid.UUID]] = {w: [] for w in witnesses}
    for link in session.scalars(
        select(WitnessCase)
        .where(WitnessCase.witness_id.in_(ids))
        .order_by(WitnessCase.linked_at, WitnessCase.case_id)
    ):
        links[link.witness_id].append(link.case_id)
    all_cases = {c for cases in links.values() for c in cases}
    memberships = {
        m.case_id: m
        for m in session.scalars(
            select(CaseMember).where(
                CaseMember.user_id == principal.user_id, CaseMember.case_id.in_(all_cases)
            )
        )
    }
    return {
        wid: WitnessAccess(
            witness=witness,
            principal=principal,
            linked_case_ids=links[wid],
            memberships={c: memberships[c] for c in links[wid] if c in memberships},
        )
        for wid, witness in witnesses.items()
    }


def list_for_case(
    session: Session, *, access: CaseAccess, page: PageParams
) -> tuple[list[WitnessAccess], str | None]:
    listing = f"witnesses:{access.case.id}"
    query = (
        select(WitnessCase)
        .where(WitnessCase.case_id == access.case.id)
        .order_by(WitnessCase.linked_at.desc(), WitnessCase.witness_id.desc())
        .limit(page.limit + 1)
    )
    if page.cursor:
        position = decode_cursor(listing, page.cursor)
        query = query.where(
            (WitnessCase.linked_at < position.created_at)
            | (
                (WitnessCase.linked_at == position.created_at)
                & (WitnessCase.witness_id < position.id)
            )
        )
    links = list(session.scalars(query))
    cursor = None
    if len(links) > page.limit:
        last = links[page.limit - 1]
        cursor = encode_cursor(listing, Position(created_at=last.linked_at, id=last.witness_id))
    shown = links[: page.limit]
    accesses = _accesses(session, access.principal, [link.witness_id for link in shown])
    return [accesses[link.witness_id] for link in shown], cursor


def witness_view(
    session: Session,
    access: WitnessAccess,
    keyring: IdentityKeyring,
    *,
    record_view: bool = True,
) -> WitnessView:
    """The one place deciding what a caller sees of a witness. Showing an identity is
    audited: here for a single witness, or (record_view=False) by the caller for a list."""
    base = WitnessRead(
        id=access.witness.id,
        pseudonym=access.witness.pseudonym,
        consent=_consent(access.witness),
        risk_level=RiskLevel(access.witness.risk_level),
        case_ids=access.visible_case_ids,
        created_at=access.witness.created_at,
        updated_at=access.witness.updated_at,
        version=access.witness.version,
    )
    case_id = access.identifying_case_id
    if case_id is None:
        return base
    identity = WitnessIdentity.model_validate(read_identity(access.witness, keyring))
    if record_view:
        record_identity_views(session, access.principal, case_id, [access.witness.id])
    return IdentifiedWitnessRead(**base.model_dump(), identity=identity)


def record_identity_views(
    session: Session, principal: Principal, case_id: uuid.UUID, witness_ids: list[uuid.UUID]
) -> None:
    if not witness_ids:
        return
    audit.record(
        session,
        chain=case_chain(case_id),
        action="witness.identity_viewed",
        resource_type="witness" if len(witness_ids) == 1 else "case",
        resource_id=witness_ids[0] if len(witness_ids) == 1 else case_id,
        actor_id=principal.user_id,
        case_id=case_id,
        payload={"witness_ids": sorted(str(w) for w in witness_ids)},
    )


def _consent(witness: Witness) -> ConsentRead:
    return ConsentRead(
        named_publicly=witness.consent_named_publicly,
        share_identity_with_courts=witness.consent_share_identity_with_courts,
        use_testimony_in_reports=witness.consent_use_testimony_in_reports,
        obtained_at=witness.consent_obtained_at,
        method=witness.consent_method,  # type: ignore[arg-type]
    )


# -- writing ----------------------------------------------------------------------------------
def register(
    session: Session, *, access: CaseAccess, data: WitnessRegister, keyring: IdentityKeyring
) -> WitnessAccess:
    """A new witness in this case, with the next pseudonym; the identity is sealed at once."""
    witness = Witness(
        id=uuid.uuid4(),
        pseudonym=_next_pseudonym(session),
        created_by_id=access.principal.user_id,
        risk_level=(data.risk_level or RiskLevel.MEDIUM).value,
    )
    identity = {field: _plain(getattr(data, field)) for field in IDENTITY_FIELDS}
    _seal(witness, identity, keyring)
    _apply_consent(witness, data.consent or Consent())
    session.add(witness)
    session.flush()
    _link(session, witness.id, access)
    # Texts written before may name the new witness: from now on they are shown withheld.
    refresh_cases(session, [access.case.id], actor=access.principal.user_id)
    audit.record(
        session,
        chain=case_chain(access.case.id),
        action="witness.registered",
        resource_type="witness",
        resource_id=witness.id,
        actor_id=access.principal.user_id,
        case_id=access.case.id,
        # Which identity fields were given, never their values.
        payload={
            "pseudonym": witness.pseudonym,
            "identity_fields": sorted(f for f in IDENTITY_FIELDS if identity[f] is not None),
            "consent": _consent(witness).model_dump(mode="json"),
            "risk_level": witness.risk_level,
        },
    )
    return witness_access(session, access.principal, witness.id)


def link(session: Session, *, access: CaseAccess, witness_id: uuid.UUID) -> WitnessAccess:
    """Link an existing witness to this case. Only someone allowed to identify the witness
    may do so: linking lets this case's identifying members see the identity too."""
    existing = witness_access(session, access.principal, witness_id)
    if existing.identifying_case_id is None:
        raise WitnessNotFound()
    if access.case.id in existing.linked_case_ids:
        raise WitnessAlreadyLinked(f"{existing.witness.pseudonym} is already linked to this case.")
    _link(session, witness_id, access)
    refresh_cases(session, [access.case.id], actor=access.principal.user_id)
    audit.record(
        session,
        chain=case_chain(access.case.id),
        action="witness.linked",
        resource_type="witness",
        resource_id=witness_id,
        actor_id=access.principal.user_id,
        case_id=access.case.id,
        payload={"pseudonym": existing.witness.pseudonym},
    )
    return witness_access(session, access.principal, witness_id)


def update_witness(
    session: Session,
    *,
    access: WitnessAccess,
    patch: WitnessPatch,
    if_match: str | None,
    keyring: IdentityKeyring,
) -> WitnessAccess:
    acting_case = access.editing_case_id
    if acting_case is None:
        raise Forbidden("Your role on this witness's cases does not allow changing it.")
    witness = access.witness
    require_match(if_match, etag_for(witness.version))
    sent = patch.model_dump(exclude_unset=True)
    identity_sent = [f for f in IDENTITY_FIELDS if f in sent]
    if identity_sent and access.identifying_case_id is None:
        raise Forbidden("Only members allowed to identify witnesses may change an identity.")
    before = _public_facts(witness)
    identity_changed: list[str] = []
    if identity_sent:
        identity = read_identity(witness, keyring)
        for field in identity_sent:
            value = _plain(getattr(patch, field))
            if identity.get(field) != value:
                identity[field] = value
                identity_changed.append(field)
        if identity.get("full_name") is None:
            raise invalid_field("full_name", "a witness keeps a name")
        if identity_changed:
            _seal(witness, identity, keyring)
    if "consent" in sent:
        # Merge patch (RFC 7396): null removes the record, leaving consent to nothing, as a
        # newly registered witness has; the change is audited like any other.
        merged: dict[str, Any] = {}
        if sent["consent"] is not None:
            merged = {**_consent(witness).model_dump(), **sent["consent"]}
        try:
            _apply_consent(witness, Consent.model_validate(merged))
        except ValidationError as exc:
            raise validation_problem(exc) from exc
    if patch.risk_level is not None:
        witness.risk_level = patch.risk_level.value
    changes = audit.changes(before, _public_facts(witness))
    if not changes and not identity_changed:
        return access
    witness.updated_at = utcnow()
    try:
        session.flush()
    except StaleDataError as exc:
        raise PreconditionFailed("The witness changed meanwhile; fetch it again.") from exc
    if identity_changed:  # a new spelling, a corrected name: every linked case's texts again
        refresh_cases(session, access.linked_case_ids, actor=access.principal.user_id)
    audit.record(
        session,
        chain=case_chain(acting_case),
        action="witness.updated",
        resource_type="witness",
        resource_id=witness.id,
        actor_id=access.principal.user_id,
        case_id=acting_case,
        payload={
            "pseudonym": witness.pseudonym,
            "changes": changes,
            "identity_fields_changed": sorted(identity_changed),
        },
    )
    return access


def reseal_identities(session: Session, keyring: IdentityKeyring, *, batch: int) -> int:
    """Re-encrypt up to `batch` identities not yet under the current key; return how many.
    Not a change of the witness (same version, same ETag): the same identity, a new lock."""
    stale = session.scalars(
        select(Witness)
        .where(Witness.identity_key_id != keyring.current_key_id)
        .limit(batch)
        .with_for_update()
    ).all()
    for witness in stale:
        key_id, blob = _sealed(witness.id, read_identity(witness, keyring), keyring)
        session.execute(
            update(Witness)
            .where(Witness.id == witness.id)
            .values(identity_key_id=key_id, identity_ciphertext=blob)
            .execution_options(synchronize_session=False)
        )
    return len(stale)


def _public_facts(witness: Witness) -> dict[str, Any]:
    return {
        "consent": _consent(witness).model_dump(mode="json"),
        "risk_level": witness.risk_level,
    }


def _seal(witness: Witness, identity: dict[str, Any], keyring: IdentityKeyring) -> None:
    witness.identity_key_id, witness.identity_ciphertext = _sealed(witness.id, identity, keyring)


def _sealed(
    witness_id: uuid.UUID, identity: dict[str, Any], keyring: IdentityKeyring
) -> tuple[str, bytes]:
    plaintext = json.dumps(identity, ensure_ascii=False, sort_keys=True).encode()
    return keyring.seal(plaintext, identity_context(witness_id))


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _apply_consent(witness: Witness, consent: Consent) -> None:
    witness.consent_named_publicly = consent.named_publicly
    witness.consent_share_identity_with_courts = consent.share_identity_with_courts
    witness.consent_use_testimony_in_reports = consent.use_testimony_in_reports
    witness.consent_obtained_at = consent.obtained_at
    witness.consent_method = consent.method.value if consent.method else None


def _link(session: Session, witness_id: uuid.UUID, access: CaseAccess) -> None:
    session.add(
        WitnessCase(
            witness_id=witness_id, case_id=access.case.id, linked_by_id=access.principal.user_id
        )
    )
    session.flush()


def _next_pseudonym(session: Session) -> str:
    """W-0001, W-0002, …: never reused."""
    return f"W-{increment_counter(session, PSEUDONYM_COUNTER):04d}"
