"""Base schema classes and reusable constrained field types for request and response bodies."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

# C0/C1 control characters (NUL included) have no place in names or titles; long text keeps
# line breaks and tabs. They are refused, not stripped: silently changing evidence text is worse.
_LINE_BREAKS = frozenset("\n\r\t")


def _reject_controls(value: str, allowed: frozenset[str] = frozenset()) -> str:
    # Text is kept exactly as sent (no Unicode normalisation): a statement is evidence, and
    # its digest in the audit trail must be that of the bytes the investigator sent.
    for char in value:
        if char not in allowed and unicodedata.category(char) in ("Cc", "Cs"):
            raise ValueError("must not contain control characters")
    return value


def single_line(value: str) -> str:
    return _reject_controls(value)


def multi_line(value: str) -> str:
    return _reject_controls(value, _LINE_BREAKS)


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _iso_8601_only(value: object) -> object:
    """Pydantic reads a number, or a string of digits, as seconds since 1970. Timestamps here
    are ISO 8601 (API.md): a number sent by mistake is refused, not filed as a 1970 event."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be an ISO 8601 date-time, not a number")
    return value


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: no UTC year
        raise ValueError("is out of range once converted to UTC") from None


def _not_in_future(value: datetime) -> datetime:
    if value > datetime.now(UTC):
        raise ValueError("must not be in the future")
    return value


ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(single_line),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(single_line),
]
# JSON true or false only: lax pydantic also reads 0, 1, "yes" or "off" as booleans, and a
# permission or consent flag must mean exactly what the client wrote.
Flag = Annotated[bool, Field(strict=True)]
LongText = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(multi_line)]
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only), AfterValidator(_as_utc)]
PastUtcDatetime = Annotated[UtcDatetime, AfterValidator(_not_in_future)]


class InputSchema(BaseModel):
    """Request bodies: unknown fields are an error, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid")


class ReadSchema(BaseModel):
    """Response bodies, built from ORM objects or plain data."""

    model_config = ConfigDict(from_attributes=True)
