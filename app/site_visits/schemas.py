"""Request and response bodies for site-visit logs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from app.kit.schemas import InputSchema, LongText, Name, PastUtcDatetime, ReadSchema, ShortText

# Strict: JSON `true` is not 1 (lax pydantic reads it so), nor the string "5" a number.
Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]


def _distinct(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


UserIds = Annotated[list[uuid.UUID], Field(max_length=50), AfterValidator(_distinct)]
CaseIds = Annotated[list[uuid.UUID], Field(max_length=50), AfterValidator(_distinct)]

_EXAMPLE: dict[str, Any] = {
    "visited_at": "2020-12-03T09:00:00Z",
    "visited_until": "2020-12-03T13:30:00Z",
    "location": {"name": "Martuni, residential district", "lat": 39.7946, "lon": 47.1136},
    "team": ["0b7c5a7e-1d2f-4e3a-9b8c-7d6e5f4a3b2c"],
    "purpose": "Document impact sites of the 27 September strikes.",
    "observations": "Impact crater in a courtyard between residential buildings.",
    "conditions": {"access": "Unrestricted", "security": "Calm", "weather": "Dry, 6 °C"},
}


class VisitLocation(InputSchema):
    name: Name | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None

    @model_validator(mode="after")
    def _coordinates_in_pairs(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        return self


class Conditions(InputSchema):
    access: LongText | None = None
    security: LongText | None = None
    weather: ShortText | None = None


class _VisitFields(InputSchema):
    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        start: datetime | None = getattr(self, "visited_at", None)
        end: datetime | None = getattr(self, "visited_until", None)
        if start is not None and end is not None and end < start:
            raise ValueError("visited_until must not be before visited_at")
        return self


class SiteVisitCreate(_VisitFields):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    visited_at: PastUtcDatetime = Field(description="When the visit began (UTC).")
    visited_until: PastUtcDatetime | None = None
    location: VisitLocation | None = None
    team: UserIds = Field(default=[], description="Users who were on the visit.")
    purpose: LongText | None = None
    observations: LongText | None = None
    conditions: Conditions | None = None
    also_case_ids: CaseIds = Field(
        default=[], description="Further cases this visit covers (you must be able to edit them)."
    )


class SiteVisitPatch(_VisitFields):
    model_config = ConfigDict(json_schema_extra={"examples": [{"observations": "…"}]})

    visited_at: PastUtcDatetime | None = None
    visited_until: PastUtcDatetime | None = None
    location: VisitLocation | None = None
    team: UserIds | None = None
    purpose: LongText | None = None
    observations: LongText | None = None
    conditions: Conditions | None = None


class SiteVisitRead(ReadSchema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE,
                    "id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
                    "case_ids": ["6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b"],
                    "created_by": "0b7c5a7e-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
                    "created_at": "2020-12-03T15:00:00Z",
                    "updated_at": "2020-12-03T15:00:00Z",
                    "version": 1,
                }
            ]
        }
    )

    id: uuid.UUID
    visited_at: datetime
    visited_until: datetime | None
    location: VisitLocation | None
    team: list[uuid.UUID]
    purpose: str | None
    observations: str | None
    conditions: Conditions
    case_ids: list[uuid.UUID] = Field(description="The linked cases the caller may see.")
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int
