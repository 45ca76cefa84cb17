"""Drip schedules: a lesson with `available_after_days: N` opens N days after the start of
the member's access to its course (the earliest `valid_from` among the entitlements that
open it and apply now). Gated serving, `/api/auth` (both through the access cache) and the
learning API all decide it here, so they never disagree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Protocol


class Held(Protocol):
    """An entitlement as far as drip cares (`access_cache.Grant`, a database row)."""

    @property
    def key(self) -> str: ...

    @property
    def valid_from(self) -> dt.datetime: ...

    @property
    def valid_until(self) -> dt.datetime | None: ...


def applies(grant: Held, now: dt.datetime) -> bool:
    return grant.valid_from <= now and (grant.valid_until is None or now < grant.valid_until)


def access_start(
    grants: Iterable[Held], requires: Iterable[str], now: dt.datetime
) -> dt.datetime | None:
    """When the member's current access to a page began (None: they have none now)."""
    wanted = set(requires)
    starts = [g.valid_from for g in grants if g.key in wanted and applies(g, now)]
    return min(starts) if starts else None


def opens_at(start: dt.datetime, days: int | None) -> dt.datetime:
    """The moment a lesson dripped `days` after `start` opens (`start` without a schedule)."""
    return start + dt.timedelta(days=days or 0)


def not_yet_open(
    grants: Iterable[Held], requires: Iterable[str], days: int | None, now: dt.datetime
) -> dt.datetime | None:
    """The opening time of a dripped lesson still closed to this member, else None (open,
    no schedule, or no access at all: that is the paywall's business, not the drip's)."""
    if not days:
        return None
    start = access_start(grants, requires, now)
    if start is None:
        return None
    opening = opens_at(start, days)
    return opening if now < opening else None
