"""Request and response bodies for cases."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator

from app.kit.schemas import (
    InputSchema,
    LongText,
    Name,
    PastUtcDatetime,
    ReadSchema,
    ShortText,
    single_line,
)
from app.models.case import CaseStatus

# Strict: JSON `true` is not 1 (lax pydantic reads it so), nor the string "5" a number.
Count = Annotated[int, Field(strict=True, ge=0, le=10_000_000)]
Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64),
    AfterValidator(single_line),
]
MAX_TAGS = 32

_EXAMPLE_CASE: dict[str, Any] = {
    "title": "Missile strikes on Martuni",
    "occurred_at": "2020-09-27T06:00:00Z",
    "status": "open",
    "summary": "Twelve missile strikes on the city on the first day of the conflict.",
    "tags": ["cluster-munitions", "residential-area"],
    "weapon": "Unguided rockets",
    "responsible_party": "Azerbaijani armed forces",
    "location": {
        "name": "Martuni",
        "admin_area": "Nagorno-Karabakh",
        "lat": 39.7946,
        "lon": 47.1136,
    },
    "casualties": {"killed": 1, "injured": 1, "children_killed": 1, "children_injured": 1},
}


class LocationFields(InputSchema):
    name: Name | None = None
    country: Name | None = None
    admin_area: Name | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None


class Location(LocationFields):
    @model_validator(mode="after")
    def _coordinates_in_pairs(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        return self


class CasualtyFields(InputSchema):
    killed: Count | None = Field(default=None, description="Civilians killed (null: unknown).")
    injured: Count | None = Field(default=None, description="Civilians injured (null: unknown).")
    children_killed: Count | None = Field(default=None, description="Of the killed, children.")
    children_injured: Count | None = Field(default=None, description="Of the injured, children.")


class Casualties(CasualtyFields):
    @model_validator(mode="after")
    def _children_within_totals(self) -> Self:
        for part, whole in (("children_killed", "killed"), ("children_injured", "injured")):
            part_value, whole_value = getattr(self, part), getattr(self, whole)
            if part_value is not None and (whole_value is None or part_value > whole_value):
                raise ValueError(f"{part} needs {whole} and cannot exceed it")
        return self


def _distinct_tags(tags: list[str]) -> list[str]:
    return sorted(set(tags))


Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_distinct_tags)]


class CaseCreate(InputSchema):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_CASE]})

    title: ShortText
    occurred_at: PastUtcDatetime = Field(description="When the strike happened (UTC).")
    summary: LongText | None = None
    status: CaseStatus = CaseStatus.OPEN
    tags: Tags = []
    weapon: ShortText | None = None
    responsible_party: ShortText | None = None
    location: Location | None = None
    casualties: Casualties | None = None


class CasePatch(InputSchema):
    """JSON merge patch (RFC 7396): only the fields sent change; null clears a field."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "under_review", "casualties": {"killed": 2}}]}
    )

    title: ShortText | None = None
    occurred_at: PastUtcDatetime | None = None
    summary: LongText | None = None
    status: CaseStatus | None = None
    tags: Tags | None = None
    weapon: ShortText | None = None
    responsible_party: ShortText | None = None
    location: LocationFields | None = None
    casualties: CasualtyFields | None = None


class LocationRead(ReadSchema):
    name: str | None
    country: str | None
    admin_area: str | None
    lat: float | None
    lon: float | None


class CasualtiesRead(ReadSchema):
    killed: int | None
    injured: int | None
    children_killed: int | None
    children_injured: int | None


class CaseCounts(ReadSchema):
    witnesses: int
    testimonies: int
    site_visits: int
    evidence: int = Field(description="Evidence items, withdrawn ones included.")


class CaseRead(ReadSchema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE_CASE,
                    "id": "6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b",
                    "created_by": "0b7c5a7e-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
                    "created_at": "2020-12-01T09:30:00Z",
                    "updated_at": "2020-12-01T09:30:00Z",
                    "version": 1,
                    "counts": {"witnesses": 1, "testimonies": 1, "site_visits": 2, "evidence": 3},
                }
            ]
        }
    )

    id: uuid.UUID
    title: str
    occurred_at: datetime
    summary: str | None
    status: CaseStatus
    tags: list[str]
    weapon: str | None
    responsible_party: str | None
    location: LocationRead | None
    casualties: CasualtiesRead
    counts: CaseCounts | None = Field(
        default=None, description="What the case holds (absent only in audit snapshots)."
    )
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; the ETag carries it too.")
