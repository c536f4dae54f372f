"""Case bundle export from SeaweedFS, against reading the same objects with boto3 directly.

Side by side in one run, on one machine (SeaweedFS `weed mini` and PostgreSQL local):
- a case of N evidence files (default 1,000 totalling 1 GiB, sizes spread from 1/4 to 7/4 of
  the mean), uploaded through the API;
- direct: boto3 `get_object` of each of those objects in turn, read to the end (what a script
  with bucket access would do), against `GET /cases/{id}/bundle` read to the end with
  http.client (the HTTP stack under boto3). Rounds alternate so neither side gets a warmer
  machine; the time to the bundle's first byte is reported apart (it includes the export's
  audit transaction and rendering the bundle's own files);
- the server's peak RSS growth during each export (VmHWM reset before), for this case and for
  a case of a few large files (bundle size should not matter);
- optionally (`--items`), a case of many small items: the time to first byte and peak RSS.
The last bundle of each case is checked with `casefile verify-bundle` (not timed).

Run: .venv/bin/python -m bench.bundle_transfer [--files 1000] [--gib 1] [--rounds 3]
         [--big-files 4] [--big-gib 4] [--items 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

from bench.common import machine, today
from bench.evidence_transfer import (
    GIB,
    MIB,
    Server,
    _connection,
    create_case,
    mib_s,
    start_s3_service,
    tick,
)

PREFIX = "casefile"


@dataclass
class Export:
    seconds: float
    first_byte: float
    size: int
    peak_rss_growth: int
    path: Path | None


def upload_bytes(server: Server, case_id: str, data: bytes, name: str) -> dict[str, Any]:
    boundary = secrets.token_hex(16)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nphoto\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    connection = _connection(server)
    try:
        connection.request(
            "POST",
            f"/api/v1/cases/{case_id}/evidence",
            body=body,
            headers={**server.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        answer = connection.getresponse()
        text = answer.read()
    finally:
        connection.close()
    if answer.status != 201:
        raise RuntimeError(f"upload refused: {answer.status} {text[:300]!r}")
    item: dict[str, Any] = json.loads(text)
    return item


def fill_case(server: Server, case_id: str, count: int, total: int) -> list[dict[str, Any]]:
    """`count` files of random bytes, sizes spread around the mean, summing to `total`."""
    rng = random.Random(7)
    weights = [rng.uniform(0.25, 1.75) for _ in range(count)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    sizes[-1] += total - sum(sizes)
    items = []
    started = time.perf_counter()
    for index, size in enumerate(sizes):
        items.append(upload_bytes(server, case_id, os.urandom(size), f"photo-{index:05d}.jpg"))
        if (index + 1) % 250 == 0:
            print(f"  uploaded {index + 1}/{count}", file=sys.stderr)
    print(f"  {count} uploads in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return items


def direct_read(client: Any, bucket: str, case_id: str, items: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    received = 0
    for item in items:
        body = client.get_object(Bucket=bucket, Key=f"{PREFIX}/evidence/{case_id}/{item['id']}")
        stream = body["Body"]
        while chunk := stream.read(MIB):
            received += len(chunk)
        stream.close()
    seconds = time.perf_counter() - started
    expected = sum(item["size"] for item in items)
    if received != expected:
        raise RuntimeError(f"read {received} bytes directly, expected {expected}")
    return seconds


def export(server: Server, case_id: str, keep: Path | None = None) -> Export:
    buffer = memoryview(bytearray(MIB))
    baseline = server.memory("VmRSS")
    server.reset_peak_rss()
    connection = _connection(server)
    out = keep.open("wb") if keep else None
    try:
        started = time.perf_counter()
        connection.request("GET", f"/api/v1/cases/{case_id}/bundle", headers=server.headers)
        answer = connection.getresponse()
        if answer.status != 200:
            raise RuntimeError(f"export refused: {answer.status} {answer.read()[:300]!r}")
        length = int(answer.headers["Content-Length"])
        first = answer.readinto(buffer)
        first_byte = time.perf_counter() - started
        received = first
        if out:
            out.write(buffer[:first])
        while count := answer.readinto(buffer):
            received += count
            if out:
                out.write(buffer[:count])
        seconds = time.perf_counter() - started
    finally:
        connection.close()
        if out:
            out.close()
    if received != length:
        raise RuntimeError(f"bundle of {received} bytes, Content-Length said {length}")
    return Export(seconds, first_byte, received, server.memory("VmHWM") - baseline, keep)


def verify(path: Path) -> str:
    casefile = str(Path(sys.executable).parent / "casefile")
    result = subprocess.run(
        [casefile, "verify-bundle", str(path)], capture_output=True, text=True, check=False
    )
    path.unlink()
    # The verdict is the last line on stdout; a refusal to run is on stderr.
    lines = (result.stdout.strip() or result.stderr.strip()).splitlines()[-1:]
    return "verified ✔" if result.returncode == 0 else (lines[0] if lines else "FAILED")


def run(args: argparse.Namespace, work: Path) -> list[str]:
    lines: list[str] = []
    with ExitStack() as stack:
        server, client, bucket = start_s3_service(stack, work, "server")
        api = stack.enter_context(httpx.Client(headers=server.headers, timeout=None))
        total = int(args.gib * GIB)

        case_id = create_case(api, server)
        print(f"filling a case with {args.files} files, {args.gib:g} GiB", file=sys.stderr)
        items = fill_case(server, case_id, args.files, total)
        direct, exports = [], []
        for number in range(args.rounds):
            direct.append(direct_read(client, bucket, case_id, items))
            keep = work / "bundle.zip" if number == args.rounds - 1 else None
            exports.append(export(server, case_id, keep))
            print(
                f"round {number + 1}: direct {mib_s(total, direct[-1]):.0f} MiB/s, bundle "
                f"{mib_s(exports[-1].size, exports[-1].seconds):.0f} MiB/s "
                f"(first byte {exports[-1].first_byte * 1000:.0f} ms, "
                f"+{exports[-1].peak_rss_growth / MIB:.1f} MiB RSS)",
                file=sys.stderr,
            )
        checked = verify(work / "bundle.zip")
        direct_rate = mib_s(total, statistics.median(direct))
        bundle_rate = statistics.median(mib_s(e.size, e.seconds) for e in exports)
        evidence_rate = statistics.median(mib_s(total, e.seconds) for e in exports)
        growth = max(e.peak_rss_growth for e in exports)
        first = statistics.median(e.first_byte for e in exports)
        lines += [
            "| what | boto3 direct | bundle through the API | ratio | target |",
            "|---|---|---|---|---|",
            f"| {args.files:,} files, {args.gib:g} GiB, median of {args.rounds} | "
            f"{direct_rate:.0f} MiB/s | {bundle_rate:.0f} MiB/s of ZIP "
            f"({evidence_rate:.0f} MiB/s of evidence) | {evidence_rate / direct_rate:.0%} | "
            f"≥ 85% {tick(evidence_rate >= 0.85 * direct_rate)} |",
            "",
            "| case | bundle size | first byte | server peak RSS growth | target | verify-bundle |",
            "|---|---|---|---|---|---|",
            f"| {args.files:,} files, {args.gib:g} GiB | {exports[-1].size / GIB:.2f} GiB | "
            f"{first * 1000:.0f} ms | {growth / MIB:.1f} MiB | < 64 MiB {tick(growth < 64 * MIB)}"
            f" | {checked} |",
        ]
        if args.big_files:
            lines.append(big_case(args, server, api, work))
        if args.items:
            lines.append(many_items_case(args, server, api, work))
    return lines


def big_case(args: argparse.Namespace, server: Server, api: httpx.Client, work: Path) -> str:
    case_id = create_case(api, server)
    total = int(args.big_gib * GIB)
    print(f"filling a case with {args.big_files} files, {args.big_gib:g} GiB", file=sys.stderr)
    fill_case(server, case_id, args.big_files, total)
    done = export(server, case_id, work / "big.zip")
    checked = verify(work / "big.zip")
    growth = done.peak_rss_growth
    return (
        f"| {args.big_files} files, {args.big_gib:g} GiB ({mib_s(done.size, done.seconds):.0f}"
        f" MiB/s) | {done.size / GIB:.2f} GiB | {done.first_byte * 1000:.0f} ms | "
        f"{growth / MIB:.1f} MiB | < 64 MiB {tick(growth < 64 * MIB)} | {checked} |"
    )


def many_items_case(args: argparse.Namespace, server: Server, api: httpx.Client, work: Path) -> str:
    case_id = create_case(api, server)
    print(f"filling a case with {args.items} small files", file=sys.stderr)
    fill_case(server, case_id, args.items, args.items * 4096)
    done = export(server, case_id, work / "many.zip")
    checked = verify(work / "many.zip")
    growth = done.peak_rss_growth
    return (
        f"| {args.items:,} items of ~4 KiB | {done.size / MIB:.0f} MiB | "
        f"{done.first_byte * 1000:.0f} ms | {growth / MIB:.1f} MiB | (metadata grows with the "
        f"item count) | {checked} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-files", type=int, default=4)
    parser.add_argument("--big-gib", type=float, default=4.0)
    parser.add_argument("--items", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="casefile-bench-") as scratch:
        lines = [f"## Case bundle export (`python -m bench.bundle_transfer`) — {today()}", ""]
        lines += [f"Machine: {machine()}.", ""]
        lines += run(args, Path(scratch))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
