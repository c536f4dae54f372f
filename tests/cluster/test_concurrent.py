"""Two `casefile serve` processes on one PostgreSQL and one SeaweedFS, driven at the same time:
uploads (racing duplicates included), testimonies (with the same Idempotency-Key sent to both
servers), read-modify-write PATCHes with If-Match, and bundle exports. Afterwards nothing was
lost or duplicated, and the operator's checks are clean."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx

from tests.cluster.harness import Deployment
from tests.cluster.workload import (
    add_testimony,
    all_pages,
    assert_nothing_lost,
    case_events,
    case_evidence,
    count_one_more_injured,
    export_bundle,
    open_case,
    photo_bytes,
    sha256_hex,
    store_original,
    upload,
)

UPLOADS = 16
RACED_DUPLICATES = 4
TESTIMONIES = 16
INCREMENTS = 24
EXPORTS = 4
THREADS = 12


class Ledger:
    """What the clients were told, collected from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stored: dict[str, str] = {}  # evidence id → sha256 answered with a 201
        self.duplicate_answers: list[list[int]] = []
        self.testimony_ids: dict[str, set[str]] = {}
        self.testimony_statuses: list[list[int]] = []
        self.conflicts = 0
        self.bundles: list[Path] = []

    def add(self, attribute: str, value: Any) -> None:
        with self.lock:
            getattr(self, attribute).append(value)


def at_once(
    clients: list[httpx.Client], send: Callable[[httpx.Client], httpx.Response]
) -> list[httpx.Response]:
    """The same request to every server, released at the same moment."""
    start = threading.Barrier(len(clients))
    answers: list[httpx.Response] = []

    def go(http: httpx.Client) -> None:
        start.wait()
        answers.append(send(http))

    senders = [threading.Thread(target=go, args=(http,)) for http in clients]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert len(answers) == len(clients)
    return answers


def test_two_servers_lose_no_update_and_duplicate_no_evidence(
    deployment: Deployment, tmp_path: Path
) -> None:
    token = deployment.admin_token
    clients = [server.client(token) for server in deployment.servers]
    case_id, witness_id = open_case(clients[0], witness_via=clients[1])
    ledger = Ledger()

    def client_for(number: int) -> httpx.Client:
        return clients[number % len(clients)]

    def upload_one(number: int) -> None:
        data = photo_bytes(f"photo-{number}", 64 * 1024 * (1 + number % 12))
        stored = store_original(client_for(number), case_id, data, f"ganja-{number:02d}.jpg")
        with ledger.lock:
            ledger.stored.update(stored)

    def race_duplicate(number: int) -> None:
        """The same bytes sent to both servers at the same moment: one exhibit, one 409."""
        data = photo_bytes(f"raced-{number}", 300 * 1024)
        answers = at_once(clients, lambda http: upload(http, case_id, data, f"r{number}.jpg"))
        ledger.add("duplicate_answers", sorted(a.status_code for a in answers))
        for answer in answers:
            if answer.status_code == 201:
                with ledger.lock:
                    ledger.stored[answer.json()["id"]] = sha256_hex(data)

    def testify(number: int) -> None:
        """One testimony, its POST sent to both servers at once with one Idempotency-Key (a
        client retrying through a load balancer): it is recorded once."""
        key = f"testimony-{number}"
        statement = f"Statement {number}: the missile hit the apartment block at night."
        answers = at_once(
            clients, lambda http: add_testimony(http, case_id, witness_id, statement, key)
        )
        ledger.add("testimony_statuses", sorted(a.status_code for a in answers))
        with ledger.lock:
            ledger.testimony_ids[key] = {a.json()["id"] for a in answers if a.status_code == 201}

    def increment(number: int) -> None:
        conflicts = count_one_more_injured(client_for(number), case_id)
        with ledger.lock:
            ledger.conflicts += conflicts

    def export(number: int) -> None:
        path = export_bundle(client_for(number), case_id, tmp_path / f"bundle-{number}.zip")
        ledger.add("bundles", path)

    work: list[Callable[[], None]] = []
    for kind, count in (
        (upload_one, UPLOADS),
        (race_duplicate, RACED_DUPLICATES),
        (testify, TESTIMONIES),
        (increment, INCREMENTS),
        (export, EXPORTS),
    ):
        work += [(lambda kind=kind, n=n: kind(n)) for n in range(count)]  # type: ignore[misc]
    random.Random(7).shuffle(work)
    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(task) for task in work]:
            future.result()

    reader = clients[0]
    # No update lost: every increment is in the final count, each once.
    case = reader.get(f"/api/v1/cases/{case_id}").json()
    assert case["casualties"]["injured"] == INCREMENTS
    # Racing duplicates: exactly one exhibit each, the other answer a 409 naming it.
    assert ledger.duplicate_answers == [[201, 409]] * RACED_DUPLICATES
    # No evidence duplicated or lost: the case holds exactly what was answered with a 201.
    items = case_evidence(reader, case_id)
    assert {item["id"]: item["sha256"] for item in items} == ledger.stored
    assert len(ledger.stored) == UPLOADS + RACED_DUPLICATES
    numbers = [item["exhibit_number"] for item in items]
    assert len(set(numbers)) == len(numbers)
    # Each testimony once, whichever server answered and whether the other replayed or refused.
    for statuses in ledger.testimony_statuses:
        assert statuses in ([201, 201], [201, 409]), statuses
    assert all(len(ids) == 1 for ids in ledger.testimony_ids.values())
    testimonies = all_pages(reader, f"/api/v1/cases/{case_id}/testimonies")
    assert len(testimonies) == TESTIMONIES
    # The chain tells the same story, event for event.
    actions = Counter(event["action"] for event in case_events(reader, case_id))
    assert actions["case.updated"] == INCREMENTS
    assert actions["evidence.ingested"] == UPLOADS + RACED_DUPLICATES
    assert actions["testimony.recorded"] == TESTIMONIES
    assert actions["bundle.exported"] == EXPORTS
    assert len(ledger.bundles) == EXPORTS
    assert_nothing_lost(deployment, reader, ledger.stored)
    for http in clients:
        http.close()
