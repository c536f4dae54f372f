"""Request and response bodies for users and API tokens."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from app.kit.schemas import Flag, InputSchema, ReadSchema, UtcDatetime, single_line
from app.models.user import GlobalRole

_NAME_SHAPE = re.compile(r"[^\W_][\w.\-]{0,63}")


def _user_name(value: str) -> str:
    value = unicodedata.normalize("NFC", value).lower()
    if not _NAME_SHAPE.fullmatch(value):
        raise ValueError(
            "must start with a letter or digit and hold only letters, digits, '.', '-', '_'"
        )
    return value


def _in_future(value: datetime) -> datetime:
    if value <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return value


Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(single_line),
]
UserName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_user_name),
]


class UserCreate(InputSchema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "amira", "role": "investigator"}]}
    )

    name: UserName
    role: GlobalRole


class UserUpdate(InputSchema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"active": False}]})

    role: GlobalRole | None = None
    active: Flag | None = None


class UserRead(ReadSchema):
    id: uuid.UUID
    name: str
    role: GlobalRole
    active: bool
    created_at: datetime
    updated_at: datetime


class TokenCreate(InputSchema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{}, {"label": "field laptop", "expires_at": "2027-06-30T00:00:00Z"}]
        }
    )

    label: Label | None = None
    expires_at: Annotated[UtcDatetime, AfterValidator(_in_future)] | None = None


class TokenRead(ReadSchema):
    id: uuid.UUID
    user_id: uuid.UUID
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    state: Literal["active", "expired", "revoked"]


class TokenCreated(TokenRead):
    """The only response that ever holds the token secret."""

    token: str = Field(description="The secret. Store it now: it is never shown again.")
