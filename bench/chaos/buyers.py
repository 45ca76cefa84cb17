"""The buyers: each picks a scenario and plays it one step per tick of the Stripe clock.

A purchase goes through the site as a reader's would (`POST /api/checkout` on the paywall,
the 303 to the local hosted checkout page, Pay on it, back to the success page), or through
a Payment Link (a session Stripe made, without the site's metadata). What follows is each
scenario's: keep it, refund it (in full or in part), dispute it; ride subscription renewals;
a card that fails on renewal (past_due), then a working card again or not (canceled after
Stripe's last retry); cancel at period end or now; dispute or refund a subscription invoice;
abandon the checkout. A step never waits for webhooks: it reads Stripe's state, so what the
paywall receives, and when, is up to delivery and outages alone.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from stripe_local.server import LocalStripe, LocalStripeError

from kp_contract.manifest import Manifest

GOOD_CARD = "4242424242424242"
FAILING_CARD = "4000000000000341"  # attaches, then every charge is declined
CS_ID = re.compile(r"/c/pay/(cs_[A-Za-z0-9_]+)")
CHECKOUT_PATIENCE = 90.0  # seconds a buyer keeps trying while the site or Stripe is down
MAX_TICKS = 40  # a scenario still waiting after this many ticks stops (its truth still counts)


@dataclass(frozen=True)
class Scenario:
    name: str
    channel: str  # checkout | link
    product: str  # one_time | monthly | yearly
    lifecycle: str
    weight: float


SCENARIOS = (
    Scenario("one-time", "checkout", "one_time", "keep", 14),
    Scenario("one-time, refunded", "checkout", "one_time", "refund", 8),
    Scenario("one-time, partly refunded", "checkout", "one_time", "partial_refund", 3),
    Scenario("one-time, disputed", "checkout", "one_time", "dispute", 6),
    Scenario("payment link, one-time", "link", "one_time", "keep", 7),
    Scenario("payment link, refunded", "link", "one_time", "refund", 3),
    Scenario("payment link, subscription", "link", "monthly", "renewals", 5),
    Scenario("subscription, renewals", "checkout", "monthly", "renewals", 14),
    Scenario("subscription, yearly", "checkout", "yearly", "keep", 3),
    Scenario("past_due, recovered", "checkout", "monthly", "past_due_recover", 8),
    Scenario("past_due, canceled", "checkout", "monthly", "past_due_lost", 6),
    Scenario("canceled at period end", "checkout", "monthly", "cancel_at_period_end", 8),
    Scenario("canceled now", "checkout", "monthly", "cancel_now", 5),
    Scenario("subscription, disputed", "checkout", "monthly", "dispute", 3),
    Scenario("subscription, invoice refunded", "checkout", "monthly", "refund", 2),
    Scenario("checkout abandoned", "checkout", "one_time", "abandon", 2),
)


def assign_scenarios(count: int, rng: random.Random) -> list[Scenario]:
    """Every scenario once (while `count` allows), the rest drawn by weight; shuffled."""
    chosen = list(SCENARIOS[:count])
    if count > len(SCENARIOS):
        weights = [s.weight for s in SCENARIOS]
        chosen += rng.choices(SCENARIOS, weights=weights, k=count - len(SCENARIOS))
    rng.shuffle(chosen)
    return chosen


@dataclass(frozen=True)
class Catalog:
    """What the build sells, and the local Stripe prices selling it."""

    course_slug: str
    course_price: str
    tier: str
    month_price: str
    year_price: str
    subscription_course: str | None  # a course whose checkout starts the tier's subscription

    @classmethod
    def from_manifest(cls, manifest: Manifest, prices: dict[str, str]) -> Catalog:
        course = next(c for c in manifest.courses.values() if c.mode == "payment")
        tier = next(t for t in manifest.tiers.values() if "month" in t.prices)
        month = tier.prices["month"]
        year = tier.prices.get("year") or month
        sub_course = next(
            (c.slug for c in manifest.courses.values() if c.mode == "subscription" and c.tier),
            None,
        )

        def price_id(lookup_key: str | None, stripe_price: str | None) -> str:
            found = stripe_price or prices.get(lookup_key or "")
            if not found:
                raise RuntimeError(f"no local Stripe price for lookup key {lookup_key!r}")
            return found

        return cls(
            course_slug=course.slug,
            course_price=price_id(course.price.lookup_key, course.price.stripe_price),
            tier=tier.name,
            month_price=price_id(month.lookup_key, month.stripe_price),
            year_price=price_id(year.lookup_key, year.stripe_price),
            subscription_course=sub_course,
        )


@dataclass
class World:
    """What every buyer shares: the servers, the catalog, the outage trigger, counters."""

    ls: LocalStripe
    paywall_url: str
    catalog: Catalog
    trigger_outage: Callable[[], bool]
    align: float  # chance that a payment or refund asks for an outage at that very moment
    http: httpx.Client
    counts: Counter[str] = field(default_factory=Counter)
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def subscription(self, sub_id: str) -> dict[str, Any]:
        """Stripe's view of a subscription: status, renewals so far, latest invoice."""
        store = self.ls.store
        with store.lock:
            sub = store.get("subscription", sub_id)
            invoice = store.find("invoice", sub["latest_invoice"] or "")
            return {
                "status": sub["status"],
                "renewals": store.private_of(sub_id).get("period", 0),
                "customer": sub["customer"],
                "latest_invoice": sub["latest_invoice"],
                "invoice_paid": bool(invoice and invoice["status"] == "paid"),
            }


class BuyerError(RuntimeError):
    """A step that could not be done (the site refused checkout for too long, …)."""


@dataclass
class Buyer:
    index: int
    email: str
    scenario: Scenario
    arrival: int  # the tick of the first step
    wait: int  # ticks before the lifecycle's action (refund, cancel, dispute)
    renewals: int  # renewals to ride (subscription, renewals)
    rng: random.Random
    state: str = "new"
    since: int = 0
    session: str | None = None
    subscription: str | None = None
    customer: str | None = None
    done: bool = False
    errors: list[str] = field(default_factory=list)

    def step(self, world: World, tick: int) -> None:
        """One step of the scenario (run in a pool thread); errors end the scenario."""
        try:
            self._step(world, tick)
        except (BuyerError, LocalStripeError, httpx.HTTPError) as exc:
            self.errors.append(f"tick {tick} {self.state}: {type(exc).__name__}: {exc}")
            world.count("buyer errors")
            self.done = True
        if not self.done and tick - self.arrival >= MAX_TICKS:
            world.count("scenarios stopped waiting")
            self.done = True

    def _enter(self, state: str, tick: int) -> None:
        self.state, self.since = state, tick

    def _step(self, world: World, tick: int) -> None:
        life = self.scenario.lifecycle
        if self.state == "new":
            self._buy(world)
            if life == "abandon" or (life == "keep" and self.scenario.product == "one_time"):
                self.done = True
            elif life in ("past_due_recover", "past_due_lost"):
                assert self.customer is not None
                world.ls.set_card(self.customer, FAILING_CARD)
                self._enter("failing", tick)
            else:
                self._enter("bought", tick)
            return
        waited = tick - self.since
        if self.scenario.product == "one_time":
            if waited < self.wait:
                return
            assert self.session is not None
            if life == "refund":
                world.ls.refund(self.session)
            elif life == "partial_refund":
                world.ls.refund(self.session, amount=1000)
            elif life == "dispute":
                world.ls.dispute(self.session)
            self._maybe_align(world)
            self.done = True
            return
        assert self.subscription is not None
        sub = world.subscription(self.subscription)
        if sub["status"] == "canceled" and self.state not in ("failing", "canceling"):
            self.done = True  # ended on its own (e.g. its card) before the scenario's step
            return
        if life == "keep":
            self.done = waited >= self.wait
        elif life == "renewals":
            self.done = sub["renewals"] >= self.renewals and sub["invoice_paid"]
        elif life == "past_due_recover":
            if self.state == "failing" and sub["status"] == "past_due":
                world.ls.set_card(sub["customer"], GOOD_CARD)  # the next retry pays
                self._enter("recovering", tick)
            elif self.state == "recovering" and sub["status"] == "active":
                self.done = sub["invoice_paid"]
        elif life == "past_due_lost":
            self.done = sub["status"] == "canceled"
        elif life == "cancel_at_period_end":
            if self.state == "bought" and waited >= self.wait:
                world.ls.cancel_subscription(self.subscription, at_period_end=True)
                self._maybe_align(world)
                self._enter("canceling", tick)
            elif self.state == "canceling":
                self.done = sub["status"] == "canceled"
        elif life == "cancel_now":
            if waited >= self.wait:
                world.ls.cancel_subscription(self.subscription, at_period_end=False)
                self._maybe_align(world)
                self.done = True
        elif life in ("dispute", "refund"):
            if waited >= self.wait and sub["invoice_paid"]:
                invoice = str(sub["latest_invoice"])
                if life == "dispute":
                    world.ls.dispute(invoice)
                else:
                    world.ls.refund(invoice)
                self._maybe_align(world)
                self.done = True
        else:  # pragma: no cover - every lifecycle is handled above
            raise BuyerError(f"unknown lifecycle {life!r}")

    def _maybe_align(self, world: World) -> None:
        if self.rng.random() < world.align and world.trigger_outage():
            world.count("outages aligned with a buyer's step")

    # -- buying ----------------------------------------------------------------------------

    def _buy(self, world: World) -> None:
        if self.scenario.channel == "link":
            price = (
                world.catalog.course_price
                if self.scenario.product == "one_time"
                else world.catalog.month_price
            )
            made = world.ls.payment_link_checkout(price, self.email)
            self._maybe_align(world)
            self.session = made["session"]
            self.subscription = made["subscription"]
            self.customer = made["customer"]
            world.count("payment link purchases")
            return
        form = self._checkout_form(world.catalog)
        location = self._start_checkout(world, form)
        match = CS_ID.search(location)
        if match is None:
            raise BuyerError(f"checkout redirected to {location!r}, not a hosted checkout page")
        self.session = match.group(1)
        page = _get(world.http, location)
        if page.status_code != 200:
            raise BuyerError(f"the hosted checkout page answered {page.status_code}")
        if self.scenario.lifecycle == "abandon":
            world.count("checkouts abandoned")
            return
        redirect = world.ls.pay(self.session, email=self.email)
        self._maybe_align(world)
        world.count("checkout purchases")
        with world.ls.store.lock:
            session = world.ls.store.get("checkout.session", self.session)
            self.subscription = session["subscription"]
            self.customer = session["customer"]
        if redirect:
            try:
                answer = _get(world.http, redirect)
                world.count(f"success page {answer.status_code}")
            except httpx.HTTPError as exc:
                world.count(f"success page {type(exc).__name__}")

    def _checkout_form(self, catalog: Catalog) -> dict[str, str]:
        if self.scenario.product == "one_time":
            slug = catalog.course_slug
            return {"course": slug, "from": f"/courses/{slug}/"}
        if (
            self.scenario.product == "monthly"
            and catalog.subscription_course
            and self.rng.random() < 0.3
        ):
            slug = catalog.subscription_course
            return {"course": slug, "from": f"/courses/{slug}/"}
        interval = "year" if self.scenario.product == "yearly" else "month"
        return {"tier": catalog.tier, "interval": interval, "from": "/pricing/"}

    def _start_checkout(self, world: World, form: dict[str, str]) -> str:
        """POST /api/checkout until the site answers its 303 to Stripe (it cannot while
        Stripe's API or its database is down: a reader would press Buy again)."""
        deadline = time.monotonic() + CHECKOUT_PATIENCE
        last = ""
        while True:
            try:
                answer = world.http.post(f"{world.paywall_url}/api/checkout", data=form)
                if answer.status_code == 303:
                    return answer.headers["location"]
                last = f"{answer.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            world.count(f"checkout refused ({last})")
            if time.monotonic() > deadline or world.stopping.is_set():
                raise BuyerError(f"POST /api/checkout kept failing ({last})")
            time.sleep(self.rng.uniform(0.3, 0.8))


def _get(http: httpx.Client, url: str) -> httpx.Response:
    """GET, once more on a transport error: a kept-alive connection the server had just
    closed fails the first try (a browser would simply retry it)."""
    try:
        return http.get(url)
    except httpx.TransportError:
        return http.get(url)


def make_buyers(count: int, seed: int, arrival_ticks: int) -> list[Buyer]:
    rng = random.Random(seed)
    scenarios = assign_scenarios(count, rng)
    buyers = []
    for index, scenario in enumerate(scenarios):
        buyers.append(
            Buyer(
                index=index,
                email=f"buyer{index:05d}.s{seed}@chaos.example",
                scenario=scenario,
                arrival=index * arrival_ticks // max(1, count),
                wait=rng.randint(0, 6),
                renewals=rng.randint(1, 2),
                rng=random.Random(rng.getrandbits(64)),
            )
        )
    return buyers
