"""Database work, and calls to Stripe, off the event loop, each in threads of their own.

Blocking database calls run in worker threads. They used to share anyio's default thread
limiter (40 threads) with everything else, file serving included, so 40 requests waiting on
a database lock left public pages and assets without a thread. `run_db` runs them in a pool
of their own (as many threads as the engine has connections, `MAX_CONNECTIONS`), so a
stalled database stalls only the requests that need it.

A request also waits at most `KP_DB_BUSY_TIMEOUT` for one of those threads: when all are
busy that long, `DatabaseBusy` is raised and the app answers 503 with Retry-After, like a
lock or connection wait that timed out inside the driver (`paywall.web.errors`).

Calls to Stripe's API from a request (Checkout, the success page, the billing portal) run in
a lane of their own too (`run_stripe`): a slow or unreachable Stripe then holds at most
`STRIPE_THREADS` threads, never the ones that serve files or the database's, and a request
that finds them all busy is answered 503 (`StripeBusy`) instead of queueing behind them.
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


STRIPE_THREADS = 16
"""Calls to Stripe's API in flight at once from requests (each waits for Stripe's answer)."""


class DatabaseBusy(RuntimeError):
    """No database thread became free in time: the database is busy, retry later (503)."""


class StripeBusy(RuntimeError):
    """Every Stripe lane thread stayed busy (Stripe slow or unreachable): retry later (503)."""


class DatabaseThreads:
    """At most `total` calls at once; a caller waits at most `wait` seconds to start one,
    then gets `busy_error`. (Two limiters of the same size: `_gate` admits callers with a
    deadline, `_threads` is the worker-thread limiter anyio needs, never full for an admitted
    caller.) The database lane, and with `busy_error=StripeBusy` the Stripe lane."""

    def __init__(
        self,
        total: int,
        wait: float,
        busy_error: type[RuntimeError] = DatabaseBusy,
        what: str = "database",
    ) -> None:
        self.total = total
        self.wait = wait
        self.busy_error = busy_error
        self.what = what
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
            raise self.busy_error(f"all {self.total} {self.what} threads busy for {self.wait:g} s")
        try:
            call = functools.partial(func, *args, **kwargs)
            return await anyio.to_thread.run_sync(call, limiter=self._threads)
        finally:
            self._gate.release_on_behalf_of(borrower)


async def run_db(pw: Paywall, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`await run_db(pw, fn, *args)`: `fn(*args)` in a database thread (instead of
    `starlette.concurrency.run_in_threadpool`, for anything that may touch the database)."""
    return await pw.db_threads.run(func, *args, **kwargs)


async def run_stripe(pw: Paywall, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`await run_stripe(pw, fn, *args)`: `fn(*args)`, which calls Stripe's API and not the
    database, in the Stripe lane; `StripeBusy` when that lane stays full."""
    return await pw.stripe_threads.run(func, *args, **kwargs)
