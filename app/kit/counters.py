"""Named monotonic counters in the database (pseudonyms, exhibit numbers): incremented under
the counter row's lock, in the caller's transaction, so concurrent processes never share a
number, and a number is never reused once committed."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.models.witness import Counter


def increment_counter(session: Session, name: str) -> int:
    increment = (
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    value = session.execute(increment).scalar()
    if value is None:
        session.execute(
            dialect_insert(session, Counter)
            .values(name=name, value=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = session.execute(increment).scalar_one()
    return int(value)
