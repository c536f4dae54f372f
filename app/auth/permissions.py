"""Who may do what: the one table of global-role and case-role permissions (API.md, roles)."""

from __future__ import annotations

from enum import StrEnum

from app.models.case import CaseRole
from app.models.user import GlobalRole


class CasePermission(StrEnum):
    READ = "read"
    EDIT = "edit"
    MANAGE_MEMBERS = "manage_members"
    EXPORT_BUNDLE = "export_bundle"
    VERIFY_EVIDENCE = "verify_evidence"


_ALL = frozenset(CasePermission)

CASE_ROLE_PERMISSIONS: dict[CaseRole, frozenset[CasePermission]] = {
    CaseRole.LEAD: _ALL,
    CaseRole.INVESTIGATOR: frozenset(
        {CasePermission.READ, CasePermission.EDIT, CasePermission.VERIFY_EVIDENCE}
    ),
    CaseRole.LEGAL: frozenset(
        {CasePermission.READ, CasePermission.EXPORT_BUNDLE, CasePermission.VERIFY_EVIDENCE}
    ),
    CaseRole.VIEWER: frozenset({CasePermission.READ}),
}

# Global roles allowed to open a new case (they become its lead).
CASE_CREATORS = frozenset({GlobalRole.ADMIN, GlobalRole.INVESTIGATOR})


def case_role_allows(role: CaseRole | None, permission: CasePermission, *, admin: bool) -> bool:
    if admin:
        return True
    return role is not None and permission in CASE_ROLE_PERMISSIONS[role]
