"""Rate limits counted from database rows, so they hold across workers and hosts: the rule
and the 429 answer. Sign-in (e-mails per address and per client) and the beacon use them."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` events per `window` (sliding): e.g. 5 sign-in e-mails per address/hour."""

    limit: int
    window: dt.timedelta

    def retry_after(self, times: list[dt.datetime], now: dt.datetime) -> int | None:
        """Seconds until one more is allowed, or None if allowed now. `times` are the events
        already in the window (any order)."""
        recent = sorted(t for t in times if t > now - self.window)
        if len(recent) < self.limit:
            return None
        frees_at = recent[len(recent) - self.limit] + self.window
        return max(1, math.ceil((frees_at - now).total_seconds()))
