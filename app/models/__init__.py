"""All ORM classes, imported here so that Base.metadata knows every table (alembic needs it)."""

from app.models.audit import AuditChain, AuditCheckpoint, AuditEvent, SigningKey
from app.models.case import Case, CaseMember, CaseRole, CaseStatus, CaseTag
from app.models.idempotency import IdempotencyRecord
from app.models.user import ApiToken, GlobalRole, User

__all__ = [
    "ApiToken",
    "AuditChain",
    "AuditCheckpoint",
    "AuditEvent",
    "Case",
    "CaseMember",
    "CaseRole",
    "CaseStatus",
    "CaseTag",
    "GlobalRole",
    "IdempotencyRecord",
    "SigningKey",
    "User",
]
