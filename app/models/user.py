"""People who use Casefile, and the API tokens they authenticate with."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, one_of, same_as_created, utcnow


class GlobalRole(StrEnum):
    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    LEGAL = "legal"
    VIEWER = "viewer"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(one_of("role", GlobalRole), name="role_known"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Stored lower-cased and NFC-normalised, so uniqueness ignores case.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=same_as_created)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_admin(self) -> bool:
        return self.role == GlobalRole.ADMIN


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the secret is kept; the secret is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_created", "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuthFailureWindow(Base):
    """Failed authentications from one client address in the current window: shared by every
    server process, so that guessing tokens is slowed down whichever process answers."""

    __tablename__ = "auth_failures"

    client_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[datetime]
    failures: Mapped[int] = mapped_column(default=0)
