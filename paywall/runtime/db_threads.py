"""Database work off the event loop, in threads of its own.

Blocking database calls run in worker threads. They used to share anyio's default thread
limiter (40 threads) with everything else, file serving included, so 40 requests waiting on
a database lock left public pages and assets without a thread. `run_db` runs them in a pool
of their own (as many threads as the engine has connections, `MAX_CONNECTIONS`), so a
stalled database stalls only the requests that need it.

A request also waits at most `KP_DB_BUSY_TIMEOUT` for one of those threads: when all are
busy that long, `DatabaseBusy` is raised and the app answers 503 with Retry-After, like a
lock or connection wait that timed out inside the driver (`paywall.web.errors`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    from paywall.runtime.context import Paywall

P = ParamSpec("P")
T = TypeVar("T")


class DatabaseBusy(RuntimeError):
    """No database thread became free in time: the database is busy, retry later (503)."""


class DatabaseThreads:
    """At most `total` database calls at once; a caller waits at most `wait` seconds to
    start one. (Two limiters of the same size: `_gate` admits callers with a deadline,
    `_threads` is the worker-thread limiter anyio needs, never full for an admitted caller.)"""

    def __init__(self, total: int, wait: float) -> None:
        self.total = total
        self.wait = wait
        self._gate = anyio.CapacityLimiter(total)
        self._threads = anyio.CapacityLimiter(total)

    @property
    def busy(self) -> int:
        """Database calls running now (for tests and diagnostics)."""
        return int(self._gate.borrowed_tokens)

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        borrower, admitted = object(), False
        with anyio.move_on_after(self.wait):
            await self._gate.acquire_on_behalf_of(borrower)
            admitted = True
        if not admitted:
            raise DatabaseBusy(f"all {self.total} database threads busy for {self.wait:g} s")
        try:
            call = functools.partial(func, *args, **kwargs)
            return await anyio.to_thread.run_sync(call, limiter=self._threads)
        finally:
            self._gate.release_on_behalf_of(borrower)


async def run_db(pw: Paywall, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`await run_db(pw, fn, *args)`: `fn(*args)` in a database thread (instead of
    `starlette.concurrency.run_in_threadpool`, for anything that may touch the database)."""
    return await pw.db_threads.run(func, *args, **kwargs)
