"""All ORM classes, imported here so that Base.metadata knows every table (alembic needs it)."""

from app.models.case import Case, CaseMember, CaseRole, CaseStatus, CaseTag
from app.models.idempotency import IdempotencyRecord
from app.models.user import ApiToken, GlobalRole, User

__all__ = [
    "ApiToken",
    "Case",
    "CaseMember",
    "CaseRole",
    "CaseStatus",
    "CaseTag",
    "GlobalRole",
    "IdempotencyRecord",
    "User",
]
