"""A bundle that leaves with protected text in it, or without it, is recorded for those who may
identify the case's witnesses (docs/witness-protection.md, "Protected-match events").

A member who may not identify can write a guess and have a colleague who may not identify
either export it: the colleague's bundle withholds the right guess and not the wrong one. The
bundle cannot help showing that to its reader (the colleague must not see the name); what the
case's identifiers learn instead is that it happened, with whose text and whose export. And an
author's own export carries their own text as they wrote it, right guess or wrong: that too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.canonical import protection_chain
from app.models.case import Case
from app.models.protected_text import ProtectedTextColumns
from app.protection.fields import TAGS
from app.protection.policy import Reader
from app.protection.service import resource_type

ACTION = "bundle.protected_text"
MAX_LISTED = 1000


def record_protected_texts(
    session: Session,
    *,
    bundle_id: uuid.UUID,
    requester: Reader,
    case_id: uuid.UUID,
    rows: Sequence[tuple[ProtectedTextColumns, Reader]],
) -> None:
    """Append `bundle.protected_text` to the case's protection chain if the bundle withholds
    texts others wrote, or carries the requester's own texts that name a protected witness."""
    withheld: list[dict[str, Any]] = []
    as_written: list[dict[str, Any]] = []
    for row, reader in rows:
        if reader.identifies:
            continue
        mine: list[str] = []
        others: list[str] = []
        for field in _withholding_fields(row):
            (mine if reader.wrote(row, field) else others).append(field)
        entry = {"resource_type": resource_type(row), "resource_id": str(row.id)}  # type: ignore[attr-defined]
        if others:
            withheld.append({**entry, "fields": others})
        if mine:
            as_written.append({**entry, "fields": mine})
    if not withheld and not as_written:
        return
    audit.record(
        session,
        chain=protection_chain(case_id),
        action=ACTION,
        resource_type="bundle",
        resource_id=bundle_id,
        actor_id=requester.user_id,
        case_id=case_id,
        payload={
            "bundle_id": str(bundle_id),
            "withheld": withheld[:MAX_LISTED],
            "withheld_count": len(withheld),
            "carried_as_written": as_written[:MAX_LISTED],
            "carried_as_written_count": len(as_written),
        },
    )


def _withholding_fields(row: ProtectedTextColumns) -> list[str]:
    fields = sorted(row.withheld_texts or {})
    if isinstance(row, Case) and any(t.shown not in (None, t.tag) for t in row.tags):
        fields.append(TAGS)
    return fields
