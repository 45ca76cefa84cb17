"""The server's clock: wall time plus an offset that tests move forward.

Everything Stripe timestamps (`created`, billing periods, expiry) reads this clock, so a test
can jump a month ahead and watch subscriptions renew. Webhook *signatures* keep using real
time, because receivers check them against their own clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Clock:
    def __init__(self, start: int | None = None) -> None:
        self._offset = 0.0 if start is None else start - time.time()
        self._pinned: int | None = None

    def now(self) -> int:
        if self._pinned is not None:
            return self._pinned
        return int(time.time() + self._offset)

    def set_time(self, timestamp: int) -> None:
        """Jump to `timestamp`; moving backwards is refused, as with Stripe's test clocks."""
        if timestamp < self.now():
            raise ValueError(
                f"cannot move the clock backwards (now {self.now()}, asked {timestamp})"
            )
        self._offset = timestamp - time.time()

    @contextmanager
    def pinned(self, timestamp: int) -> Iterator[None]:
        """Read `timestamp` as "now" while processing something that was due at that moment."""
        saved = self._pinned
        self._pinned = timestamp
        try:
            yield
        finally:
            self._pinned = saved
