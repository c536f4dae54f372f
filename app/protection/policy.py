"""Who sees a text as written: the one decision, for every text that leaves the server.

| caller                                           | sees a text field           |
| an identifier of the text (admin, or a member    | as written                  |
|   with can_identify_witnesses on its case)       |                             |
| the author of that field (who last wrote it)     | as written: their own words |
| anyone else                                      | as shown: `[withheld]` for   |
|                                                  |   every protected string    |

The marker is the same for every witness: a pseudonym would tell a guesser whom they named.
Showing authors their own text means that writing a guess and reading it back tells nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.auth.dependencies import CaseAccess
from app.models.case import Case
from app.models.protected_text import ProtectedTextColumns
from app.protection.fields import TAGS
from app.protection.shown import pending_value


@dataclass(frozen=True)
class Reader:
    """Who reads a text, and whether they may identify the witnesses of its case(s)."""

    user_id: uuid.UUID
    identifies: bool

    def wrote(self, row: ProtectedTextColumns, field: str) -> bool:
        return (row.text_authors or {}).get(field) == str(self.user_id)


def reader_of(access: CaseAccess) -> Reader:
    """The reader of a case's texts: its identifier if they may identify its witnesses."""
    return Reader(access.principal.user_id, access.can_identify_witnesses)


def shown(row: ProtectedTextColumns, field: str, reader: Reader) -> str | None:
    """The value of a text field of `row` as `reader` may see it."""
    value: str | None = getattr(row, field)
    if value is None or reader.identifies or reader.wrote(row, field):
        return value
    if row.protected_with is None:
        return pending_value(value)
    return (row.withheld_texts or {}).get(field, value)


def shown_tags(case: Case, reader: Reader) -> list[str]:
    tags = [t.tag for t in case.tags]
    if reader.identifies or reader.wrote(case, TAGS):
        return tags
    if case.protected_with is None:
        return [pending_value(t) or "" for t in tags]
    return [t.shown if t.shown is not None else (pending_value(t.tag) or "") for t in case.tags]


def shown_all(
    row: ProtectedTextColumns, fields: tuple[str, ...], reader: Reader
) -> dict[str, str | None]:
    return {f: shown(row, f, reader) for f in fields}
