"""Alembic environment: the URL comes from the alembic config if set, else from Settings."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import create_engine, pool

from app.config import Settings
from app.db import Base, UTCDateTime
from app.models import __all__ as _models  # noqa: F401  (registers every table)

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render app-specific column types as plain SQLAlchemy ones: migrations must not import
    application code that may change after they are written."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


SEARCH_INDEXES = {
    "ix_testimonies_search",
    "ix_site_visits_search",
    "ix_cases_search_trgm",
    # Their counterparts over the texts as shown (migration 0010).
    "ix_testimonies_search_shown",
    "ix_site_visits_search_shown",
    "ix_cases_search_shown_trgm",
}


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, _compare: Any) -> bool:
    """Leave the search indexes out of comparisons: SQLite's FTS5 table (a virtual table with
    shadow tables, kept up to date by triggers) and PostgreSQL's expression indexes."""
    if type_ == "table" and reflected and (name or "").startswith("search_fts"):
        return False
    # PostgreSQL's full-text (migration 0003) and trigram (0009) expression indexes (see the models).
    return not (type_ == "index" and name in SEARCH_INDEXES)


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        render_as_batch=url.startswith("sqlite"),
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=True,
            render_item=_render_item,
            include_object=_include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
