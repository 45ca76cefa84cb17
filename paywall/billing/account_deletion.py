"""Deleting an account where Stripe is concerned: a subscription the member still pays for
is cancelled in Stripe (the official SDK, `DELETE /v1/subscriptions/{id}`) before the
account is erased (paywall.members.erasure), so no one is charged for an account that no
longer exists. A cancellation Stripe refuses stops the deletion, and the message says which
subscription, so the member or the creator can end it first."""

from __future__ import annotations

import stripe
from sqlalchemy import select

from paywall.database.models import Entitlement, Member
from paywall.members.erasure import Erasure, erase_member
from paywall.runtime.context import Paywall


class DeletionError(RuntimeError):
    """The account was not deleted; the message says why."""


def live_subscriptions(pw: Paywall, member_id: int) -> list[str]:
    with pw.sessions() as db:
        rows = db.scalars(
            select(Entitlement.stripe_object_id).where(
                Entitlement.member_id == member_id,
                Entitlement.source == "subscription",
                Entitlement.status.in_(("active", "pending")),
                Entitlement.stripe_object_id.like("sub_%"),
            )
        ).all()
    return sorted(set(rows))


def cancel_subscriptions(pw: Paywall, subscription_ids: list[str]) -> None:
    if not subscription_ids:
        return
    if not pw.stripe_configured:
        raise DeletionError(
            f"subscription(s) {', '.join(subscription_ids)} cannot be cancelled: Stripe is "
            "not configured (STRIPE_SECRET_KEY); cancel them in Stripe's dashboard first"
        )
    client = pw.stripe()
    for sub_id in subscription_ids:
        try:
            client.v1.subscriptions.cancel(sub_id)
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing" or "canceled" in str(exc):
                continue  # already gone: nothing will be charged
            raise DeletionError(
                f"Stripe refused to cancel {sub_id}: {exc.user_message or exc}"
            ) from None
        except stripe.StripeError as exc:
            raise DeletionError(
                f"Stripe refused to cancel {sub_id}: {exc.user_message or exc}"
            ) from None


def delete_account(pw: Paywall, member_id: int, *, actor: str) -> Erasure:
    """Cancel the member's live subscriptions in Stripe, then erase the account."""
    cancel_subscriptions(pw, live_subscriptions(pw, member_id))
    with pw.sessions.begin() as db:
        member = db.get(Member, member_id)
        if member is None:
            raise DeletionError(f"no member #{member_id}")
        if member.deleted_at is not None:
            raise DeletionError(f"member #{member_id} is already deleted")
        return erase_member(pw, db, member, actor=actor)
