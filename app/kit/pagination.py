"""Opaque keyset cursors: newest first, stable under concurrent inserts, never OFFSET."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import InvalidCursor

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1..200).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            description="Opaque cursor from a previous page's `next_cursor`.",
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageQuery = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Position:
    """Where a page ended: the (created_at, id) of its last item, in a named listing."""

    created_at: datetime
    id: uuid.UUID


def encode_cursor(listing: str, position: Position) -> str:
    payload = {"l": listing, "t": position.created_at.isoformat(), "i": position.id.hex}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(listing: str, cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload: Any = json.loads(raw)
        if not isinstance(payload, dict) or payload.get("l") != listing:
            raise ValueError("cursor belongs to another listing")
        created_at = datetime.fromisoformat(payload["t"])
        if created_at.tzinfo is None:
            raise ValueError("naive time in cursor")
        return Position(created_at=created_at, id=uuid.UUID(hex=payload["i"]))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor is malformed or belongs to another listing.") from exc


def after_position(
    created_col: InstrumentedAttribute[datetime],
    id_col: InstrumentedAttribute[uuid.UUID],
    position: Position,
) -> ColumnElement[bool]:
    """Rows strictly after `position` in (created_at DESC, id DESC) order."""
    return or_(
        created_col < position.created_at,
        and_(created_col == position.created_at, id_col < position.id),
    )


def next_cursor(
    listing: str, rows: list[Any], limit: int, *, id_attribute: str = "id"
) -> str | None:
    """Given up to limit+1 fetched rows, the cursor for the next page (or None at the end)."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(
        listing, Position(created_at=last.created_at, id=getattr(last, id_attribute))
    )


def encode_position_cursor(listing: str, after: int) -> str:
    """A cursor for listings ordered by an integer position (e.g. a chain's sequence)."""
    raw = json.dumps({"l": listing, "n": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position_cursor(listing: str, cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload: Any = json.loads(raw)
        if not isinstance(payload, dict) or payload.get("l") != listing:
            raise ValueError("cursor belongs to another listing")
        after = payload["n"]
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError("bad position")
        return after
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor is malformed or belongs to another listing.") from exc
