"""PostgreSQL plans every statement with its values, never once for any values.

Why it matters: psycopg prepares a statement after five runs on a connection, and PostgreSQL
then switches to a generic plan when it looks no costlier. A case search's best plan depends
on its words and on who asks; its generic plan took a member of 10,000 cases' search from
50 ms to 2.5 s (bench.protection_search).
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db import Database


def test_no_statement_is_run_with_a_generic_plan(app: FastAPI, client: TestClient) -> None:
    database: Database = app.state.database
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no plan cache to speak of")
    statement = text("SELECT count(*) FROM cases WHERE title ILIKE :pattern AND id IS NOT NULL")
    with database.engine.connect() as connection:
        for run in range(12):
            connection.execute(statement, {"pattern": f"%strike {run}%"})
        plans = connection.execute(
            text(
                "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) "
                "FROM pg_prepared_statements"
            )
        ).one()
    generic, custom = plans
    assert custom >= 6  # it was prepared (the check sees the plan cache at work) ...
    assert generic == 0  # ... and planned with its values every time
