"""`LocalStripe`: the local Stripe test server in a background thread, with test hooks.

    with LocalStripe(webhook_url=…, webhook_secret="whsec_test") as ls:
        client = stripe.StripeClient(ls.api_key, base_addresses={"api": ls.url})
        …
        ls.pay(session.id)        # like pressing Pay on the hosted page
        ls.advance(31 * 86400)    # renew subscriptions, expire sessions

The hooks that change state go through the server's `/_local/` API, so their webhooks are
delivered from the server's own event loop exactly as hosted-page actions are.

For chaos testing (`bench.chaos`): `pause_api()` / `resume_api()` make `/v1` answer like an
unreachable Stripe; `retry_schedule` redelivers failed webhooks later with backoff, as Stripe
does; `chaos=Chaos(seed=…)` sends duplicates (some concurrently) and reorders events;
`wait_settled()` waits until every delivery was answered 2xx or given up;
`payment_link_checkout()` makes a purchase without the site's metadata.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx
import stripe

from stripe_local.app import create_app
from stripe_local.asgi_thread import ServerThread
from stripe_local.clock import Clock
from stripe_local.ids import new_id
from stripe_local.resources.events import type_matches
from stripe_local.resources.webhook_endpoints import set_default_endpoint
from stripe_local.store import Store
from stripe_local.webhooks import Chaos, Delivery, DeliveryStats, Dispatcher, GiveUp

#: The API version the installed SDK speaks; events carry it as Stripe's do.
DEFAULT_API_VERSION: str = stripe.api_version
DEFAULT_API_KEY = "sk_test_local"


class LocalStripeError(RuntimeError):
    """A test hook was refused (unknown id, session not open, declined card, …)."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message") or str(body)
        super().__init__(f"{status}: {message}")
        self.status = status
        self.error = error


class LocalStripe:
    def __init__(
        self,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        delivery: str = "sync",
        *,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int | None = None,
        start_time: int | None = None,
        enabled_events: Sequence[str] = ("*",),
        max_attempts: int = 4,
        retry_backoff: Sequence[float] = (0.05, 0.2, 0.5),
        delivery_timeout: float = 10.0,
        api_version: str = DEFAULT_API_VERSION,
        retry_schedule: Sequence[float] = (),
        retry_cap: float | None = None,
        delivery_concurrency: int = 1,
        chaos: Chaos | None = None,
    ) -> None:
        if not api_key.startswith("sk_test_"):
            raise ValueError("api_key must be a test secret key (sk_test_…)")
        self.api_key = api_key
        self.store = Store(api_version, Clock(start_time))
        self.dispatcher = Dispatcher(
            self.store,
            delivery,
            max_attempts=max_attempts,
            backoff=retry_backoff,
            timeout=delivery_timeout,
            retry_schedule=retry_schedule,
            retry_cap=retry_cap,
            concurrency=delivery_concurrency,
            chaos=chaos,
        )
        self.app = create_app(self.store, self.dispatcher, api_key)
        self._server = ServerThread(self.app, host, port)
        self._enabled_events = tuple(enabled_events)
        self._webhook_secret: str | None = None
        self._http_client: httpx.Client | None = None
        self._http_lock = threading.Lock()
        if webhook_url is not None:
            self.set_webhook(webhook_url, webhook_secret or new_id("whsec_"))
        elif webhook_secret is not None:
            raise ValueError("webhook_secret given without webhook_url")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for `STRIPE_API_BASE` / the SDK's `base_addresses={"api": …}`."""
        return self._server.url

    @property
    def webhook_secret(self) -> str | None:
        return self._webhook_secret

    def start(self) -> LocalStripe:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        with self._http_lock:
            if self._http_client is not None:
                self._http_client.close()
                self._http_client = None

    def _http(self) -> httpx.Client:
        """One client for the test hooks, shared by every thread (making one costs ~40 ms)."""
        with self._http_lock:
            if self._http_client is None:
                self._http_client = httpx.Client(trust_env=False, timeout=60)
            return self._http_client

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def client(self, **options: Any) -> stripe.StripeClient:
        """An official SDK client pointed at this server."""
        return stripe.StripeClient(self.api_key, base_addresses={"api": self.url}, **options)

    def set_webhook(self, url: str, secret: str) -> None:
        """Point the default webhook endpoint at `url`, signing with `secret`."""
        with self.store.lock:
            set_default_endpoint(self.store, url, secret, self._enabled_events)
            self._webhook_secret = secret

    # -- test hooks ------------------------------------------------------------------------

    def _control(
        self, path: str, payload: dict[str, Any] | None = None, *, http_timeout: float = 60
    ) -> Any:
        if not self._server.server.started:
            raise RuntimeError("LocalStripe is not running; use `with LocalStripe(...)` or start()")
        response = self._http().post(
            f"{self.url}/_local{path}", json=payload or {}, timeout=http_timeout
        )
        body = response.json()
        if response.status_code >= 400:
            raise LocalStripeError(response.status_code, body)
        return body

    def pay(
        self,
        cs_id: str,
        email: str | None = None,
        promotion_code: str | None = None,
        card: str | None = None,
        payment_method: str | None = None,
    ) -> str | None:
        """Complete a Checkout Session as pressing Pay would, with `payment_method` (card,
        alipay, wechat_pay; default the session's first); returns the redirect URL."""
        body = self._control(
            f"/pay/{cs_id}",
            {
                "email": email,
                "promotion_code": promotion_code,
                "card": card,
                "payment_method": payment_method,
            },
        )
        return body["redirect"]

    def refund(self, target: str, amount: int | None = None) -> dict[str, Any]:
        """Refund a PaymentIntent, Charge, Checkout Session or Invoice (in full by default)."""
        return self._control("/refund", {"target": target, "amount": amount})

    def dispute(self, target: str, reason: str = "fraudulent") -> dict[str, Any]:
        """Open a dispute on the payment (`charge.dispute.created`), as a bank would."""
        return self._control("/dispute", {"target": target, "reason": reason})

    def cancel_subscription(self, sub_id: str, at_period_end: bool = True) -> dict[str, Any]:
        return self._control(f"/subscriptions/{sub_id}/cancel", {"at_period_end": at_period_end})

    def set_card(self, customer_id: str, number: str) -> None:
        """Charge the customer's future invoices to this test card (e.g. 4000000000000341
        to make renewals fail)."""
        self._control(f"/customers/{customer_id}/card", {"number": number})

    def advance(self, seconds: int) -> int:
        """Move the clock forward; renewals, cancellations and expiries fall due on the way."""
        return self._control("/advance", {"seconds": int(seconds)})["now"]

    def set_time(self, timestamp: int) -> int:
        return self._control("/advance", {"to": int(timestamp)})["now"]

    def now(self) -> int:
        return self.store.now()

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """Every event so far, oldest first (`type` may end in `.*`)."""
        with self.store.lock:
            chosen = [e for e in self.store.events if type is None or type_matches(type, e["type"])]
            return copy.deepcopy(chosen)

    @property
    def deliveries(self) -> list[tuple[str, str, int | None]]:
        """(event id, event type, HTTP status or None) for every delivery attempt."""
        with self.store.lock:
            return [(d.event_id, d.event_type, d.status_code) for d in self.dispatcher.records]

    @property
    def delivery_log(self) -> list[Delivery]:
        """Every delivery attempt with its URL, attempt number and error."""
        with self.store.lock:
            return list(self.dispatcher.records)

    def hold(self) -> None:
        """Queue webhooks instead of delivering them, until `flush()`."""
        self.dispatcher.hold()

    def flush(self, order: str | Sequence[str] | None = None, release: bool = True) -> list[str]:
        """Deliver held webhooks and wait: FIFO, `"reverse"`, or the given event ids/types
        first. Ends holding unless `release=False`. Returns the delivered event ids."""
        payload = {"order": order if order is None or isinstance(order, str) else list(order)}
        return self._control("/flush", {**payload, "release": release})["delivered"]

    def resend(self, event_id: str) -> None:
        self._control(f"/resend/{event_id}")

    def drain(self) -> None:
        """Wait until every queued webhook has been delivered (for `async` mode)."""
        self._control("/drain")

    def set_delivery(self, mode: str) -> None:
        """Switch between `sync`, `async` and `hold`."""
        self.dispatcher.set_mode(mode)

    def set_chaos(self, chaos: Chaos | None) -> None:
        """Deliver with duplicates and reordering from now on (None: plainly, in order)."""
        self.dispatcher.set_chaos(chaos)

    # -- outages, redelivery, Payment Links ------------------------------------------------

    def pause_api(self) -> float:
        """Make every `/v1` request answer 503 with an `api_error`, as an unreachable Stripe
        would (the SDK's own retries fail too), until `resume_api()`. Hosted pages, the
        `/_local/` hooks and webhook delivery keep working. Returns when (`time.time()`)
        the server paused."""
        return float(self._control("/pause_api")["at"])

    def resume_api(self) -> float:
        """Answer `/v1` again; returns when the server resumed."""
        return float(self._control("/resume_api")["at"])

    @property
    def api_paused(self) -> bool:
        with self.store.lock:
            return self.store.api_paused

    @property
    def api_refused(self) -> int:
        """How many `/v1` requests were answered 503 because the API was paused."""
        with self.store.lock:
            return self.store.api_refused

    def wait_settled(self, timeout: float = 30.0) -> bool:
        """Wait until every delivery was answered 2xx or given up and nothing is queued,
        held, in flight or scheduled for a retry; False if `timeout` seconds pass first."""
        body = self._control("/settled", {"timeout": timeout}, http_timeout=timeout + 30)
        return bool(body["settled"])

    def delivery_stats(self) -> DeliveryStats:
        """Counts of deliveries: made, answered, duplicated, given up, still pending."""
        return self.dispatcher.stats()

    @property
    def given_up(self) -> list[GiveUp]:
        """Deliveries abandoned after their last retry."""
        with self.store.lock:
            return list(self.dispatcher.given_up)

    def payment_link_checkout(
        self,
        price: str,
        email: str,
        *,
        card: str | None = None,
        quantity: int = 1,
        customer_creation: str | None = None,
    ) -> dict[str, Any]:
        """Buy `price` through a Payment Link: a completed Checkout Session with none of the
        site's metadata or `client_reference_id` (only `payment_link` and line items), paid
        with `card`; its webhooks go out as for any checkout. Returns the ids made
        (`session`, `payment_link`, `mode`, `customer`, `payment_intent`, `subscription`,
        `invoice`)."""
        payload = {
            "price": price,
            "email": email,
            "card": card,
            "quantity": quantity,
            "customer_creation": customer_creation,
        }
        return self._control("/payment_link_checkout", payload)
