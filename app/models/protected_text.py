"""Columns every row with free text carries for witness protection (see app/protection).

`withheld_texts` holds, for each text field in which something was withheld, the field as
shown to callers who may not identify the case's witnesses (absent fields are shown as
written); `text_authors` the user who last wrote each field (their own words are shown to them
as written); `protected_with` the matching rules the row was last computed with (NULL: not yet,
e.g. just after a migration: the row is then shown to nobody but identifiers).
"""

from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column


class ProtectedTextColumns:
    withheld_texts: Mapped[dict[str, str] | None] = mapped_column(
        JSON(none_as_null=True), default=None
    )
    text_authors: Mapped[dict[str, str] | None] = mapped_column(
        JSON(none_as_null=True), default=None
    )
    protected_with: Mapped[str | None] = mapped_column(String(16), default=None)
