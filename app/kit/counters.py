"""Named monotonic counters in the database (pseudonyms, exhibit numbers): incremented under
the counter row's lock, in the caller's transaction, so concurrent processes never share a
number, and a number is never reused once committed."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

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
        insert = (
            postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        session.execute(
            insert(Counter)
            .values(name=name, value=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = session.execute(increment).scalar_one()
    return int(value)
