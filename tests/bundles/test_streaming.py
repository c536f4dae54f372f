"""Streaming a bundle over a real socket: an original altered in storage breaks the download
instead of slipping into a signed bundle, and a client that goes away stops the reading."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from app.storage import ObjectStore
from tests.bundles.support import Dossier
from tests.evidence.support import StoreProbe, object_key, upload
from tests.fixtures.api import LiveServer

MIB = 1024 * 1024


def test_an_original_altered_in_storage_breaks_the_download(
    dossier: Dossier, store_probe: StoreProbe, live_server: LiveServer
) -> None:
    photo = dossier.evidence["photo"]
    original = store_probe.read(object_key(photo))
    store_probe.overwrite(object_key(photo), original[:-1] + bytes([original[-1] ^ 0xFF]))
    url = f"/api/v1/cases/{dossier.case_id}/bundle"
    with live_server.client(headers=dossier.lead.headers) as http:
        with pytest.raises(httpx.RemoteProtocolError):  # cut short of its Content-Length
            _drain(http, url)


def _drain(http: httpx.Client, url: str) -> None:
    with http.stream("GET", url) as answer:
        assert answer.status_code == 200
        for _ in answer.iter_bytes():
            pass


class CountingStore:
    """The app's store, counting the chunks read from it (to see reading stop)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.chunks = 0
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        for chunk in self.inner.read(*args, **kwargs):
            with self.lock:
                self.chunks += 1
            yield chunk


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_client_that_goes_away_stops_the_reading(
    dossier: Dossier, live_server: LiveServer
) -> None:
    size = 64 * MIB
    upload(dossier.client, dossier.lead, dossier.case_id, os.urandom(size), filename="big.mp4")
    app: Any = live_server.server.config.app
    counting = CountingStore(app.state.object_store)
    app.state.object_store = counting
    url = f"/api/v1/cases/{dossier.case_id}/bundle"
    with live_server.client(headers=dossier.lead.headers) as http:
        with http.stream("GET", url) as answer:
            assert int(answer.headers["content-length"]) > size
            received = 0
            for chunk in answer.iter_raw():
                received += len(chunk)
                if received > 2 * MIB:
                    break
    deadline = time.monotonic() + 5
    before = -1
    while time.monotonic() < deadline and before != counting.chunks:
        before = counting.chunks
        time.sleep(0.5)
    assert before == counting.chunks  # reading stopped
    assert counting.chunks * MIB < size / 4, counting.chunks
