"""The one decision of whether a member may read a gated page now, from the entitlements
they hold: gated serving and `/api/auth` (through the access cache), the learning API and
the paid-lesson e-mails (`paywall.growth.lesson_mail`) all ask here, so a lesson is e-mailed
to exactly the members its URL would show it to, drip included."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import Enum

from kp_contract.manifest import MEMBER_KEY
from paywall.members.drip import Held, applies, not_yet_open


class PageAccess(Enum):
    GRANTED = "granted"
    DENIED = "denied"  # no entitlement that unlocks the page applies now
    NOT_YET = "not-yet"  # entitled, but a dripped lesson that opens later


def holds(grants: Iterable[Held], requires: Iterable[str], now: dt.datetime) -> bool:
    """Whether any one of `requires` is unlocked now (`member`: by any signed-in member)."""
    wanted = set(requires)
    if not wanted:
        return False
    if MEMBER_KEY in wanted:
        return True
    return any(grant.key in wanted and applies(grant, now) for grant in grants)


def page_access(
    grants: Iterable[Held], requires: Iterable[str], days: int | None, now: dt.datetime
) -> PageAccess:
    """A member's access to a page that `requires` unlock and that opens `days` after the
    start of their access (`available_after_days`; None: on day one)."""
    held = list(grants)
    if not holds(held, requires, now):
        return PageAccess.DENIED
    if not_yet_open(held, requires, days, now) is not None:
        return PageAccess.NOT_YET
    return PageAccess.GRANTED
