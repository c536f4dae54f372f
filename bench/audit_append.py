"""Audit appends per second on PostgreSQL: 1, 8 and 32 writers on one case; 32 on 32 cases.

Each append is a whole transaction, as in a request: lock the chain head, hash, insert the
event, move the head, commit. Writers are threads spread over several processes, as requests
are spread over server workers (one process of 32 threads would mostly measure the GIL).

Run: .venv/bin/python -m bench.audit_append [seconds]
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

from app.audit import service as audit
from app.audit.canonical import case_chain
from app.audit.signing import load_or_create_signer
from app.audit.verify import verify_all
from app.db import create_database
from bench.common import machine, scratch_database, today

PROCESSES = 4


def worker_process(
    url: str, key: str, chains: list[str], threads: int, seconds: float, start_at: float
) -> int:
    database = create_database(url, signer=load_or_create_signer(Path(key)), pool_size=threads)
    counts = [0] * threads

    def writer(number: int) -> None:
        chain = chains[number % len(chains)]
        case_id = uuid.UUID(chain.removeprefix("case:"))
        while time.time() < start_at:
            time.sleep(0.001)
        while time.time() < start_at + seconds:
            with database.write_sessions.begin() as session:
                audit.record(
                    session,
                    chain=chain,
                    action="case.updated",
                    resource_type="case",
                    resource_id=case_id,
                    actor_id=None,
                    case_id=case_id,
                    payload={"changes": {"summary": {"from": "a", "to": f"b{counts[number]}"}}},
                )
            counts[number] += 1

    pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    database.dispose()
    return sum(counts)


def run(url: str, key: str, writers: int, chains: list[str], seconds: float) -> float:
    processes = min(PROCESSES, writers)
    start_at = time.time() + 2  # every process connected before the clock starts
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        jobs = [
            pool.apply_async(
                worker_process,
                (url, key, chains[n::processes] or chains, writers // processes, seconds, start_at),
            )
            for n in range(processes)
        ]
        total = sum(job.get() for job in jobs)
    return total / seconds


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    with TemporaryDirectory() as keys, scratch_database() as url:
        key = str(Path(keys) / "signing-key.pem")
        signer = load_or_create_signer(Path(key))
        database = create_database(url, signer=signer)
        with database.write_sessions.begin() as session:
            audit.register_signing_key(session, signer)
        one = [case_chain(uuid.uuid4())]
        many = [case_chain(uuid.uuid4()) for _ in range(32)]
        results = []
        for label, writers, chains in (
            ("1 writer, one case", 1, one),
            ("8 writers, one case", 8, one),
            ("32 writers, one case", 32, one),
            ("32 writers, 32 cases", 32, many),
        ):
            rate = run(url, key, writers, chains, seconds)
            results.append((label, rate))
            print(f"{label:24} {rate:8.0f} appends/s", flush=True)
        report = verify_all(database.engine)
        print(f"afterwards: {report.events} events in {report.chains} chains, ok={report.ok}")
        database.dispose()
    print(f"\n{today()} — {machine()}")
    for label, rate in results:
        print(f"| {label} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
