"""Request and response bodies for case membership."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from app.kit.schemas import Flag, InputSchema, ReadSchema
from app.models.case import CaseRole


class MemberPut(InputSchema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"role": "viewer", "can_identify_witnesses": False}]}
    )

    role: CaseRole
    can_identify_witnesses: Flag = Field(
        default=False, description="May see witnesses' real identities in this case."
    )


class MemberRead(ReadSchema):
    case_id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    role: CaseRole
    can_identify_witnesses: bool
    added_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
