"""`/_local/`: the test hooks over HTTP (the clock, paying, refunds, webhook delivery,
outages of the API).

`LocalStripe`'s Python methods call these, so every state change and its webhooks run in the
server's own event loop. Only loopback clients are served; there is no API key because this
is not part of Stripe's API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stripe_local import cards
from stripe_local.errors import StripeError
from stripe_local.ids import new_id
from stripe_local.resources.billing import end_subscription, schedule_cancel
from stripe_local.resources.checkout import complete_session, create_session
from stripe_local.resources.payments import dispute, refund, refundable_charge
from stripe_local.resources.webhook_endpoints import set_default_endpoint
from stripe_local.routing import Ctx
from stripe_local.store import Store
from stripe_local.timeline import advance, advance_to
from stripe_local.webhooks import Chaos, Dispatcher

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def payment_params(store: Store, target: str, amount: int | None) -> dict[str, Any]:
    """The payment a PaymentIntent, Charge, Checkout Session or Invoice id stands for, as
    refund parameters (`payment_intent` or `charge`)."""
    params: dict[str, Any] = {"amount": amount}
    if target.startswith("ch_"):
        params["charge"] = target
    elif target.startswith("pi_"):
        params["payment_intent"] = target
    elif target.startswith("cs_"):
        session = store.get("checkout.session", target, param="target")
        intent = session["payment_intent"] or store.private_of(session["invoice"] or "").get(
            "payment_intent"
        )
        if not intent:
            raise StripeError(
                f"Checkout Session {target} has no payment to refund.", param="target"
            )
        params["payment_intent"] = intent
    elif target.startswith("in_"):
        store.get("invoice", target, param="target")
        intent = store.private_of(target).get("payment_intent")
        if not intent:
            raise StripeError(f"Invoice {target} has no payment to refund.", param="target")
        params["payment_intent"] = intent
    else:
        raise StripeError(
            f"Cannot refund {target!r}: pass a pi_, ch_, cs_ or in_ id.", param="target"
        )
    return params


def _int(body: dict[str, Any], key: str, required: bool = False) -> int | None:
    value = body.get(key)
    if value in (None, ""):
        if required:
            raise StripeError(f"Missing required param: {key}.", param=key)
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(f"Invalid integer: {value}", param=key) from None


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise StripeError(f"Invalid boolean: {value}", param=key)


class Control:
    def __init__(self, store: Store, dispatcher: Dispatcher) -> None:
        self.store = store
        self.dispatcher = dispatcher

    def routes(self) -> list[Route]:
        post = {
            "/_local/advance": self.advance,
            "/_local/pay/{session_id}": self.pay,
            "/_local/refund": self.refund,
            "/_local/dispute": self.dispute,
            "/_local/subscriptions/{sub_id}/cancel": self.cancel_subscription,
            "/_local/customers/{customer_id}/card": self.set_card,
            "/_local/hold": self.hold,
            "/_local/release": self.release,
            "/_local/flush": self.flush,
            "/_local/resend/{event_id}": self.resend,
            "/_local/drain": self.drain,
            "/_local/webhook": self.webhook,
            "/_local/delivery": self.delivery,
            "/_local/chaos": self.chaos,
            "/_local/settled": self.settled,
            "/_local/pause_api": self.pause_api,
            "/_local/resume_api": self.resume_api,
            "/_local/payment_link_checkout": self.payment_link_checkout,
        }
        routes = [Route(path, self._guard(fn), methods=["POST"]) for path, fn in post.items()]
        routes.append(Route("/_local/state", self._guard(self.state), methods=["GET"]))
        routes.append(Route("/_local/deliveries", self._guard(self.deliveries), methods=["GET"]))
        routes.append(Route("/_local/given_up", self._guard(self.given_up), methods=["GET"]))
        return routes

    def _guard(
        self, handler: Callable[[Request, dict[str, Any]], Awaitable[Any]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.client is None or request.client.host not in LOOPBACK:
                return JSONResponse({"error": {"message": "loopback clients only"}}, 403)
            try:
                body = await _body(request)
                return JSONResponse(await handler(request, body))
            except StripeError as error:
                return JSONResponse(error.body(), status_code=error.status)
            except ValueError as error:
                return JSONResponse({"error": {"message": str(error)}}, status_code=400)

        return endpoint

    async def _run(self, operation: Callable[..., Any], *args: Any) -> Any:
        """Change state, then deliver the events (waiting, in sync mode) before answering."""
        try:
            result, events = self.store.run(operation, *args)
        except StripeError as error:
            await self.dispatcher.dispatch(error.events, wait=True)
            raise
        await self.dispatcher.dispatch(events, wait=True)
        return result

    async def state(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            return {
                "now": self.store.now(),
                "delivery": self.dispatcher.mode,
                "held": [e["id"] for e in self.dispatcher.held],
                "events": len(self.store.events),
                "api_paused": self.store.api_paused,
                "api_refused": self.store.api_refused,
            } | {"deliveries": asdict(self.dispatcher.stats())}

    async def advance(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        target = _int(body, "to")
        if target is not None:
            steps = await self._run(advance_to, target)
        else:
            steps = await self._run(advance, _int(body, "seconds", required=True))
        return {"now": self.store.now(), "steps": steps}

    async def pay(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        redirect = await self._run(
            complete_session,
            request.path_params["session_id"],
            body.get("email"),
            body.get("promotion_code"),
            body.get("card"),
            body.get("payment_method"),
        )
        return {"redirect": redirect}

    async def refund(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        target = str(body.get("target") or "")
        amount = _int(body, "amount")

        def run(store: Store) -> dict[str, Any]:
            return refund(store, payment_params(store, target, amount))

        return await self._run(run)

    async def dispute(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        target = str(body.get("target") or "")
        reason = str(body.get("reason") or "fraudulent")

        def run(store: Store) -> dict[str, Any]:
            charge, _ = refundable_charge(store, payment_params(store, target, None))
            return dispute(store, charge, reason)

        return await self._run(run)

    async def cancel_subscription(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        sub_id = request.path_params["sub_id"]
        at_period_end = _bool(body, "at_period_end", True)

        def run(store: Store) -> dict[str, Any]:
            sub = store.get("subscription", sub_id, param="subscription", status=404)
            if at_period_end:
                schedule_cancel(store, sub, True)
            else:
                if sub["status"] == "canceled":
                    raise StripeError(f"Subscription {sub_id} is already canceled.")
                end_subscription(store, sub, store.now())
            return sub

        return await self._run(run)

    async def set_card(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        number = str(body.get("number") or "").replace(" ", "")
        customer_id = request.path_params["customer_id"]
        if cards.lookup(number) is None:
            raise StripeError(f"{number!r} is not a Stripe test card number.", param="number")
        with self.store.lock:
            self.store.get("customer", customer_id, param="customer", status=404)
            self.store.private_of(customer_id)["card"] = number
        return {"customer": customer_id, "card": number}

    async def hold(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        self.dispatcher.hold()
        return {"delivery": self.dispatcher.mode}

    async def release(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        self.dispatcher.release()
        return {"delivery": self.dispatcher.mode}

    async def delivery(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        self.dispatcher.set_mode(str(body.get("mode") or ""))
        return {"delivery": self.dispatcher.mode}

    async def flush(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        order = body.get("order")
        delivered = await self.dispatcher.flush(order, release=_bool(body, "release", True))
        return {"delivered": delivered}

    async def resend(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        await self.dispatcher.resend(request.path_params["event_id"])
        return {"resent": request.path_params["event_id"]}

    async def drain(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        await self.dispatcher.drain()
        return {"drained": True}

    async def webhook(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        url, secret = body.get("url"), body.get("secret")
        if not url or not secret:
            raise StripeError(
                "Both url and secret are required.", param="url" if not url else "secret"
            )
        with self.store.lock:
            endpoint = set_default_endpoint(self.store, str(url), str(secret))
        return {"id": endpoint["id"], "url": endpoint["url"]}

    async def deliveries(self, request: Request, body: dict[str, Any]) -> list[dict[str, Any]]:
        with self.store.lock:
            return [asdict(record) for record in self.dispatcher.records]

    async def given_up(self, request: Request, body: dict[str, Any]) -> list[dict[str, Any]]:
        with self.store.lock:
            return [asdict(record) for record in self.dispatcher.given_up]

    async def chaos(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """`{"seed": 7, "copies": [0.5, 0.3, 0.2], …}` delivers with chaos from now on;
        `{"off": true}` (or an empty body) turns it off."""
        settings = {k: v for k, v in body.items() if k != "off"}
        chaos = None if _bool(body, "off", False) or not settings else Chaos.from_mapping(settings)
        self.dispatcher.set_chaos(chaos)
        return {"chaos": asdict(chaos) if chaos else None}

    async def settled(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """Wait up to `timeout` seconds (default 0: just look) until every delivery was
        answered 2xx or given up, with nothing queued, held, in flight or scheduled."""
        timeout = float(body.get("timeout") or 0)
        settled = await self.dispatcher.wait_settled(max(0.0, timeout))
        return {"settled": settled, "deliveries": asdict(self.dispatcher.stats())}

    async def pause_api(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """Every `/v1` request answers 503 (`api_error`) until `resume_api`; the hosted
        pages, these controls and webhook delivery go on."""
        with self.store.lock:
            self.store.api_paused = True
        return {"api_paused": True, "at": time.time()}

    async def resume_api(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            self.store.api_paused = False
            refused = self.store.api_refused
        return {"api_paused": False, "api_refused": refused, "at": time.time()}

    async def payment_link_checkout(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """A purchase through a Payment Link: a Checkout Session made by Stripe, not by the
        site, so it carries no metadata and no `client_reference_id` of the site's, only
        `payment_link` and its line items; paid at once (`email`, optional `card`).
        Returns the ids of what it made."""
        price_id = str(body.get("price") or "")
        email = body.get("email")
        card = body.get("card")
        quantity = _int(body, "quantity") or 1
        creation = body.get("customer_creation")
        base_url = str(request.base_url).rstrip("/")

        def run(store: Store) -> dict[str, Any]:
            price = store.get("price", price_id, param="price")
            mode = "subscription" if price["type"] == "recurring" else "payment"
            link = store.insert(
                {
                    "id": new_id("plink_"),
                    "object": "payment_link",
                    "active": True,
                    "livemode": False,
                    "metadata": {},
                    "url": f"{base_url}/b/{new_id('')}",
                }
            )
            params: dict[str, Any] = {
                "mode": mode,
                "line_items": [{"price": price["id"], "quantity": quantity}],
            }
            if mode == "payment":
                params["customer_creation"] = str(creation or "if_required")
            session = create_session(store, params, Ctx(base_url=base_url))
            session["payment_link"] = link["id"]
            complete_session(store, session["id"], email, None, card)
            return {
                "session": session["id"],
                "payment_link": link["id"],
                "mode": mode,
                "customer": session["customer"],
                "payment_intent": session["payment_intent"],
                "subscription": session["subscription"],
                "invoice": session["invoice"],
            }

        return await self._run(run)


async def _body(request: Request) -> dict[str, Any]:
    """JSON or form body (or the query string), so curl and Python clients both work."""
    if request.method == "GET":
        return dict(request.query_params)
    raw = await request.body()
    if not raw:
        return dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise StripeError(f"The body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise StripeError("The JSON body must be an object.")
        return data
    return dict(parse_qsl(raw.decode("utf-8", "replace")))
