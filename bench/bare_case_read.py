"""The floor under `GET /api/v1/cases/{id}`: a bare FastAPI app that answers the same path with
one single-row SELECT of the case from the same database, and nothing else — no token, no
membership, no counts, no middleware, no ETag. Served by the same uvicorn (httptools, uvloop)
with the same number of workers, it measures what FastAPI, SQLAlchemy and psycopg cost on this
machine, so that the real endpoint's throughput can be read as a fraction of it.

Run: CFBENCH_DATABASE_URL=postgresql+psycopg://… uvicorn bench.bare_case_read:app --workers 2
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException
from sqlalchemy import create_engine, text

# Same pool as the real app's engine (app.db.create_database).
engine = create_engine(
    os.environ["CFBENCH_DATABASE_URL"], pool_pre_ping=True, pool_size=10, max_overflow=20
)
app = FastAPI()

CASE_ROW = text(
    "SELECT id, title, summary, status, occurred_at, location_name, location_country, "
    "location_admin_area, latitude, longitude, weapon, responsible_party, killed, injured, "
    "children_killed, children_injured, created_by_id, created_at, updated_at, version "
    "FROM cases WHERE id = :id"
)


@app.get("/api/v1/cases/{case_id}")
def read_case(case_id: uuid.UUID) -> dict[str, Any]:
    # A plain `def`, like the real endpoint: run in the thread pool, blocking I/O allowed.
    with engine.connect() as connection:
        row = connection.execute(CASE_ROW, {"id": case_id}).mappings().first()
    if row is None:
        raise HTTPException(404)
    return dict(row)
