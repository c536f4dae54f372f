"""read_ahead: a download reads ahead of the client, never beyond its depth, and stops reading
from the store soon after the client goes away."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from app.kit.pipeline import read_ahead


class Source:
    """A store read that counts what was read and records whether (and where) it was closed."""

    def __init__(self, chunks: int, fail_at: int | None = None) -> None:
        self.chunks = chunks
        self.fail_at = fail_at
        self.read = 0
        self.closed_in: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for number in range(self.chunks):
                if number == self.fail_at:
                    raise OSError("the store went away")
                self.read += 1
                yield bytes([number % 256]) * 1024
        finally:
            self.closed_in = threading.current_thread().name


async def _collect(source: Source, depth: int = 3) -> list[bytes]:
    return [chunk async for chunk in read_ahead(iter(source), depth)]


def test_every_chunk_arrives_in_order() -> None:
    source = Source(50)
    chunks = asyncio.run(_collect(source))
    assert [c[0] for c in chunks] == [n % 256 for n in range(50)]
    assert source.closed_in is not None


def test_a_store_failure_reaches_the_consumer() -> None:
    with pytest.raises(OSError, match="went away"):
        asyncio.run(_collect(Source(10, fail_at=4)))


def test_a_consumer_that_stops_stops_the_reading() -> None:
    source = Source(10_000)

    async def take_two() -> None:
        stream = read_ahead(iter(source), depth=3)
        async for _ in stream:
            break
        await stream.aclose()
        deadline = time.monotonic() + 2
        while source.closed_in is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    asyncio.run(take_two())
    assert source.closed_in is not None
    assert source.closed_in != threading.main_thread().name  # closed where it was read
    assert source.read <= 1 + 3 + 1  # the one consumed, the depth, the one being offered
