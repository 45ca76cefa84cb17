"""Failed deliveries of verified webhook events, for the operator (`kp events list`).

An event whose processing failed is answered 5xx and Stripe retries it (for up to three
days in live mode). Nothing about it goes into `stripe_events`, whose rows mean "applied":
the retry must be processed afresh, not taken for a duplicate. What failed is written here
instead, best effort, in a transaction of its own: when the database itself is what failed,
nothing can be written, and Stripe's dashboard and the `webhook.store_failed` log line are
where it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from paywall.database.models import StripeEvent, WebhookFailure
from paywall.runtime.context import Paywall
from paywall.runtime.logs import get_logger, kv

log = get_logger("paywall.billing.failed_deliveries")


def record_failure(pw: Paywall, event: dict[str, Any], reason: str) -> None:
    """Count one failed attempt at `event` (never raises: the 5xx answer matters more)."""
    event_id, now = str(event["id"]), pw.now()
    try:
        with pw.sessions.begin() as db:
            row = db.get(WebhookFailure, event_id, with_for_update=True)
            if row is None:
                db.add(
                    WebhookFailure(
                        event_id=event_id,
                        type=str(event["type"]),
                        created=int(event["created"]),
                        attempts=1,
                        first_failed_at=now,
                        last_failed_at=now,
                        reason=reason[:500],
                    )
                )
            else:
                row.attempts += 1
                row.last_failed_at = now
                row.reason = reason[:500]
    except SQLAlchemyError as exc:  # (a concurrent first attempt, or the database is down)
        log.warning(kv("webhook.failure_not_recorded", event_id=event_id, error=type(exc).__name__))


@dataclass(frozen=True)
class Pending:
    """A verified event that failed and has not been applied since."""

    event_id: str
    type: str
    created: int
    attempts: int
    last_failed_at: Any
    reason: str


def pending_events(db: Session, limit: int, event_type: str | None = None) -> list[Pending]:
    """Failed events with no applied row, the most recently failed first."""
    applied = select(StripeEvent.id).where(StripeEvent.id == WebhookFailure.event_id).exists()
    query = (
        select(WebhookFailure)
        .where(~applied)
        .order_by(WebhookFailure.last_failed_at.desc())
        .limit(limit)
    )
    if event_type:
        query = query.where(WebhookFailure.type == event_type)
    return [
        Pending(r.event_id, r.type, r.created, r.attempts, r.last_failed_at, r.reason)
        for r in db.scalars(query)
    ]
