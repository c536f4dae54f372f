"""Data at scale: 100,000 cases, 1,000,000 evidence items and 5,000,000 audit events in
PostgreSQL (bench/scale_fill.py), then, for every list and search endpoint:

- the SQL it really runs, captured from the app's own engine while the endpoint answers an
  in-process request, each statement shown with EXPLAIN (ANALYZE, BUFFERS) on the filled
  database (authentication's token lookup left out: it is the same for every endpoint);
- its latency through the real API (`casefile serve --workers 2`), one client, sequential
  requests over different cases, as an admin (sees all 100,000 cases), an investigator who is
  a member of 300 and one who is a member of 10,000.

Run: .venv/bin/python -m bench.scale [--cases 100000] [--requests 100] [--plans FILE]
     [--database URL]  (a database filled by an earlier run's fill, reused and kept: no fill)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text

from app.auth.tokens import new_token_secret, secret_digest
from app.config import Settings
from app.main import create_app
from bench.common import machine, scratch_database, today
from bench.evidence_transfer import serve
from bench.scale_fill import fill

BIG_TABLES = ("cases", "case_members", "case_tags", "evidence_items", "audit_events", "testimonies")


def endpoints(ids: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, who, path) of every list and search endpoint, with its filters."""
    case, evidence = ids["case"], ids["evidence"]
    return [
        ("case list", "admin", "/api/v1/cases"),
        ("case list", "member of 300", "/api/v1/cases"),
        ("case list", "member of 10,000", "/api/v1/cases"),
        ("case list, page 2", "admin", "/api/v1/cases?cursor={cursor}"),
        ("status=referred", "admin", "/api/v1/cases?status=referred"),
        ("status=referred", "member of 10,000", "/api/v1/cases?status=referred"),
        ("tag=school", "admin", "/api/v1/cases?tag=school"),
        ("tag=school&tag=night", "member of 300", "/api/v1/cases?tag=school&tag=night"),
        (
            "occurred in one month",
            "admin",
            "/api/v1/cases?occurred_from=2016-03-01T00:00:00Z&occurred_to=2016-03-31T00:00:00Z",
        ),
        ("bbox, conflict region", "admin", "/api/v1/cases?bbox=46.0,39.0,47.0,40.0"),
        ("bbox, far away (rare)", "admin", "/api/v1/cases?bbox=10.0,50.0,11.0,51.0"),
        ("q=bakery (common)", "admin", "/api/v1/cases?q=bakery"),
        ("q=bakery", "member of 300", "/api/v1/cases?q=bakery"),
        ("q=Mardakert drone", "admin", "/api/v1/cases?q=Mardakert%20drone"),
        ("q=siren (testimonies)", "admin", "/api/v1/cases?q=siren"),
        ("q=rare word", "admin", "/api/v1/cases?q=zqxj"),
        ("q=siren (testimonies)", "member of 10,000", "/api/v1/cases?q=siren"),
        ("q=rare word", "member of 10,000", "/api/v1/cases?q=zqxj"),
        ("q=drone (none of this member's)", "member of 10,000", "/api/v1/cases?q=drone"),
        ("q=siren (testimonies)", "member of 300", "/api/v1/cases?q=siren"),
        ("q=Stepanakert (case fields)", "admin", "/api/v1/cases?q=Stepanakert"),
        ("evidence of a case", "admin", f"/api/v1/cases/{case}/evidence"),
        ("testimonies of a case", "admin", f"/api/v1/cases/{case}/testimonies"),
        ("site visits of a case", "admin", f"/api/v1/cases/{case}/site-visits"),
        ("audit events of a case", "admin", f"/api/v1/cases/{case}/audit"),
        ("members of a case", "admin", f"/api/v1/cases/{case}/members"),
        ("custody of an item", "admin", f"/api/v1/evidence/{evidence}/custody"),
    ]


# -- data -----------------------------------------------------------------------------------------
def add_tokens(engine: Engine) -> dict[str, str]:
    """API tokens for two investigators: one in 300 cases, the heavy one in 10,000."""
    tokens = {}
    with engine.begin() as connection:
        for who, name in (("member of 300", "scale-0001"), ("member of 10,000", "scale-heavy")):
            secret = new_token_secret()
            connection.execute(
                text(
                    "INSERT INTO api_tokens (id, user_id, secret_sha256, label, created_at) "
                    "SELECT :id, id, :digest, 'scale', now() FROM users WHERE name = :name"
                ),
                {"id": uuid.uuid4(), "digest": secret_digest(secret), "name": name},
            )
            tokens[who] = secret
    return tokens


def add_admin_token(engine: Engine) -> str:
    """An admin and its API token (for a reused database, where no first admin was printed)."""
    secret = new_token_secret()
    with engine.begin() as connection:
        user_id = connection.execute(
            text("SELECT id FROM users WHERE role = 'admin' ORDER BY created_at LIMIT 1")
        ).scalar()
        if user_id is None:
            user_id = uuid.uuid4()
            connection.execute(
                text(
                    "INSERT INTO users (id, name, role, active, created_at, updated_at, version) "
                    "VALUES (:id, 'scale-admin', 'admin', true, now(), now(), 1)"
                ),
                {"id": user_id},
            )
        connection.execute(
            text(
                "INSERT INTO api_tokens (id, user_id, secret_sha256, label, created_at) "
                "VALUES (:id, :user_id, :digest, 'scale', now())"
            ),
            {"id": uuid.uuid4(), "user_id": user_id, "digest": secret_digest(secret)},
        )
    return secret


def sample_ids(engine: Engine, count: int) -> list[dict[str, Any]]:
    """`count` cases spread over the table, each with one of its evidence items."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.id, (SELECT e.id FROM evidence_items e WHERE e.case_id = c.id "
                "ORDER BY e.exhibit_seq LIMIT 1) FROM cases c TABLESAMPLE SYSTEM (1) LIMIT :n"
            ),
            {"n": count},
        ).all()
    return [{"case": case, "evidence": evidence} for case, evidence in rows]


# -- plans ----------------------------------------------------------------------------------------
@contextmanager
def in_process_app(settings: Settings) -> Iterator[tuple[TestClient, list[tuple[str, Any]]]]:
    """The app in this process, and a list that collects every statement its engine runs."""
    app = create_app(settings)
    captured: list[tuple[str, Any]] = []
    with TestClient(app) as client:

        def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
            captured.append((statement, params))

        event.listen(app.state.database.engine, "before_cursor_execute", record)
        yield client, captured


def explain(engine: Engine, statement: str, params: Any) -> str:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        raw.rollback()
        return plan
    finally:
        raw.close()


def is_authentication(statement: str) -> bool:
    return "FROM api_tokens" in statement or "auth_failures" in statement


def seq_scans(plan: str) -> list[str]:
    return [t for t in BIG_TABLES if f"Seq Scan on {t} " in plan or f"Seq Scan on {t}\n" in plan]


def execution_ms(plan: str) -> float:
    for line in plan.splitlines():
        if line.startswith("Execution Time:"):
            return float(line.split(":")[1].split()[0])
    return float("nan")


# -- latency through the API ----------------------------------------------------------------------
def latencies(
    client: httpx.Client, path: str, token: str, samples: list[dict[str, Any]], requests: int
) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    values = []
    for index in range(requests + 5):
        ids = samples[index % len(samples)]
        url = path.replace(str(samples[0]["case"]), str(ids["case"])).replace(
            str(samples[0]["evidence"]), str(ids["evidence"])
        )
        started = time.perf_counter()
        answer = client.get(url, headers=headers)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")
        if index >= 5:  # the first few warm the worker's caches
            values.append(elapsed)
    return values


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


# -- the run --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--evidence", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=100, help="per endpoint")
    parser.add_argument("--plans", type=Path, help="write every EXPLAIN here (default: stderr)")
    parser.add_argument("--database", help="reuse this filled database (kept): no fill")
    args = parser.parse_args()
    log = sys.stderr
    with (
        tempfile.TemporaryDirectory(prefix="casefile-scale-") as scratch,
        nullcontext(args.database) if args.database else scratch_database() as url,
    ):
        work = Path(scratch)
        env = {"CASEFILE_DATABASE_URL": url, "CASEFILE_STORAGE_URL": f"file://{work}/objects"}
        with serve(env, work, workers=2) as server:
            engine = create_engine(url)
            fill_seconds = None
            if not args.database:
                started = time.monotonic()
                print("filling:", file=log)
                with engine.connect() as connection:
                    fill(
                        connection,
                        cases=args.cases,
                        evidence=args.evidence,
                        events=args.events,
                        log=log,
                    )
                fill_seconds = time.monotonic() - started
            # A reused database has users already: the server made no first admin.
            tokens = {"admin": server.token or add_admin_token(engine), **add_tokens(engine)}
            samples = sample_ids(engine, 50)
            lines = report_header(engine, fill_seconds)
            settings = Settings(
                database_url=url,
                storage_url=f"file://{work}/objects",
                signing_key_file=work / "casefile-data" / "signing-key.pem",
                identity_key_file=work / "casefile-data" / "identity-key",
            )
            plans_out = args.plans.open("w") if args.plans else log
            rows = measure(args, engine, server.url, settings, tokens, samples, plans_out)
            lines += rows
            engine.dispose()
    print("\n".join(lines))


def report_header(engine: Engine, fill_seconds: float | None) -> list[str]:
    with engine.connect() as connection:
        counts = {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            for table in ("cases", "case_members", "evidence_items", "audit_events", "testimonies")
        }
        size = connection.execute(
            text("SELECT pg_size_pretty(pg_database_size(current_database()))")
        ).scalar_one()
    return [
        f"## Data at scale (`python -m bench.scale`) — {today()}",
        "",
        f"Machine: {machine()}. "
        + (f"Filled in {fill_seconds:.0f} s" if fill_seconds else "Reused")
        + f" (database {size}): "
        + ", ".join(f"{n:,} {t}" for t, n in counts.items())
        + ". Latency: one client, sequential requests over 50 sampled cases, "
        "`casefile serve --workers 2`.",
        "",
        "| endpoint | as | statements (excl. auth) | seq scans on big tables | slowest statement "
        "| API p50 | API p95 | target p95 < 100 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]


def measure(
    args: argparse.Namespace,
    engine: Engine,
    base_url: str,
    settings: Settings,
    tokens: dict[str, str],
    samples: list[dict[str, Any]],
    plans_out: Any,
) -> list[str]:
    rows = []
    rng = random.Random(7)  # noqa: S311
    rng.shuffle(samples)
    with (
        in_process_app(settings) as (app_client, captured),
        httpx.Client(base_url=base_url, timeout=60) as api,
    ):
        first_page = api.get(
            "/api/v1/cases", headers={"Authorization": f"Bearer {tokens['admin']}"}
        )
        cursor = first_page.json()["next_cursor"]
        for label, who, template in endpoints(samples[0]):
            path = template.replace("{cursor}", cursor)
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            captured.clear()
            answer = app_client.get(path, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
            statements = [(s, p) for s, p in captured if not is_authentication(s)]
            plans = [explain(engine, s, p) for s, p in statements]
            print(f"\n### {label} — as {who}: GET {path}", file=plans_out)
            for (statement, params), plan in zip(statements, plans, strict=True):
                print(f"\n{statement}\n{params}\n{plan}", file=plans_out)
            scans = sorted({t for plan in plans for t in seq_scans(plan)})
            slowest = max((execution_ms(p) for p in plans), default=0.0)
            values = latencies(api, path, tokens[who], samples, args.requests)
            fast = p95(values) < 0.1
            rows.append(
                f"| {label} | {who} | {len(statements)} | {', '.join(scans) or 'none'} | "
                f"{slowest:.1f} ms | {statistics.median(values) * 1000:.1f} ms | "
                f"{p95(values) * 1000:.1f} ms | {'✔' if fast else '✘'} |"
            )
            print(rows[-1], file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()
