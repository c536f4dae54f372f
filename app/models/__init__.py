"""All ORM classes, imported here so that Base.metadata knows every table (alembic needs it)."""

from app.models.audit import AuditChain, AuditCheckpoint, AuditEvent, AuditText, SigningKey
from app.models.case import Case, CaseMember, CaseRole, CaseStatus, CaseTag
from app.models.evidence import EvidenceItem, EvidenceKind, Upload
from app.models.idempotency import IdempotencyRecord
from app.models.site_visit import SiteVisit, SiteVisitCase, SiteVisitMember
from app.models.testimony import Testimony
from app.models.user import ApiToken, AuthFailureWindow, GlobalRole, User
from app.models.witness import ConsentMethod, Counter, RiskLevel, Witness, WitnessCase

__all__ = [
    "ApiToken",
    "AuditChain",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditText",
    "AuthFailureWindow",
    "Case",
    "CaseMember",
    "CaseRole",
    "CaseStatus",
    "CaseTag",
    "ConsentMethod",
    "Counter",
    "EvidenceItem",
    "EvidenceKind",
    "GlobalRole",
    "IdempotencyRecord",
    "RiskLevel",
    "SigningKey",
    "SiteVisit",
    "SiteVisitCase",
    "SiteVisitMember",
    "Testimony",
    "Upload",
    "User",
    "Witness",
    "WitnessCase",
]
