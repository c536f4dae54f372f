"""Uploads arriving at the same moment, over a real socket: exhibit numbers are still distinct
and consecutive, and the same bytes still become one exhibit only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest

from app.evidence import service
from tests.evidence.support import Scene, post_file, unique_bytes
from tests.fixtures.api import LiveServer


def _together(live_server: LiveServer, scene: Scene, payloads: list[bytes]) -> list[httpx.Response]:
    """Send one upload per payload, all released at once by a barrier."""
    barrier = threading.Barrier(len(payloads))
    answers: list[httpx.Response | BaseException] = [RuntimeError("not sent")] * len(payloads)

    def send(index: int) -> None:
        with live_server.client() as http:
            barrier.wait(timeout=30)
            try:
                answers[index] = post_file(http, scene.lead, scene.case_id, payloads[index])
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                answers[index] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(a, httpx.Response) for a in answers), answers
    return [a for a in answers if isinstance(a, httpx.Response)]


def test_simultaneous_uploads_get_distinct_consecutive_exhibit_numbers(
    scene: Scene, live_server: LiveServer
) -> None:
    """Six different files at once: six exhibits, numbered 0001 to 0006 without a gap or a
    repeat, each pointing at its own object."""
    answers = _together(live_server, scene, [unique_bytes(str(i), 200_000) for i in range(6)])
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    numbers = sorted(a.json()["exhibit_number"] for a in answers)
    assert numbers == [f"MRT-000{n}" for n in range(1, 7)]
    assert scene.evidence_rows() == 6
    assert len(scene.store.keys()) == 6
    assert scene.store.leftovers() == []


def test_the_same_bytes_uploaded_at_the_same_moment_become_one_exhibit(
    scene: Scene,
    live_server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two clients send the same file at once (a retry after a timeout, two colleagues with the
    same video). One gets the exhibit, the other a 409 naming it; one row, one object. The
    window between the duplicate check and the insert is widened (a slow link check, as under
    load) so that both requests are inside it together every time."""
    original: Callable[..., Any] = service._check_links

    def slow_check_links(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.0)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "_check_links", slow_check_links)
    data = unique_bytes("same video", 100_000)
    answers = _together(live_server, scene, [data, data])
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    created = next(a for a in answers if a.status_code == 201).json()
    refused = next(a for a in answers if a.status_code == 409).json()
    assert refused["existing"]["id"] == created["id"]
    assert scene.evidence_rows() == 1
    assert len(scene.store.keys()) == 1
