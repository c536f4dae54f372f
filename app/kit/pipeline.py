"""Overlap the two halves of a transfer: the network on the event loop, the store on a thread.

Uploads: `SliceWriter` hands slices of a request body to a worker thread while the event loop
reads the next one. Downloads: `read_ahead` reads the next chunks from the store while the
event loop sends the current one.

Receiving an upload has two halves of similar cost: reading and parsing the body (event loop)
and hashing and storing it (a worker thread; hashlib and file and socket writes release the
GIL). Awaiting each slice before reading on serialises them; keeping exactly one slice in
flight lets them overlap on two cores while memory stays bounded (the slice in flight plus the
one being gathered).

A slice is the list of the body's chunks as they came (memoryviews where a chunk is shared with
the multipart framing): gathering them into one buffer would cost the event loop a copy of
every byte, on the thread that is already the bottleneck.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import anyio
from starlette.concurrency import run_in_threadpool

from app.storage.base import Bytes

Slice = Sequence[Bytes]  # consecutive pieces of a body, uncopied


class SliceWriter:
    """Calls `write(slice)` on a worker thread, in order, one slice at a time.

    A failure of `write` is raised by the next `send` or by `finish`. After any failure, or if
    the request is cancelled, call `settle` before touching what `write` writes to: it waits for
    the slice still in flight, so that no thread writes behind an abort.
    """

    def __init__(self, write: Callable[[Slice], None]) -> None:
        self._write = write
        self._in_flight: asyncio.Future[None] | None = None

    async def send(self, data: Slice) -> None:
        """Wait for the previous slice (raising its error), then start this one. The caller
        must not change `data` afterwards: hand over a fresh list and start another."""
        await self._wait()
        self._in_flight = asyncio.ensure_future(run_in_threadpool(self._write, data))

    async def finish(self) -> None:
        """Wait for the last slice; raises its error."""
        await self._wait()

    async def settle(self) -> None:
        """Wait for any slice in flight, whatever happens to it or to this request."""
        task, self._in_flight = self._in_flight, None
        if task is None:
            return
        with anyio.CancelScope(shield=True):
            await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # already reported by the caller's own failure; mark it seen

    async def _wait(self) -> None:
        task = self._in_flight
        if task is None:
            return
        # Shielded: a cancelled request must not cancel a thread mid-write; `settle` waits.
        await asyncio.shield(task)
        self._in_flight = None


class _End:
    """Marks the end of a read-ahead stream."""


async def read_ahead(chunks: Iterator[bytes], depth: int = 3) -> AsyncIterator[bytes]:
    """Yield `chunks` while a worker thread already reads the next ones (at most `depth`).

    Sending a download and reading it from the store take turns otherwise: each 1 MiB is
    read, then sent, then the next is read. Overlapping them keeps both the store's and the
    client's connection busy; memory stays at `depth` chunks. When the consumer stops (the
    client went away), the reader stops within a poll interval and closes `chunks` itself, in
    its own thread, so that nothing reads from the store for no one."""
    buffer: queue.Queue[bytes | _End | BaseException] = queue.Queue(depth)
    stop = threading.Event()

    def offer(item: bytes | _End | BaseException) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not offer(chunk):
                    return
            offer(_End())
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, raised there
            offer(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    reader = asyncio.ensure_future(run_in_threadpool(produce))
    reader.add_done_callback(lambda task: task.cancelled() or task.exception())
    try:
        while True:
            try:
                item = buffer.get_nowait()
            except queue.Empty:
                item = await run_in_threadpool(buffer.get)
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
