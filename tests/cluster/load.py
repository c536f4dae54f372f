"""Background clients that keep working while a fault is injected, keeping every answer, so a
test can say afterwards: no 500s, only the 503s the outage explains, and every 201 kept."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field

import httpx2 as httpx

from tests.cluster.harness import ServerProcess
from tests.cluster.workload import add_testimony, photo_bytes, sha256_hex, upload


@dataclass
class Answer:
    server: str
    operation: str
    status: int | None  # None: no HTTP answer at all (the connection failed)
    problem_type: str | None = None
    error: str | None = None


@dataclass
class BackgroundLoad:
    servers: list[ServerProcess]
    token: str
    case_id: str
    witness_id: str
    threads: int = 4
    answers: list[Answer] = field(default_factory=list)
    stored: dict[str, str] = field(default_factory=dict)  # evidence id → sha256, for 201s
    testimonies: set[str] = field(default_factory=set)  # ids answered with a 201

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._numbers = itertools.count()

    def __enter__(self) -> BackgroundLoad:
        for number in range(self.threads):
            worker = threading.Thread(target=self._run, args=(number,), daemon=True)
            self._workers.append(worker)
            worker.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=120)

    def _run(self, worker: int) -> None:
        server = self.servers[worker % len(self.servers)]
        operations = itertools.cycle(("list", "read", "testify", "upload", "read"))
        http = server.client(self.token, timeout=30)
        try:
            while not self._stop.is_set():
                self._one(server, http, next(operations))
                self._stop.wait(0.05)
        finally:
            http.close()

    def _one(self, server: ServerProcess, http: httpx.Client, operation: str) -> None:
        number = next(self._numbers)
        data = b""
        try:
            if operation == "list":
                answer = http.get("/api/v1/cases", params={"q": "Ganja"})
            elif operation == "read":
                answer = http.get(f"/api/v1/cases/{self.case_id}")
            elif operation == "testify":
                answer = add_testimony(
                    http, self.case_id, self.witness_id, f"Account {number}.", f"load-{number}"
                )
            else:
                data = photo_bytes(f"load-{number}", 48 * 1024)
                answer = upload(http, self.case_id, data, f"load-{number}.jpg")
        except httpx.TransportError as exc:
            self._keep(Answer(server.name, operation, None, error=type(exc).__name__))
            return
        problem = None
        if answer.status_code >= 400:
            assert answer.headers["content-type"] == "application/problem+json", answer.text
            problem = answer.json()["type"]
        with self._lock:
            if answer.status_code == 201 and operation == "upload":
                self.stored[answer.json()["id"]] = sha256_hex(data)
            if answer.status_code == 201 and operation == "testify":
                self.testimonies.add(answer.json()["id"])
        self._keep(Answer(server.name, operation, answer.status_code, problem))

    def _keep(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def statuses(self) -> Counter[int | None]:
        with self._lock:
            return Counter(answer.status for answer in self.answers)

    def successes_since(self, mark: int, operation: str) -> int:
        with self._lock:
            return sum(
                1
                for answer in self.answers[mark:]
                if answer.operation == operation and answer.status in (200, 201)
            )

    def mark(self) -> int:
        with self._lock:
            return len(self.answers)
