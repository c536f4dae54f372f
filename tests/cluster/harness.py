"""A production-shaped deployment for the multi-process and fault tests: its own PostgreSQL
server, its own SeaweedFS, and several `casefile serve` processes sharing both.

Everything here is private to the test module that starts it, because these tests stop and
restart the dependencies: the session's SeaweedFS and the machine's PostgreSQL are shared with
every other test of the run and must never be touched.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx

from tests.fixtures.cli import CASEFILE
from tests.fixtures.seaweed import SeaweedServer, free_port

READY_TIMEOUT_S = 60


# -- PostgreSQL ------------------------------------------------------------------------------
def postgres_bindir() -> Path | None:
    """The server binaries (initdb, pg_ctl): Debian keeps them out of PATH."""
    configured = os.environ.get("CASEFILE_TEST_PG_BINDIR")
    candidates = [configured] if configured else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if found := shutil.which("pg_ctl"):
        candidates.append(str(Path(found).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free loopback port, stoppable at will.

    PostgreSQL refuses to run as root; under root the server runs as the `postgres` account,
    in a directory of its own outside pytest's private (0700) temp tree.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="casefile-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/casefile"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stderr or result.stdout}")

    def create(self) -> None:
        if self.as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.root.chmod(0o755)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "casefile")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """A fast shutdown, as a restart by an operator or a failover does: every open
        connection is cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except RuntimeError:
            pass  # not running
        shutil.rmtree(self.root, ignore_errors=True)


# -- Casefile servers ------------------------------------------------------------------------
class ServerProcess:
    """One `casefile serve` process: the unit that an operator starts, and that dies."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.env = env
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [CASEFILE, "serve", "--port", str(self.port)],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self.ready, READY_TIMEOUT_S, f"{self.name} ready", self.log_tail)

    def ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no `finally`, no rollback — a power cut of one process."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def client(self, token: str, timeout: float = 60) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def send_and_hold(self, payload: bytes) -> socket.socket:
        """Raw bytes (the start of a request) sent on a connection that is then kept open."""
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        connection.sendall(payload)
        time.sleep(1.5)  # the server reads and stores what it was sent
        return connection


@dataclass
class Deployment:
    """PostgreSQL + SeaweedFS + N servers, configured as production would be (one shared
    signing key and identity key, credentials for S3)."""

    workdir: Path
    postgres: PrivatePostgres
    seaweed: SeaweedServer
    bucket: str
    env: dict[str, str]
    servers: list[ServerProcess] = field(default_factory=list)
    admin_token: str = ""

    def casefile(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [CASEFILE, *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.seaweed.stop()
        self.postgres.destroy()


def deploy(workdir: Path, bindir: Path, server_count: int) -> Deployment:
    """Start everything; the caller stops it with `Deployment.stop()` (also after a failure)."""
    postgres = PrivatePostgres(bindir)
    seaweed = SeaweedServer(workdir / "seaweed")
    deployment = Deployment(workdir, postgres, seaweed, "", {})
    try:
        postgres.create()
        seaweed.start()
        deployment.bucket = f"cluster-{uuid.uuid4().hex[:10]}"
        seaweed.endpoint.client().create_bucket(Bucket=deployment.bucket)  # type: ignore[attr-defined]
        endpoint = seaweed.endpoint
        keys = workdir / "keys"
        keys.mkdir()
        deployment.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CASEFILE_", "AWS_"))},
            "CASEFILE_DATABASE_URL": postgres.url,
            "CASEFILE_STORAGE_URL": f"s3://{deployment.bucket}/casefile",
            "CASEFILE_S3_ENDPOINT_URL": endpoint.url,
            "CASEFILE_SIGNING_KEY_FILE": str(keys / "signing-key.pem"),
            "CASEFILE_IDENTITY_KEY_FILE": str(keys / "identity-key"),
            "AWS_ACCESS_KEY_ID": endpoint.access_key,
            "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,
            "AWS_DEFAULT_REGION": endpoint.region,
        }
        migrated = deployment.casefile("migrate")
        assert migrated.returncode == 0, migrated.stderr
        made = deployment.casefile("users", "create", "cluster-admin", "--role", "admin")
        assert made.returncode == 0, made.stderr
        deployment.admin_token = made.stdout.strip()
        for number in range(server_count):
            server = ServerProcess(f"server-{number + 1}", deployment.env, workdir)
            deployment.servers.append(server)
            server.start()
    except BaseException:
        deployment.stop()
        raise
    return deployment


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    explain: Callable[[], Any] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = f": {explain()}" if explain else ""
            raise AssertionError(f"not {what} after {timeout:.0f}s{detail}")
        time.sleep(0.2)
