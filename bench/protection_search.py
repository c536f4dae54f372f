"""Search through protected strings (issue 14): for a member who may not identify witnesses, a
word found only inside a protected string must answer as a word found nowhere answers — the
same empty page, at the same cost, so that neither the count nor the time tells a guess right.

Data: a PostgreSQL database filled by bench.scale_fill (default 100,000 cases with their
testimonies and site visits; texts that name nobody), then, through the API, `--planted` cases
(default 50) each with a registered witness (full name, phone, other spellings) who is named in
the case's summary, a testimony's statement and a site-visit note. Two investigators who may not
identify are added to every planted case as viewers: one who is a member of 300 filled cases,
one of 10,000; a third member may identify (the planted cases only).

Each pair of queries is measured interleaved (A, B, A, B, …: whatever drifts hits both alike)
through `casefile serve --workers 2`, one client, sequential requests; the statements the app
runs are also captured in-process and shown with EXPLAIN (ANALYZE, BUFFERS), their buffer counts
summed: pages read, the cost that does not depend on the machine's noise.

Run: .venv/bin/python -m bench.protection_search [--cases 100000] [--planted 50]
     [--requests 200] [--plans FILE]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
from sqlalchemy import Engine, create_engine, text

from app.auth.tokens import new_token_secret, secret_digest
from app.config import Settings
from bench.common import machine, scratch_database, today
from bench.evidence_transfer import serve
from bench.scale import explain, in_process_app, is_authentication, p95
from bench.scale_fill import fill

SURNAME = "Gevorgyan"
PHONE = "+374 91 123456"
OTHER_SPELLINGS = ["Kevorkian", "Անահիտ Գևորգյան", "Анаит Геворгян"]
# (label, protected-only query, query that matches nothing: the same shape, one letter off).
PAIRS = [
    ("surname", SURNAME, "Gevorgzan"),
    ("phone digits", "91123456", "91123457"),
    ("other spelling (Cyrillic)", "Геворгян", "Геворгзян"),
    ("other spelling (Latin)", "Kevorkian", "Kevorkiam"),
]
MEMBERS = {"member of 300": "scale-0001", "member of 10,050": "scale-heavy"}
IDENTIFIER = "scale-0002"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200, help="per query")
    parser.add_argument("--plans", type=Path, help="write every EXPLAIN here (default: none)")
    args = parser.parse_args()
    log = sys.stderr
    with (
        tempfile.TemporaryDirectory(prefix="casefile-psearch-") as scratch,
        scratch_database() as url,
    ):
        work = Path(scratch)
        env = {"CASEFILE_DATABASE_URL": url, "CASEFILE_STORAGE_URL": f"file://{work}/objects"}
        with serve(env, work, workers=2) as server:
            engine = create_engine(url)
            started = time.monotonic()
            print("filling:", file=log)
            with engine.connect() as connection:
                fill(connection, cases=args.cases, evidence=args.cases, events=args.cases, log=log)
            fill_seconds = time.monotonic() - started
            tokens = {who: user_token(engine, name) for who, name in MEMBERS.items()}
            tokens["identifier"] = user_token(engine, IDENTIFIER)
            with httpx.Client(base_url=server.url, timeout=60) as api:
                plant(api, engine, server.token, args.planted)
                settings = Settings(
                    database_url=url,
                    storage_url=f"file://{work}/objects",
                    signing_key_file=work / "casefile-data" / "signing-key.pem",
                    identity_key_file=work / "casefile-data" / "identity-key",
                )
                plans_out = args.plans.open("w") if args.plans else None
                rows = measure(api, engine, settings, tokens, args.requests, plans_out)
            lines = header(args, fill_seconds) + rows
            engine.dispose()
    print("\n".join(lines))


# -- data -----------------------------------------------------------------------------------------
def user_token(engine: Engine, name: str) -> str:
    secret = new_token_secret()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO api_tokens (id, user_id, secret_sha256, label, created_at) "
                "SELECT :id, id, :digest, 'bench', now() FROM users WHERE name = :name"
            ),
            {"id": uuid.uuid4(), "digest": secret_digest(secret), "name": name},
        )
    return secret


def user_id(engine: Engine, name: str) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT id FROM users WHERE name = :name"), {"name": name}
            ).scalar_one()
        )


def plant(api: httpx.Client, engine: Engine, admin_token: str, count: int) -> None:
    """`count` cases naming their witness in case, testimony and visit texts (written by the
    admin, their lead), with the members of MEMBERS and IDENTIFIER added."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    joining = [(user_id(engine, n), False) for n in MEMBERS.values()]
    joining.append((user_id(engine, IDENTIFIER), True))
    for n in range(count):
        case = ok(
            api.post(
                "/api/v1/cases",
                headers=admin,
                json={
                    "title": f"Missile strike on Martuni, planted #{n}",
                    "occurred_at": "2020-09-27T06:00:00Z",
                    "summary": f"The strike hit the house of the {SURNAME} family.",
                    "location": {"name": "Martuni", "lat": 39.7946, "lon": 47.1136},
                },
            )
        )["id"]
        for member, identifies in joining:
            ok(
                api.put(
                    f"/api/v1/cases/{case}/members/{member}",
                    headers=admin,
                    json={"role": "viewer", "can_identify_witnesses": identifies},
                ),
                200,
            )
        witness = ok(
            api.post(
                f"/api/v1/cases/{case}/witnesses",
                headers=admin,
                json={
                    "full_name": f"Anahit {SURNAME}",
                    "contact": PHONE,
                    "other_spellings": OTHER_SPELLINGS,
                    "consent": {"use_testimony_in_reports": True},
                    "risk_level": "high",
                },
            )
        )["id"]
        ok(
            api.post(
                f"/api/v1/cases/{case}/testimonies",
                headers=admin,
                json={
                    "witness_id": witness,
                    "recorded_at": "2020-12-02T10:00:00Z",
                    "language": "hy",
                    "statement": f"I, Anahit {SURNAME} (Анаит Геворгян, call {PHONE} or "
                    "91123456 on WhatsApp), saw "
                    "the missile hit. Kevorkian is how the diaspora writes us.",
                },
            )
        )
        ok(
            api.post(
                f"/api/v1/cases/{case}/site-visits",
                headers=admin,
                json={
                    "visited_at": "2020-12-03T09:00:00Z",
                    "observations": f"Crater beside the house of Ms {SURNAME}; glass everywhere.",
                },
            )
        )


def ok(answer: httpx.Response, status: int = 201) -> dict[str, Any]:
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")
    body: dict[str, Any] = answer.json()
    return body


# -- measuring ------------------------------------------------------------------------------------
def measure(
    api: httpx.Client,
    engine: Engine,
    settings: Settings,
    tokens: dict[str, str],
    requests: int,
    plans_out: Any,
) -> list[str]:
    rows = []
    with in_process_app(settings) as (app_client, captured):

        def run_in_process(query: str, token: str) -> tuple[int, int, float]:
            """(cases found, buffers read by the statements, slowest statement in ms)."""
            path = f"/api/v1/cases?q={quote(query)}&limit=100"
            captured.clear()
            answer = app_client.get(path, headers={"Authorization": f"Bearer {token}"})
            found = len(ok(answer, 200)["items"])
            statements = [(s, p) for s, p in captured if not is_authentication(s)]
            plans = [explain(engine, s, p) for s, p in statements]
            if plans_out is not None:
                print(f"\n### q={query} as {token[:6]}…", file=plans_out)
                for (statement, params), plan in zip(statements, plans, strict=True):
                    print(f"\n{statement}\n{params}\n{plan}", file=plans_out)
            return found, sum(map(buffers, plans)), max(map(execution_ms, plans), default=0.0)

        for who in (*MEMBERS, "identifier"):
            for label, protected, nothing in PAIRS:
                times = interleaved(api, tokens[who], protected, nothing, requests)
                for query, kind in ((protected, "only in protected strings"), (nothing, "nowhere")):
                    found, pages, slowest = run_in_process(query, tokens[who])
                    values = times[query]
                    rows.append(
                        f"| {who} | {label}: `{query}` ({kind}) | {found} | {pages:,} | "
                        f"{slowest:.1f} ms | {statistics.median(values) * 1000:.2f} ms | "
                        f"{p95(values) * 1000:.2f} ms |"
                    )
                    print(rows[-1], file=sys.stderr)
    return rows


def interleaved(
    api: httpx.Client, token: str, first: str, second: str, requests: int
) -> dict[str, list[float]]:
    headers = {"Authorization": f"Bearer {token}"}
    times: dict[str, list[float]] = {first: [], second: []}
    for index in range(requests + 5):
        for query in (first, second) if index % 2 else (second, first):
            started = time.perf_counter()
            answer = api.get(f"/api/v1/cases?q={quote(query)}&limit=100", headers=headers)
            elapsed = time.perf_counter() - started
            ok(answer, 200)
            if index >= 5:  # the first few warm the workers' caches
                times[query].append(elapsed)
    return times


_BUFFERS = re.compile(r"Buffers: shared (?:hit=(\d+))?\s*(?:read=(\d+))?")


def buffers(plan: str) -> int:
    """Shared pages hit or read by a plan's top node (its first Buffers line: the total)."""
    for line in plan.splitlines():
        if match := _BUFFERS.search(line):
            return sum(int(g) for g in match.groups() if g)
    return 0


def execution_ms(plan: str) -> float:
    for line in plan.splitlines():
        if line.startswith("Execution Time:"):
            return float(line.split(":")[1].split()[0])
    return 0.0


def header(args: argparse.Namespace, fill_seconds: float) -> list[str]:
    return [
        f"## Search through protected strings (`python -m bench.protection_search`) — {today()}",
        "",
        f"Machine: {machine()}. {args.cases:,} filled cases (filled in {fill_seconds:.0f} s) "
        f"and {args.planted} planted ones naming their witness; `casefile serve --workers 2`, "
        f"one client, {args.requests} requests per query, each pair interleaved. Pages: shared "
        "buffers (hit + read) of the search's statements under EXPLAIN (ANALYZE, BUFFERS).",
        "",
        "| as | query | cases found | pages | slowest statement | API p50 | API p95 |",
        "|---|---|---|---|---|---|---|",
    ]


if __name__ == "__main__":
    main()
