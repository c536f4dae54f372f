"""Request and response bodies for witnesses.

Which response a caller gets is decided in one place, `service.witness_view`: `WitnessRead`
(no identity at all) or `IdentifiedWitnessRead` (with `identity`) — never a blanked field.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from app.kit.schemas import (
    Flag,
    InputSchema,
    Name,
    PastUtcDatetime,
    ReadSchema,
    multi_line,
)
from app.models.witness import ConsentMethod, RiskLevel

Contact = Annotated[str, StringConstraints(max_length=1000), AfterValidator(multi_line)]
Notes = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(multi_line)]
Place = Annotated[str, StringConstraints(max_length=500), AfterValidator(multi_line)]
# Strict: JSON `true` is not 1 (lax pydantic reads it so), nor the string "5" a number.
Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]

# The witness's name in other scripts and spellings (Armenian, Cyrillic, Latin
# transliterations): protected wherever a text writes it (app/protection), and as secret as
# the name itself.
OtherSpellings = Annotated[
    list[Name],
    Field(
        max_length=20,
        description="The name as others write it: other scripts, transliterations. Texts "
        "that name the witness in any of these are shown withheld to those who may not "
        "identify witnesses.",
        examples=[["Անահիտ Գևորգյան", "Анаит Геворгян", "Anahit Gevorkyan"]],
    ),
]

IDENTITY_FIELDS = ("full_name", "other_spellings", "contact", "home_location", "identity_notes")


class HomeLocation(InputSchema):
    description: Place | None = None  # an address may span lines; never NUL or C1
    lat: Latitude | None = None
    lon: Longitude | None = None

    @model_validator(mode="after")
    def _coordinates_in_pairs(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        return self


class Consent(InputSchema):
    named_publicly: Flag = Field(default=False, description="May be named in public reports.")
    share_identity_with_courts: Flag = Field(
        default=False, description="Identity may be shared with courts and UN mechanisms."
    )
    use_testimony_in_reports: Flag = Field(
        default=False, description="Testimony may be quoted in public reports."
    )
    obtained_at: PastUtcDatetime | None = Field(default=None, description="When consent was given.")
    method: ConsentMethod | None = Field(default=None, description="How consent was obtained.")


class WitnessRegister(InputSchema):
    """Register a new witness in the case (identity), or link an existing one (`witness_id`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "full_name": "Anahit Gevorgyan",
                    "other_spellings": ["Անահիտ Գևորգյան", "Анаит Геворгян"],
                    "contact": "via the Martuni community centre",
                    "consent": {
                        "named_publicly": True,
                        "share_identity_with_courts": True,
                        "use_testimony_in_reports": True,
                        "obtained_at": "2020-12-02T09:30:00Z",
                        "method": "oral_recorded",
                    },
                    "risk_level": "medium",
                },
                {"witness_id": "3c1f7a52-6d0e-4c1b-9b7e-2a4d5e6f7a8b"},
            ]
        }
    )

    witness_id: uuid.UUID | None = Field(default=None, description="Link this existing witness.")
    full_name: Name | None = None
    other_spellings: OtherSpellings | None = None
    contact: Contact | None = None
    home_location: HomeLocation | None = None
    identity_notes: Notes | None = None
    consent: Consent | None = None
    risk_level: RiskLevel | None = None

    @model_validator(mode="after")
    def _either_link_or_register(self) -> Self:
        given = self.model_fields_set - {"witness_id"}
        if self.witness_id is not None and given:
            raise ValueError("to link an existing witness send only witness_id")
        if self.witness_id is None and self.full_name is None:
            raise ValueError("full_name is required to register a witness")
        return self


class WitnessPatch(InputSchema):
    """Merge patch; identity fields may only be changed by those allowed to see them."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"risk_level": "high"}]})

    full_name: Name | None = None
    other_spellings: OtherSpellings | None = None
    contact: Contact | None = None
    home_location: HomeLocation | None = None
    identity_notes: Notes | None = None
    consent: Consent | None = None
    risk_level: RiskLevel | None = None


class HomeLocationRead(ReadSchema):
    description: str | None
    lat: float | None
    lon: float | None


class WitnessIdentity(ReadSchema):
    full_name: str
    other_spellings: Annotated[list[str], BeforeValidator(lambda v: [] if v is None else v)] = (
        Field(default_factory=list)
    )
    contact: str | None
    home_location: HomeLocationRead | None
    identity_notes: str | None


class ConsentRead(ReadSchema):
    named_publicly: bool
    share_identity_with_courts: bool
    use_testimony_in_reports: bool
    obtained_at: datetime | None
    method: ConsentMethod | None


class WitnessRead(ReadSchema):
    """A witness as everyone allowed to read it sees it: the pseudonym, never the identity."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3c1f7a52-6d0e-4c1b-9b7e-2a4d5e6f7a8b",
                    "pseudonym": "W-0007",
                    "consent": {
                        "named_publicly": False,
                        "share_identity_with_courts": True,
                        "use_testimony_in_reports": True,
                        "obtained_at": "2020-12-02T09:30:00Z",
                        "method": "oral_recorded",
                    },
                    "risk_level": "high",
                    "case_ids": ["6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b"],
                    "created_at": "2020-12-02T10:00:00Z",
                    "updated_at": "2020-12-02T10:00:00Z",
                    "version": 1,
                }
            ]
        }
    )

    id: uuid.UUID
    pseudonym: str
    consent: ConsentRead
    risk_level: RiskLevel
    case_ids: list[uuid.UUID] = Field(description="The linked cases the caller may see.")
    created_at: datetime
    updated_at: datetime
    version: int


class IdentifiedWitnessRead(WitnessRead):
    """The same, with the identity: only for admins and members allowed to identify witnesses."""

    identity: WitnessIdentity


WitnessView = IdentifiedWitnessRead | WitnessRead
