"""Request and response bodies for testimonies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from app.kit.schemas import InputSchema, LongText, PastUtcDatetime, ReadSchema, ShortText

# BCP 47, loosely: "hy", "az-Latn", "ru", "en-GB"; "und" when unknown.
LanguageTag = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length=35)
]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


StatementText = Annotated[LongText, StringConstraints(min_length=1), AfterValidator(_not_blank)]

_EXAMPLE: dict[str, Any] = {
    "witness_id": "3c1f7a52-6d0e-4c1b-9b7e-2a4d5e6f7a8b",
    "recorded_at": "2020-12-02T10:00:00Z",
    "place": "Martuni",
    "language": "hy",
    "statement": "(statement in Armenian)",
    "translation": "My little boy now still wakes up saying that there are planes in the sky "
    "bombing.",
    "translation_language": "en",
}


class TestimonyCreate(InputSchema):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    witness_id: uuid.UUID = Field(description="A witness linked to this case.")
    recorded_at: PastUtcDatetime
    statement: StatementText = Field(description="In the original language.")
    place: ShortText | None = None
    interviewer_id: uuid.UUID | None = Field(
        default=None, description="The user who took the testimony (default: you)."
    )
    language: LanguageTag = "und"
    translation: LongText | None = None
    translation_language: LanguageTag | None = None


class TestimonyPatch(InputSchema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"translation": "…"}]})

    recorded_at: PastUtcDatetime | None = None
    statement: StatementText | None = None
    place: ShortText | None = None
    interviewer_id: uuid.UUID | None = None
    language: LanguageTag | None = None
    translation: LongText | None = None
    translation_language: LanguageTag | None = None


class TestimonyRead(ReadSchema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE,
                    "id": "9d2e4f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
                    "case_id": "6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b",
                    "witness_pseudonym": "W-0001",
                    "interviewer_id": "0b7c5a7e-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
                    "created_by": "0b7c5a7e-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
                    "created_at": "2020-12-02T12:00:00Z",
                    "updated_at": "2020-12-02T12:00:00Z",
                    "version": 1,
                }
            ]
        }
    )

    id: uuid.UUID
    case_id: uuid.UUID
    witness_id: uuid.UUID
    witness_pseudonym: str
    recorded_at: datetime
    place: str | None
    interviewer_id: uuid.UUID | None
    language: str
    statement: str
    translation: str | None
    translation_language: str | None
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int
