"""Lists wait their turn, so that single reads need not wait behind them.

A paginated list or search costs a worker several times the CPU of a single read (more rows,
counts, a search's statements), and every request in a worker process shares one interpreter
lock. With many lists in flight at once, a read's thread queues for the lock behind all of them
at each step (each database round trip gives the lock up and takes it again): at 50 clients
without pause, reads took 150 ms at the median and 560 ms at p99 (bench/RESULTS.md, load mix).
So each worker process runs at most LIST_LANE_SIZE lists at a time; the others wait on the
event loop, where waiting costs nothing, while reads, writes and uploads go straight through.

Only lists: they are CPU work with a small answer. Uploads and bundle exports are not limited:
their time goes to the network, and a few investigators on slow connections must not be able to
hold every turn.
"""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

# Per worker process. Each process runs one Python thread at a time whatever the machine, so a
# few lists in flight keep it busy; more only slow every request in it.
LIST_LANE_SIZE = 3

_lanes: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()


def list_lane() -> asyncio.Semaphore:
    """This event loop's lane (a semaphore belongs to one loop; tests run several)."""
    loop = asyncio.get_running_loop()
    lane = _lanes.get(loop)
    if lane is None:
        lane = _lanes[loop] = asyncio.Semaphore(LIST_LANE_SIZE)
    return lane
