"""Load: a realistic mix of requests from many concurrent clients against `casefile serve
--workers 2` on PostgreSQL + SeaweedFS, and `GET /api/v1/cases/{id}` side by side with a bare
FastAPI app doing the same single-row SELECT (bench/bare_case_read.py, also 2 workers).

The data is seeded through the API: investigators, each lead of some cases and viewer of
others, cases with tags, places and coordinates, witnesses, testimonies, site visits and photos.
Each client is one user with its own token, and asks only about cases it is a member of.

The mix (weights in OPERATIONS): lists and searches 60% (case list plain and filtered by status,
tag, date range and bounding box, text search, evidence and testimony lists of a case), single
reads 25% (case, testimony, evidence item), testimony writes 10%, photo uploads of 2–5 MiB 5%.
Clients are closed-loop (the next request leaves when the answer arrived; `--think S` adds
exponential pauses of S seconds on average between a client's requests, as people make) and
spread over a few processes so that the client's own GIL is not what is measured. Latency is
the client's: from sending the request to the last byte of the answer. Anything but the
expected status is an error.

Run: .venv/bin/python -m bench.load_mix [--clients 50] [--duration 60] [--side-seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx

from bench.common import machine, scratch_database, today
from bench.evidence_transfer import Server, serve
from bench.load_photos import make_photos, unique_variant
from bench.load_seed import CasePlan, UserPlan, seed
from tests.fixtures.seaweed import SeaweedServer, free_port

READS = ("get_case", "get_testimony", "get_evidence")
LISTS = (
    "list_cases",
    "list_cases_status",
    "list_cases_tag",
    "list_cases_period",
    "list_cases_bbox",
    "search_cases",
    "list_evidence",
    "list_testimonies",
)
# Percentages: lists/search 60, reads 25, testimony writes 10, uploads 5.
OPERATIONS: dict[str, int] = {
    "list_cases": 14,
    "list_cases_status": 6,
    "list_cases_tag": 6,
    "list_cases_period": 5,
    "list_cases_bbox": 5,
    "search_cases": 12,
    "list_evidence": 6,
    "list_testimonies": 6,
    "get_case": 13,
    "get_testimony": 6,
    "get_evidence": 6,
    "create_testimony": 10,
    "upload_photo": 5,
}
assert sum(OPERATIONS.values()) == 100
SEARCH_WORDS = ("missile", "school", "shelter", "cluster", "Martuni", "Stepanakert", "market")


# -- one client -----------------------------------------------------------------------------------
@dataclass
class Tally:
    """What one load process saw: latencies per operation, errors with a few samples."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        for name, values in other.latencies.items():
            self.latencies[name].extend(values)
        for name, count in other.errors.items():
            self.errors[name] += count
        self.samples.extend(other.samples[: 10 - len(self.samples)])


class Client:
    """One user issuing one request at a time, chosen by weight from `operations`."""

    def __init__(
        self, http: httpx.AsyncClient, user: UserPlan, photos: list[bytes], rng: random.Random
    ) -> None:
        self.http = http
        self.user = user
        self.photos = photos
        self.rng = rng
        self.headers = {"Authorization": f"Bearer {user.token}"}

    def case(self) -> CasePlan:
        return self.rng.choice(self.user.cases)

    def request(self, name: str) -> tuple[Awaitable[httpx.Response], int]:
        """The request for operation `name`, and the status that means success."""
        get = self.http.get
        case = self.case()
        rng = self.rng
        match name:
            case "list_cases":
                return get("/api/v1/cases", headers=self.headers), 200
            case "list_cases_status":
                status = rng.choice(("open", "under_review"))
                return get("/api/v1/cases", params={"status": status}, headers=self.headers), 200
            case "list_cases_tag":
                tag = rng.choice(case.tags)
                return get("/api/v1/cases", params={"tag": tag}, headers=self.headers), 200
            case "list_cases_period":
                year = rng.choice((2020, 2021, 2022))
                params = {
                    "occurred_from": f"{year}-01-01T00:00:00Z",
                    "occurred_to": f"{year}-06-30T00:00:00Z",
                }
                return get("/api/v1/cases", params=params, headers=self.headers), 200
            case "list_cases_bbox":
                params = {"bbox": "46.0,39.0,47.5,40.5"}
                return get("/api/v1/cases", params=params, headers=self.headers), 200
            case "search_cases":
                params = {"q": rng.choice(SEARCH_WORDS)}
                return get("/api/v1/cases", params=params, headers=self.headers), 200
            case "list_evidence":
                return get(f"/api/v1/cases/{case.id}/evidence", headers=self.headers), 200
            case "list_testimonies":
                return get(f"/api/v1/cases/{case.id}/testimonies", headers=self.headers), 200
            case "get_case":
                return get(f"/api/v1/cases/{case.id}", headers=self.headers), 200
            case "get_testimony":
                testimony = rng.choice(case.testimony_ids)
                return get(f"/api/v1/testimonies/{testimony}", headers=self.headers), 200
            case "get_evidence":
                evidence = rng.choice(case.evidence_ids)
                return get(f"/api/v1/evidence/{evidence}", headers=self.headers), 200
            case "create_testimony":
                return self.http.post(
                    f"/api/v1/cases/{case.id}/testimonies",
                    json=testimony_body(case.witness_id, rng),
                    headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex},
                ), 201
            case "upload_photo":
                photo = unique_variant(rng.choice(self.photos))
                return self.http.post(
                    f"/api/v1/cases/{case.id}/evidence",
                    files={"file": ("strike-site.jpg", photo, "image/jpeg")},
                    data={"kind": "photo", "title": "Crater and debris", "source": "field team"},
                    headers=self.headers,
                ), 201
        raise ValueError(name)


def testimony_body(witness_id: str, rng: random.Random) -> dict[str, str]:
    sentences = [
        "We heard the whistle first, then the explosion shook the whole street.",
        "The shelter under the school was full of families from the neighbouring houses.",
        "Fragments were scattered across the market; my neighbour's car was burning.",
        "After the second strike the ambulance could not reach the square for an hour.",
    ]
    return {
        "witness_id": witness_id,
        "recorded_at": "2021-03-02T10:00:00Z",
        "statement": " ".join(rng.choices(sentences, k=rng.randint(4, 12))),
        "language": "en",
        "place": "Stepanakert",
    }


async def run_client(
    client: Client, operations: dict[str, int], stop_at: float, tally: Tally, think: float
) -> None:
    names, weights = list(operations), list(operations.values())
    while time.monotonic() < stop_at:
        if think:  # a person reading the last answer: exponential pauses of `think` s on average
            await asyncio.sleep(client.rng.expovariate(1 / think))
        name = client.rng.choices(names, weights)[0]
        started = time.perf_counter()
        try:
            pending, expected = client.request(name)
            answer = await pending
            elapsed = time.perf_counter() - started
            ok = answer.status_code == expected
            detail = f"{answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as exc:
            elapsed, ok, detail = time.perf_counter() - started, False, repr(exc)
        if ok:
            tally.latencies[name].append(elapsed)
        else:
            tally.errors[name] += 1
            if len(tally.samples) < 10:
                tally.samples.append(f"{name}: {detail}")


async def run_clients(
    base_url: str,
    users: list[UserPlan],
    operations: dict[str, int],
    seconds: float,
    photos: list[bytes],
    seed_value: int,
    think: float,
) -> Tally:
    tally = Tally()
    limits = httpx.Limits(max_connections=len(users), max_keepalive_connections=len(users))
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
        stop_at = time.monotonic() + seconds
        clients = [
            Client(http, user, photos, random.Random(seed_value * 1000 + index))  # noqa: S311
            for index, user in enumerate(users)
        ]
        await asyncio.gather(*(run_client(c, operations, stop_at, tally, think) for c in clients))
    return tally


def load_process(args: tuple[Any, ...], out: Any) -> None:
    """In its own process: run its share of the clients, send back the tally."""
    tally = asyncio.run(run_clients(*args))
    out.send((dict(tally.latencies), dict(tally.errors), tally.samples))


@dataclass
class Run:
    tally: Tally
    seconds: float
    load_before: str
    load_after: str

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.tally.latencies.values()) + sum(self.tally.errors.values())


def run_load(
    base_url: str,
    users: list[UserPlan],
    operations: dict[str, int],
    seconds: float,
    processes: int,
    photos: list[bytes],
    think: float = 0.0,
) -> Run:
    """`len(users)` clients split over `processes` processes, all for `seconds`, each pausing
    `think` seconds on average between requests (0: closed loop, the machine saturated)."""
    context = multiprocessing.get_context("spawn")
    workers = []
    shares = [users[index::processes] for index in range(processes)]
    load_before = loadavg()
    for index, share in enumerate(shares):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=load_process,
            args=((base_url, share, operations, seconds, photos, index, think), sender),
        )
        process.start()
        workers.append((process, receiver))
    tally = Tally()
    for process, receiver in workers:
        latencies, errors, samples = receiver.recv()
        process.join()
        tally.merge(Tally(defaultdict(list, latencies), defaultdict(int, errors), samples))
    # Each process measures for `seconds` from its own start; spawning is not load time.
    return Run(tally, seconds, load_before, loadavg())


# -- the servers ----------------------------------------------------------------------------------
def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextmanager
def casefile_stack(work: Path, workers: int) -> Iterator[tuple[Server, str]]:
    """SeaweedFS, a scratch PostgreSQL database and `casefile serve --workers N` on both."""
    with ExitStack() as stack:
        weed = SeaweedServer(work / "seaweed")
        stack.callback(weed.stop)
        weed.start()
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        weed.endpoint.client().create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
        database_url = stack.enter_context(scratch_database())
        env = {
            "CASEFILE_DATABASE_URL": database_url,
            "CASEFILE_STORAGE_URL": f"s3://{bucket}/casefile",
            "CASEFILE_S3_ENDPOINT_URL": weed.endpoint.url,
            "AWS_ACCESS_KEY_ID": weed.endpoint.access_key,
            "AWS_SECRET_ACCESS_KEY": weed.endpoint.secret_key,
            "AWS_DEFAULT_REGION": weed.endpoint.region,
        }
        (work / "server").mkdir()
        yield stack.enter_context(serve(env, work / "server", workers)), database_url


@contextmanager
def bare_server(database_url: str, workers: int) -> Iterator[str]:
    """bench.bare_case_read under the same uvicorn, same worker count, same database."""
    port = free_port()
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    process = subprocess.Popen(
        [uvicorn, "bench.bare_case_read:app", "--port", str(port), "--workers", str(workers)]
        + ["--log-level", "warning", "--no-access-log"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "CFBENCH_DATABASE_URL": database_url},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/docs")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- the report -----------------------------------------------------------------------------------
def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def mix_rows(run: Run) -> list[str]:
    tally = run.tally
    rows = [
        "| operation | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    groups = {
        "all lists and searches": LISTS,
        "all single reads": READS,
        "everything": tuple(OPERATIONS),
    }
    for name in OPERATIONS:
        rows.append(_row(name, tally.latencies.get(name, []), tally.errors.get(name, 0), run))
    for label, names in groups.items():
        values = [v for n in names for v in tally.latencies.get(n, [])]
        errors = sum(tally.errors.get(n, 0) for n in names)
        rows.append(_row(f"**{label}**", values, errors, run))
    return rows


def _row(name: str, values: list[float], errors: int, run: Run) -> str:
    if not values:
        return f"| {name} | 0 | {errors} | 0 | — | — | — |"
    return (
        f"| {name} | {len(values)} | {errors} | {len(values) / run.seconds:.1f} | "
        f"{ms(percentile(values, 0.5))} | {ms(percentile(values, 0.95))} | "
        f"{ms(percentile(values, 0.99))} |"
    )


def side_rows(api: list[Run], bare: list[Run]) -> list[str]:
    rows = [
        "| round | API req/s | API p50 / p99 ms | bare req/s | bare p50 / p99 ms | ratio | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for index, (a, b) in enumerate(zip(api, bare, strict=True)):
        av, bv = a.tally.latencies["get_case"], b.tally.latencies["get_case"]
        rows.append(
            f"| {index + 1} | {len(av) / a.seconds:.0f} | {ms(percentile(av, 0.5))} / "
            f"{ms(percentile(av, 0.99))} | {len(bv) / b.seconds:.0f} | {ms(percentile(bv, 0.5))} "
            f"/ {ms(percentile(bv, 0.99))} | {len(av) / a.seconds / (len(bv) / b.seconds):.0%} "
            f"| {a.load_before} → {b.load_after} |"
        )
    api_rate = statistics.median(len(r.tally.latencies["get_case"]) / r.seconds for r in api)
    bare_rate = statistics.median(len(r.tally.latencies["get_case"]) / r.seconds for r in bare)
    errors = sum(sum(r.tally.errors.values()) for r in api + bare)
    ratio = api_rate / bare_rate
    rows.append(
        f"| **median** | **{api_rate:.0f}** | | **{bare_rate:.0f}** | | **{ratio:.0%}** "
        f"(≥ 60% {'✔' if ratio >= 0.6 else '✘'}) | errors: {errors} |"
    )
    return rows


# -- the run --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--duration", type=float, default=60, help="seconds of the mix")
    parser.add_argument("--side-seconds", type=float, default=15, help="each side, each round")
    parser.add_argument("--side-rounds", type=int, default=3)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument(
        "--think", type=float, default=0.0, help="mean pause between a client's requests, s"
    )
    parser.add_argument("--skip-mix", action="store_true")
    parser.add_argument("--skip-side", action="store_true")
    args = parser.parse_args()
    photos = make_photos()
    with tempfile.TemporaryDirectory(prefix="casefile-load-") as scratch:
        work = Path(scratch)
        with casefile_stack(work, args.workers) as (server, database_url):
            started = time.monotonic()
            users = seed(server.url, server.token, clients=args.clients, cases=args.cases)
            print(f"seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)
            lines = [f"## Load mix (`python -m bench.load_mix`) — {today()}", ""]
            lines += [
                f"Machine: {machine()}. {args.clients} clients in {args.processes} processes, "
                f"`casefile serve --workers {args.workers}` on PostgreSQL + SeaweedFS.",
                "",
            ]
            # Warm both workers' pools and caches before anything is measured.
            run_load(server.url, users, {"get_case": 1, "list_cases": 1}, 3, args.processes, [])
            if not args.skip_mix:
                mix = run_load(
                    server.url, users, OPERATIONS, args.duration, args.processes, photos, args.think
                )
                lines += [
                    f"Mix for {mix.seconds:.0f} s, think time {args.think:g} s: "
                    f"{mix.requests} requests, "
                    f"{mix.requests / mix.seconds:.0f} req/s; load average "
                    f"{mix.load_before} before, {mix.load_after} after.",
                    "",
                    *mix_rows(mix),
                    "",
                ]
                lines += [f"error: {sample}" for sample in mix.tally.samples]
            if not args.skip_side:
                lines += side_by_side(args, server.url, database_url, users)
    print("\n".join(lines))


def side_by_side(
    args: argparse.Namespace, api_url: str, database_url: str, users: list[UserPlan]
) -> list[str]:
    api: list[Run] = []
    bare: list[Run] = []
    only_get: dict[str, int] = {"get_case": 1}
    with bare_server(database_url, args.workers) as bare_url:
        run_load(bare_url, users, only_get, 3, args.processes, [])
        for _ in range(args.side_rounds):
            api.append(run_load(api_url, users, only_get, args.side_seconds, args.processes, []))
            bare.append(run_load(bare_url, users, only_get, args.side_seconds, args.processes, []))
    return [
        "",
        f"`GET /api/v1/cases/{{id}}` against the bare app (bench/bare_case_read.py), "
        f"{args.clients} clients, {args.side_seconds:g} s each side, alternating:",
        "",
        *side_rows(api, bare),
    ]


if __name__ == "__main__":
    main()
