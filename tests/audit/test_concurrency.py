"""Two server processes, many clients, one case: the chain stays single, gapless and valid."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from app.config import Settings
from tests.fixtures.api import MARTUNI, DatabaseProbe
from tests.fixtures.cli import CASEFILE, casefile, environment
from tests.fixtures.seaweed import free_port

CLIENTS = 10
CHANGES_PER_CLIENT = 12


class Server:
    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603
            [CASEFILE, "serve", "--port", str(self.port)],
            env=environment(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def wait_ready(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        threading.Event().wait(0.1)
    raise AssertionError(f"{url} never became ready")


@pytest.fixture
def servers(settings: Settings) -> Iterator[tuple[list[str], str]]:
    first = Server(settings)
    assert first.process.stdout is not None
    token = first.process.stdout.readline().split(": ", 1)[1].strip()  # the bootstrap admin
    second = Server(settings)
    try:
        for server in (first, second):
            wait_ready(server.url)
        yield [first.url, second.url], token
    finally:
        first.stop()
        second.stop()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_concurrent_appends_from_two_processes_form_one_valid_chain(
    servers: tuple[list[str], str], settings: Settings, db: DatabaseProbe
) -> None:
    urls, token = servers
    admin = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=urls[0], headers=admin, timeout=60) as http:
        case_id = http.post("/api/v1/cases", json=MARTUNI).json()["id"]
        people = []
        for number in range(CLIENTS):
            user = http.post("/api/v1/users", json={"name": f"field-{number}", "role": "viewer"})
            people.append(user.json()["id"])
            member = http.put(
                f"/api/v1/cases/{case_id}/members/{people[-1]}", json={"role": "viewer"}
            )
            assert member.status_code == 200
    errors: list[str] = []
    barrier = threading.Barrier(CLIENTS)

    def client(number: int) -> None:
        # Each client flips its own member's flag: no application-level conflict, so every
        # request appends to the same chain at the same moment as the others.
        url = urls[number % 2]
        path = f"/api/v1/cases/{case_id}/members/{people[number]}"
        with httpx.Client(base_url=url, headers=admin, timeout=60) as http:
            barrier.wait()
            for change in range(CHANGES_PER_CLIENT):
                body = {"role": "viewer", "can_identify_witnesses": change % 2 == 0}
                answer = http.put(path, json=body)
                if answer.status_code != 200:
                    errors.append(f"{answer.status_code} {answer.text}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:5]

    expected = 1 + CLIENTS + CLIENTS * CHANGES_PER_CLIENT  # created, added, flips
    chain = f"case:{case_id}"
    seqs = db.scalar("SELECT count(DISTINCT seq) FROM audit_events WHERE chain_id = :c", c=chain)
    highest = db.scalar("SELECT max(seq) FROM audit_events WHERE chain_id = :c", c=chain)
    rows = db.scalar("SELECT count(*) FROM audit_events WHERE chain_id = :c", c=chain)
    assert seqs == highest == rows == expected
    verified = casefile("audit", "verify", "--json", env=environment(settings))
    assert verified.returncode == 0, verified.stderr
