"""Evidence upload and download through the API against the S3 (or local) store underneath.

Side by side in one run, on one machine:
- SeaweedFS (`weed mini`) with PostgreSQL: a file uploaded with boto3 `upload_fileobj` straight
  to the bucket, then the same file through `POST /cases/{id}/evidence`; downloaded with boto3
  `download_fileobj`, then through `GET /evidence/{id}/content`. Rounds alternate so that
  neither side gets a warmer machine.
- The server's peak RSS growth for each upload (the kernel's high-water mark, reset before).
- p99 latency of a light authenticated GET (`GET /cases/{id}`) idle and during a large upload,
  probed from a separate process so that the client's own GIL does not colour it.
- Local-file storage with SQLite, one worker: upload throughput against single-core
  `hashlib.sha256` over the same bytes in the same run.

The API client is http.client, the HTTP stack boto3 itself uses (through urllib3): it sends the
multipart body from a generator of 1 MiB slices of a file in the page cache and reads
downloads into one reused 1 MiB buffer. (httpx, tried first, caps downloads at ~350 MiB/s on
this machine: it measured itself.) Only byte counts are checked on the client side (the
server's sha256 is compared to the file's), so that client hashing does not steal the CPU the
server needs on a small machine.

Run: .venv/bin/python -m bench.evidence_transfer [--gib 1] [--big-gib 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

from bench.common import machine, scratch_database, today
from tests.fixtures.seaweed import SeaweedServer, free_port

MIB = 1024 * 1024
GIB = 1024 * MIB
SLICE = MIB
CASE = {
    "title": "Missile strikes on Martuni",
    "occurred_at": "2020-09-27T06:00:00Z",
    "summary": "Benchmark case.",
}


# -- the data -------------------------------------------------------------------------------------
def make_file(path: Path, size: int) -> str:
    """Random bytes (incompressible, unlike zeros), written once; returns their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(8 * MIB, left))
            digest.update(block)
            out.write(block)
            left -= len(block)
    return digest.hexdigest()


def sha256_rate(path: Path) -> float:
    """Single-core hashlib.sha256 over the file (from the page cache), bytes per second."""
    digest = hashlib.sha256()
    started = time.perf_counter()
    with path.open("rb", buffering=0) as source:
        while block := source.read(SLICE):
            digest.update(block)
    return path.stat().st_size / (time.perf_counter() - started)


# -- the server -----------------------------------------------------------------------------------
@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    token: str
    last_growth: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def reset_peak_rss(self) -> None:
        """Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0), so the next peak is this run's."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def memory(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {field} in /proc status")


@contextmanager
def serve(env: dict[str, str], workdir: Path, workers: int = 1) -> Iterator[Server]:
    port = free_port()
    casefile = str(Path(sys.executable).parent / "casefile")
    process = subprocess.Popen(
        [casefile, "serve", "--port", str(port), "--workers", str(workers)],
        cwd=workdir,
        # Its data (keys included) in the run's own folder, where in-process apps look too.
        env={**os.environ, "CASEFILE_DATA_DIR": str(workdir / "casefile-data"), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    token = ""
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("Admin token:"):
                token = line.split(":", 1)[1].strip()
            if "is serving at" in line:
                break
        else:
            raise RuntimeError(f"casefile serve exited with {process.wait()}")
        # Keep draining its output so that a full pipe never stalls the server; kept in the
        # file CFBENCH_SERVER_LOG names, if any (the error log of a run that had errors).
        threading.Thread(
            target=_drain, args=(process, os.environ.get("CFBENCH_SERVER_LOG")), daemon=True
        ).start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready")
            time.sleep(0.1)
        yield Server(process, url, token)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _drain(process: subprocess.Popen[str], keep: str | None) -> None:
    assert process.stdout is not None
    if keep is None:
        for _ in process.stdout:
            pass
        return
    with open(keep, "a") as log:
        for line in process.stdout:
            log.write(line)


def create_case(client: httpx.Client, server: Server) -> str:
    answer = client.post(
        f"{server.url}/api/v1/cases", json={**CASE, "title": f"Bench {uuid.uuid4().hex[:6]}"}
    )
    answer.raise_for_status()
    case_id: str = answer.json()["id"]
    return case_id


# -- API transfers --------------------------------------------------------------------------------
def multipart_body(path: Path, boundary: str) -> tuple[Iterator[bytes], int]:
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="kind"\r\n\r\nvideo\r\n'
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = path.stat().st_size

    def chunks() -> Iterator[bytes]:
        yield head
        with path.open("rb", buffering=0) as source:
            while block := source.read(SLICE):
                yield block
        yield tail

    return chunks(), len(head) + size + len(tail)


@dataclass
class Upload:
    seconds: float
    evidence: dict[str, Any]
    peak_rss_growth: int


def _connection(server: Server) -> http.client.HTTPConnection:
    host, port = server.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=600)


def api_upload(server: Server, case_id: str, path: Path) -> Upload:
    """Sent with http.client, the HTTP stack under boto3 itself (through urllib3): the same
    kind of client on both sides, and one light enough not to be what is measured."""
    boundary = secrets.token_hex(16)
    body, length = multipart_body(path, boundary)
    baseline = server.memory("VmRSS")
    server.reset_peak_rss()
    connection = _connection(server)
    try:
        started = time.perf_counter()
        connection.request(
            "POST",
            f"/api/v1/cases/{case_id}/evidence",
            body=body,
            headers={
                **server.headers,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
            encode_chunked=False,
        )
        answer = connection.getresponse()
        text = answer.read()
        seconds = time.perf_counter() - started
    finally:
        connection.close()
    if answer.status != 201:
        raise RuntimeError(f"upload refused: {answer.status} {text[:500]!r}")
    return Upload(seconds, json.loads(text), server.memory("VmHWM") - baseline)


def api_download(server: Server, evidence_id: str, size: int) -> float:
    received = 0
    buffer = memoryview(bytearray(SLICE))
    connection = _connection(server)
    try:
        started = time.perf_counter()
        connection.request("GET", f"/api/v1/evidence/{evidence_id}/content", headers=server.headers)
        answer = connection.getresponse()
        if answer.status != 200:
            raise RuntimeError(f"download refused: {answer.status}")
        while count := answer.readinto(buffer):
            received += count
        seconds = time.perf_counter() - started
    finally:
        connection.close()
    if received != size:
        raise RuntimeError(f"downloaded {received} bytes of {size}")
    return seconds


# -- direct boto3 transfers -----------------------------------------------------------------------
class Sink:
    """A write-only file for download_fileobj that keeps nothing but the count."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)


def boto_upload(client: Any, bucket: str, key: str, path: Path) -> float:
    with path.open("rb") as source:
        started = time.perf_counter()
        client.upload_fileobj(source, bucket, key)
        return time.perf_counter() - started


def boto_download(client: Any, bucket: str, key: str, size: int) -> float:
    sink = Sink()
    started = time.perf_counter()
    client.download_fileobj(bucket, key, sink)
    seconds = time.perf_counter() - started
    if sink.count != size:
        raise RuntimeError(f"downloaded {sink.count} bytes of {size}")
    return seconds


# -- latency probe --------------------------------------------------------------------------------
def probe_latencies(url: str, token: str, stop_at: float, out: Any) -> None:
    """In its own process: GET one case every 20 ms until `stop_at`; send back the latencies."""
    latencies: list[float] = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        while time.time() < stop_at:
            started = time.perf_counter()
            client.get(url).raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
    out.send(latencies)


def start_probe(server: Server, case_id: str, seconds: float) -> tuple[Any, Any]:
    receiver, sender = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context("spawn").Process(
        target=probe_latencies,
        args=(f"{server.url}/api/v1/cases/{case_id}", server.token, time.time() + seconds, sender),
    )
    process.start()
    return process, receiver


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]


# -- the run --------------------------------------------------------------------------------------
def mib_s(size: int, seconds: float) -> float:
    return size / MIB / seconds


def probe_during_upload(
    server: Server, case_id: str, big: Path, rate: float
) -> tuple[list[float], list[float], float]:
    """Latencies of a light GET idle (10 s), then during the upload of `big` (the probe stops
    before the upload should end, at `rate` bytes per second, so it only sees a busy server)."""
    probe, receiver = start_probe(server, case_id, 10)
    idle = receiver.recv()
    probe.join()
    probe, receiver = start_probe(server, case_id, max(big.stat().st_size / rate * 0.8, 3))
    upload = api_upload(server, case_id, big)
    busy = receiver.recv()
    probe.join()
    server.last_growth = upload.peak_rss_growth
    return idle, busy, upload.seconds


def latency_rows(idle: list[float], busy: list[float], big: Path, seconds: float) -> list[str]:
    size = big.stat().st_size
    return [
        "| `GET /cases/{id}` | requests | median | p99 | target |",
        "|---|---|---|---|---|",
        f"| idle | {len(idle)} | {statistics.median(idle) * 1000:.1f} ms | "
        f"{p99(idle) * 1000:.1f} ms | — |",
        f"| during the {size / GIB:g} GiB upload ({mib_s(size, seconds):.0f} MiB/s) | "
        f"{len(busy)} | {statistics.median(busy) * 1000:.1f} ms | {p99(busy) * 1000:.1f} ms | "
        f"≤ 2× idle {tick(p99(busy) <= 2 * p99(idle))} |",
    ]


def start_s3_service(
    stack: ExitStack,
    work: Path,
    name: str,
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
) -> tuple[Server, Any, str]:
    """SeaweedFS, a scratch PostgreSQL database and `casefile serve` on both, each stopped by
    `stack`; returns the server, a boto3 client of the same SeaweedFS, and the bucket."""
    weed = SeaweedServer(work / "seaweed")
    stack.callback(weed.stop)
    weed.start()
    endpoint = weed.endpoint
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    client: Any = endpoint.client()
    client.create_bucket(Bucket=bucket)
    database_url = stack.enter_context(scratch_database())
    env = {
        "CASEFILE_DATABASE_URL": database_url,
        "CASEFILE_STORAGE_URL": f"s3://{bucket}/casefile",
        "CASEFILE_S3_ENDPOINT_URL": endpoint.url,
        "AWS_ACCESS_KEY_ID": endpoint.access_key,
        "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,
        "AWS_DEFAULT_REGION": endpoint.region,
        **(extra_env or {}),
    }
    (work / name).mkdir()
    server = stack.enter_context(serve(env, work / name, workers))
    return server, client, bucket


def run_s3(args: argparse.Namespace, work: Path, data: Path, digest: str, big: Path) -> list[str]:
    lines: list[str] = []
    size = data.stat().st_size
    with ExitStack() as stack:
        server, client, bucket = start_s3_service(
            stack, work, "s3-server", {"CASEFILE_MAX_UPLOAD_BYTES": str(64 * GIB)}
        )
        api = stack.enter_context(httpx.Client(headers=server.headers, timeout=None))

        rows = []
        for round_number in range(args.rounds):
            key = f"direct/{round_number}"
            boto_up = boto_upload(client, bucket, key, data)
            case_id = create_case(api, server)
            upload = api_upload(server, case_id, data)
            if upload.evidence["sha256"] != digest:
                raise RuntimeError("the server's sha256 differs from the file's")
            boto_down = boto_download(client, bucket, key, size)
            api_down = api_download(server, upload.evidence["id"], size)
            client.delete_object(Bucket=bucket, Key=key)
            rows.append((boto_up, upload, boto_down, api_down))
            print(
                f"round {round_number + 1}: upload boto3 {mib_s(size, boto_up):.0f} MiB/s, "
                f"API {mib_s(size, upload.seconds):.0f} MiB/s "
                f"(+{upload.peak_rss_growth / MIB:.1f} MiB RSS); download boto3 "
                f"{mib_s(size, boto_down):.0f} MiB/s, API {mib_s(size, api_down):.0f} MiB/s",
                file=sys.stderr,
            )

        def median_rate(values: list[float]) -> float:
            return mib_s(size, statistics.median(values))

        boto_up_rate = median_rate([row[0] for row in rows])
        api_up_rate = median_rate([row[1].seconds for row in rows])
        boto_down_rate = median_rate([row[2] for row in rows])
        api_down_rate = median_rate([row[3] for row in rows])
        growth = max(row[1].peak_rss_growth for row in rows)
        gib = size / GIB
        lines += [
            f"| upload {gib:g} GiB | {boto_up_rate:.0f} MiB/s | {api_up_rate:.0f} MiB/s | "
            f"{api_up_rate / boto_up_rate:.0%} | ≥ 80% {tick(api_up_rate >= 0.8 * boto_up_rate)} |",
            f"| download {gib:g} GiB | {boto_down_rate:.0f} MiB/s | {api_down_rate:.0f} MiB/s | "
            f"{api_down_rate / boto_down_rate:.0%} | ≥ 90% "
            f"{tick(api_down_rate >= 0.9 * boto_down_rate)} |",
            "",
            "| upload | server RSS afterwards | peak growth during the upload | target |",
            "|---|---|---|---|",
            f"| {gib:g} GiB (worst of {args.rounds}) | {server.memory('VmRSS') / MIB:.0f} MiB | "
            f"{growth / MIB:.1f} MiB | < 64 MiB {tick(growth < 64 * MIB)} |",
        ]

        idle, busy, seconds = probe_during_upload(
            server, create_case(api, server), big, api_up_rate * MIB
        )
        big_size = big.stat().st_size
        lines.append(
            f"| {big_size / GIB:g} GiB ({mib_s(big_size, seconds):.0f} MiB/s) | "
            f"{server.memory('VmRSS') / MIB:.0f} MiB | {server.last_growth / MIB:.1f} MiB | "
            f"< 64 MiB {tick(server.last_growth < 64 * MIB)} |"
        )
        lines += ["", *latency_rows(idle, busy, big, seconds)]
    return lines


def bare_receive_rate(path: Path) -> float:
    """Bytes per second into bench.bare_receiver (receive + sha256 only) under the same
    uvicorn and the same client as the API upload."""
    port = free_port()
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    process = subprocess.Popen(
        [uvicorn, "bench.bare_receiver:app", "--port", str(port), "--log-level", "warning"],
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        boundary = secrets.token_hex(16)
        body, length = multipart_body(path, boundary)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        started = time.perf_counter()
        connection.request("POST", "/", body=body, headers={"Content-Length": str(length)})
        connection.getresponse().read()
        seconds = time.perf_counter() - started
        connection.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return path.stat().st_size / seconds


def durable_write_rate(path: Path, directory: Path) -> float:
    """Bytes per second copying the file to `directory` in 1 MiB writes and fsyncing it: what
    the disk under the local store allows for an original that must survive a power cut."""
    target = directory / "durable-copy.bin"
    started = time.perf_counter()
    with path.open("rb", buffering=0) as source, target.open("wb", buffering=0) as out:
        while block := source.read(SLICE):
            out.write(block)
        os.fsync(out.fileno())
    seconds = time.perf_counter() - started
    target.unlink()
    return path.stat().st_size / seconds


def run_local(work: Path, data: Path, digest: str, big: Path) -> list[str]:
    size = data.stat().st_size
    root = work / "local-server"
    root.mkdir()
    env = {
        "CASEFILE_DATABASE_URL": f"sqlite:///{root / 'casefile.db'}",
        "CASEFILE_STORAGE_URL": f"file://{root / 'objects'}",
        "CASEFILE_MAX_UPLOAD_BYTES": str(64 * GIB),
    }
    hash_rates, upload_rates, growths, bare_rates, disk_rates = [], [], [], [], []
    with serve(env, root) as server, httpx.Client(headers=server.headers, timeout=None) as api:
        for round_number in range(3):
            hash_rates.append(sha256_rate(data))
            bare_rates.append(bare_receive_rate(data))
            disk_rates.append(durable_write_rate(data, root))
            upload = api_upload(server, create_case(api, server), data)
            if upload.evidence["sha256"] != digest:
                raise RuntimeError("the server's sha256 differs from the file's")
            upload_rates.append(size / upload.seconds)
            growths.append(upload.peak_rss_growth)
            print(
                f"local round {round_number + 1}: sha256 {hash_rates[-1] / MIB:.0f} MiB/s, "
                f"bare receive+hash {bare_rates[-1] / MIB:.0f} MiB/s, "
                f"fsync'd copy {disk_rates[-1] / MIB:.0f} MiB/s, API {upload_rates[-1] / MIB:.0f}",
                file=sys.stderr,
            )
        idle, busy, seconds = probe_during_upload(
            server, create_case(api, server), big, statistics.median(upload_rates)
        )
    hash_rate = statistics.median(hash_rates) / MIB
    upload_rate = statistics.median(upload_rates) / MIB
    bare_rate = statistics.median(bare_rates) / MIB
    disk_rate = statistics.median(disk_rates) / MIB
    return [
        "| single-core hashlib.sha256 | API upload, local files | ratio | peak RSS growth | "
        "target |",
        "|---|---|---|---|---|",
        f"| {hash_rate:.0f} MiB/s | {upload_rate:.0f} MiB/s | {upload_rate / hash_rate:.0%} | "
        f"{max(growths) / MIB:.1f} MiB | ≥ 40% {tick(upload_rate >= 0.4 * hash_rate)} |",
        "",
        "| the same run's ceilings | rate | of sha256 |",
        "|---|---|---|",
        f"| bare uvicorn app: receive + sha256 only, same client | {bare_rate:.0f} MiB/s | "
        f"{bare_rate / hash_rate:.0%} |",
        f"| the file copied to the store's disk and fsynced | {disk_rate:.0f} MiB/s | "
        f"{disk_rate / hash_rate:.0%} |",
        "",
        *latency_rows(idle, busy, big, seconds),
    ]


def tick(ok: bool) -> str:
    return "✔" if ok else "✘"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0, help="size of the side-by-side file")
    parser.add_argument("--big-gib", type=float, default=5.0, help="size of the long upload")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-s3", action="store_true")
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="casefile-bench-") as scratch:
        work = Path(scratch)
        data = work / "evidence.bin"
        digest = make_file(data, int(args.gib * GIB))
        lines = [f"## Evidence transfer (`python -m bench.evidence_transfer`) — {today()}", ""]
        lines += [f"Machine: {machine()}.", ""]
        big = work / "long.bin"
        make_file(big, int(args.big_gib * GIB))
        if not args.skip_local:
            lines += run_local(work, data, digest, big)
        if not args.skip_s3:
            lines += [
                "",
                "| SeaweedFS + PostgreSQL | boto3 direct | through the API | ratio | target |",
                "|---|---|---|---|---|",
            ]
            lines += run_s3(args, work, data, digest, big)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
