"""Billing portal sessions and what the hosted portal page lets a customer do."""

from __future__ import annotations

from typing import Any

from stripe_local.errors import StripeError
from stripe_local.ids import new_id
from stripe_local.params import Enum, Obj, Str, Url
from stripe_local.resources.billing import LIVE_STATUSES, end_subscription, schedule_cancel
from stripe_local.resources.checkout import LOCALES
from stripe_local.routing import ApiRoute, Ctx
from stripe_local.store import Store

CREATE = Obj(
    {"customer": Str(), "return_url": Url(), "locale": Enum(*LOCALES), "configuration": Str()},
    required=["customer"],
)
_CONFIGURATION = new_id("bpc_")


def create_portal_session(store: Store, params: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    customer = store.get("customer", params["customer"], param="customer")
    session_id = new_id("bps_")
    return store.insert(
        {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": params.get("configuration") or _CONFIGURATION,
            "created": store.now(),
            "customer": customer["id"],
            "flow": None,
            "livemode": False,
            "locale": params.get("locale"),
            "on_behalf_of": None,
            "return_url": params.get("return_url"),
            "url": f"{ctx.base_url}/p/session/{session_id}",
        }
    )


def portal_session(store: Store, session_id: str) -> dict[str, Any]:
    return store.get("billing_portal.session", session_id, param="session", status=404)


def portal_subscriptions(store: Store, session: dict[str, Any]) -> list[dict[str, Any]]:
    """The customer's subscriptions that are not over yet, newest first."""
    return [
        s
        for s in reversed(store.all("subscription"))
        if s["customer"] == session["customer"] and s["status"] in LIVE_STATUSES
    ]


def portal_action(store: Store, session_id: str, sub_id: str, action: str) -> dict[str, Any]:
    """`cancel` (at period end), `renew` (undo that) or `cancel_now`, for the portal page."""
    session = portal_session(store, session_id)
    sub = store.get("subscription", sub_id, param="subscription", status=404)
    if sub["customer"] != session["customer"]:
        raise StripeError("This subscription belongs to another customer.", status=404)
    if action == "cancel":
        schedule_cancel(store, sub, True)
    elif action == "renew":
        schedule_cancel(store, sub, False)
    elif action == "cancel_now":
        if sub["status"] not in LIVE_STATUSES:
            raise StripeError(f"Subscription {sub_id} is already {sub['status']}.")
        end_subscription(store, sub, store.now())
    else:
        raise StripeError(f"Unknown portal action: {action}", status=404)
    return sub


ROUTES = [ApiRoute("POST", "/v1/billing_portal/sessions", create_portal_session, CREATE)]
