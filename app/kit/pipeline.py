"""Hand slices of a request body to a worker thread while the event loop reads the next one.

Receiving an upload has two halves of similar cost: reading and parsing the body (event loop)
and hashing and storing it (a worker thread; hashlib and file and socket writes release the
GIL). Awaiting each slice before reading on serialises them; keeping exactly one slice in
flight lets them overlap on two cores while memory stays bounded (the slice in flight plus the
one being gathered).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio
from starlette.concurrency import run_in_threadpool

Slice = bytes | bytearray


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
        must not change `data` afterwards: hand over a fresh buffer and start another."""
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
