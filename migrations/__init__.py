"""Alembic migrations: the only way Casefile's schema is created or changed."""
