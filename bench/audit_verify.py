"""Time and peak memory to verify 1,000,000 audit events streamed from PostgreSQL.

Builds valid chains (1,000 cases x 1,000 events, signed every 500) with COPY, then runs
`verify_all` in a fresh process and reports events/s and that process's peak RSS, for two
sizes ten times apart: the same peak for both shows that memory does not grow with the trail.

Run: .venv/bin/python -m bench.audit_verify [events]
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import create_engine

from app.audit import canonical
from app.audit import service as audit
from app.audit.signing import Signer, load_or_create_signer
from app.audit.verify import verify_all
from app.db import create_database
from bench.common import machine, scratch_database, today

EVENTS_PER_CHAIN = 1_000
SIGN_EVERY = 500


def fill(url: str, signer: Signer, events: int) -> None:
    engine = create_engine(url)
    chains = max(1, events // EVENTS_PER_CHAIN)
    with engine.begin() as connection:
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor:
            heads, checkpoints = [], []
            copy_events = (
                "COPY audit_events (chain_id, seq, prev_hash, hash, resource_type, resource_id,"
                " body) FROM STDIN"
            )
            with cursor.copy(copy_events) as copy:
                for _ in range(chains):
                    case_id = str(uuid.uuid4())
                    chain = canonical.case_chain(case_id)
                    prev = canonical.GENESIS_HASH
                    for seq in range(1, EVENTS_PER_CHAIN + 1):
                        # Already RFC 8785 canonical: sorted keys, no whitespace.
                        body = (
                            '{"action":"case.updated","actor_id":null,'
                            f'"at":"2026-01-01T00:00:00.000000Z","case_id":"{case_id}",'
                            f'"client_address":null,"payload":{{"n":{seq}}},"request_id":null}}'
                        ).encode()
                        digest = canonical.event_hash(
                            chain=chain,
                            seq=seq,
                            prev_hash=prev,
                            resource_type="case",
                            resource_id=case_id,
                            body=body,
                        )
                        copy.write_row((chain, seq, prev, digest, "case", case_id, body.decode()))
                        prev = digest
                        if seq % SIGN_EVERY == 0:
                            checkpoints.append(sign(signer, chain, seq, digest))
                    heads.append((chain, EVENTS_PER_CHAIN, prev))
            with cursor.copy(
                "COPY audit_checkpoints (chain_id, length, head_hash, signed_at, key_id, signature)"
                " FROM STDIN"
            ) as copy:
                for row in checkpoints:
                    copy.write_row(row)
            with cursor.copy(
                "COPY audit_chains (chain_id, length, head_hash, updated_at, checkpoint_length)"
                " FROM STDIN"
            ) as copy:
                for chain, length, head in heads:
                    copy.write_row((chain, length, head, "2026-01-01T00:00:00Z", length))
    engine.dispose()


def sign(signer: Signer, chain: str, length: int, head: str) -> tuple[object, ...]:
    at = "2026-01-01T00:00:00.000000Z"
    message = canonical.checkpoint_message(
        chain=chain, length=length, head_hash=head, signed_at=at, key_id=signer.key_id
    )
    return (chain, length, head, at, signer.key_id, signer.sign(message))


def measure(url: str) -> tuple[int, float, int, bool]:
    """In a fresh process: verify, and report events, seconds, peak RSS (KiB) and the verdict."""
    engine = create_engine(url)
    started = time.perf_counter()
    report = verify_all(engine)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine.dispose()
    return report.events, elapsed, peak, report.ok


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rows = []
    for events in (total // 10, total):
        with TemporaryDirectory() as keys, scratch_database() as url:
            signer = load_or_create_signer(Path(keys) / "signing-key.pem")
            database = create_database(url, signer=signer)
            with database.write_sessions.begin() as session:
                audit.register_signing_key(session, signer)
            database.dispose()
            started = time.perf_counter()
            fill(url, signer, events)
            print(f"filled {events:,} events in {time.perf_counter() - started:.1f} s", flush=True)
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                checked, seconds, peak, ok = pool.apply(measure, (url,))
            rate = checked / seconds
            print(
                f"verified {checked:,} events in {seconds:.2f} s = {rate:,.0f}/s, "
                f"verifier process peak RSS {peak / 1024:.1f} MiB, ok={ok}",
                flush=True,
            )
            rows.append((checked, seconds, rate, peak / 1024, ok))
    print(f"\n{today()} — {machine()}")
    for checked, seconds, rate, peak, ok in rows:
        print(f"| {checked:,} | {seconds:.2f} s | {rate:,.0f}/s | {peak:.1f} MiB | {ok} |")


if __name__ == "__main__":
    main()
