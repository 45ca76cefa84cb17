"""Fixtures: a LocalStripe per test, the official SDK pointed at it, and a webhook receiver
that verifies every delivery with `stripe.Webhook.construct_event` and records it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from stripe_local.asgi_thread import ServerThread, serving
from stripe_local.server import LocalStripe

WEBHOOK_SECRET = "whsec_test_receiver"


@dataclass
class Received:
    event: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Receiver:
    """Records verified webhooks; `fail_next` makes the next deliveries answer 500; `delay`
    makes each take that long (`max_in_flight`: the most handled at once)."""

    secret: str = WEBHOOK_SECRET
    received: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    failures_left: int = 0
    on_event: Callable[[dict[str, Any]], None] | None = None
    server: ServerThread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"{self.server.url}/webhook"

    def fail_next(self, count: int) -> None:
        with self.lock:
            self.failures_left = count

    def clear(self) -> None:
        with self.lock:
            self.received.clear()

    def types(self) -> list[str]:
        with self.lock:
            return [r.event["type"] for r in self.received]

    def ids(self) -> list[str]:
        with self.lock:
            return [r.event["id"] for r in self.received]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r.event for r in self.received if r.event["type"] == event_type]

    def handle(self, request: Request, body: bytes) -> PlainTextResponse:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._handle(request, body)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _handle(self, request: Request, body: bytes) -> PlainTextResponse:
        with self.lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return PlainTextResponse("simulated outage", status_code=500)
        try:
            event = stripe.Webhook.construct_event(
                body, request.headers.get("stripe-signature"), self.secret
            )
        except (ValueError, stripe.SignatureVerificationError) as exc:
            with self.lock:
                self.rejected.append(str(exc))
            return PlainTextResponse("bad signature", status_code=400)
        data = event.to_dict()
        if self.on_event is not None:
            self.on_event(data)
        with self.lock:
            self.received.append(Received(data, dict(request.headers)))
        return PlainTextResponse("ok")

    def app(self) -> Starlette:
        # A sync handler: Starlette runs it in a thread pool, like a typical Flask/Django
        # receiver; `on_event` may call back into the Stripe server from there.
        async def webhook(request: Request) -> PlainTextResponse:
            body = await request.body()
            return await run_in_threadpool(self.handle, request, body)

        return Starlette(routes=[Route("/webhook", webhook, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    with serving(hook.app()) as server:
        hook.server = server
        yield hook


@pytest.fixture
def second_receiver() -> Iterator[Receiver]:
    hook = Receiver(secret="")
    with serving(hook.app()) as server:
        hook.server = server
        yield hook


@pytest.fixture
def local(receiver: Receiver) -> Iterator[LocalStripe]:
    with LocalStripe(
        webhook_url=receiver.url, webhook_secret=receiver.secret, retry_backoff=(0.01,)
    ) as server:
        yield server


@pytest.fixture
def client(local: LocalStripe) -> stripe.StripeClient:
    return local.client()


@dataclass
class Catalog:
    product: Any
    one_time: Any
    monthly: Any
    yearly: Any


@pytest.fixture
def catalog(local: LocalStripe, client: stripe.StripeClient, receiver: Receiver) -> Catalog:
    """Products and prices; their `product.created`/`price.created` webhooks are delivered
    and forgotten, so tests see only the events they cause."""
    course = client.v1.products.create({"name": "Writing Course", "metadata": {"slug": "writing"}})
    one_time = client.v1.prices.create(
        {"product": course.id, "unit_amount": 4900, "currency": "usd", "lookup_key": "writing"}
    )
    membership = client.v1.products.create({"name": "Membership"})
    monthly = client.v1.prices.create(
        {
            "product": membership.id,
            "unit_amount": 900,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": "member-monthly",
        }
    )
    yearly = client.v1.prices.create(
        {
            "product": membership.id,
            "unit_amount": 9000,
            "currency": "usd",
            "recurring": {"interval": "year"},
            "lookup_key": "member-yearly",
        }
    )
    local.drain()
    receiver.clear()
    return Catalog(course, one_time, monthly, yearly)


SUCCESS = "http://site.test/thanks?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "http://site.test/courses/writing/"


@pytest.fixture
def checkout(client: stripe.StripeClient, catalog: Catalog) -> Callable[..., Any]:
    """Create a Checkout Session for one price: `checkout("payment" | "subscription", **extra)`."""

    def create(mode: str = "payment", price: Any = None, **extra: Any) -> Any:
        chosen = price or (catalog.one_time if mode == "payment" else catalog.monthly)
        params = {
            "mode": mode,
            "line_items": [{"price": chosen.id, "quantity": 1}],
            "success_url": SUCCESS,
            "cancel_url": CANCEL,
            **extra,
        }
        return client.v1.checkout.sessions.create(params)

    return create


class Browser:
    """The hosted pages as a browser without JavaScript sees them (no redirects followed)."""

    def __init__(self) -> None:
        self.http = httpx.Client(trust_env=False, timeout=30)

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def submit(self, url: str, **form: str) -> httpx.Response:
        return self.http.post(url, data=form)


@pytest.fixture
def browser() -> Iterator[Browser]:
    page = Browser()
    yield page
    page.http.close()
