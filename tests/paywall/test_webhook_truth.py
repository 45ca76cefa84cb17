"""Stripe's API is the truth, the event a notification (on SQLite and PostgreSQL).

A purchase or a dispute that arrives while Stripe's API cannot be read is answered 503 and
not stored, so Stripe's retry grants or revokes once Stripe answers again; an event about
an object Stripe does not know grants nothing; signatures dated in the future and events
of the other mode are refused or ignored; payload states of the same second end the same
in any order; and a state read from Stripe earlier never overwrites one read later.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from sqlalchemy import select
from stripe_local.server import LocalStripe

from kp_contract.manifest import read_manifest
from paywall.billing.failed_deliveries import Pending, pending_events
from paywall.billing.stripe_sync import sync_catalog
from paywall.database.models import Entitlement, StripeEvent
from paywall.members.entitlements import Desired, active_keys, set_state
from paywall.members.records import find_member, get_or_create_member

from .conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.timeout(120)


def keys_of(pw: Any, email: str, at: dt.datetime | None = None) -> set[str]:
    with pw.sessions() as db:
        member = find_member(db, email)
        return set() if member is None else active_keys(db, member.id, at or pw.now())


def stored(pw: Any, event_id: str) -> StripeEvent | None:
    with pw.sessions() as db:
        return db.get(StripeEvent, event_id)


def pending(pw: Any) -> list[Pending]:
    with pw.sessions() as db:
        return pending_events(db, 100)


def lookup_price(local_stripe: LocalStripe, lookup_key: str) -> str:
    prices = local_stripe.client().v1.prices.list({"lookup_keys": [lookup_key]})
    return str(prices.data[0].id)


class WithLocalStripe:
    """Tests that talk to the local Stripe test server, the catalog synced as `kp stripe
    sync` makes it."""

    @pytest.fixture
    def settings_overrides(self, stripe_settings: dict[str, Any]) -> dict[str, Any]:
        return stripe_settings

    @pytest.fixture(autouse=True)
    def catalog(self, local_stripe: LocalStripe, settings: Any) -> None:
        sync_catalog(local_stripe.client(), read_manifest(settings.manifest_path))


class TestStripeUnreachable(WithLocalStripe):
    def test_payment_link_purchase_waits_for_stripe_then_grants(
        self, app_server: Any, local_stripe: LocalStripe
    ) -> None:
        """A Payment Link session carries none of our metadata: what it sells is in its line
        items, which only Stripe's API has. While the API is down the event is refused with
        503 and not stored; Stripe's retry, once the API answers, grants the course."""
        pw = app_server.pw
        local_stripe.hold()
        bought = local_stripe.payment_link_checkout(
            lookup_price(local_stripe, "demo"), "link@example.com"
        )
        local_stripe.pause_api()
        local_stripe.flush()
        completed = [
            e
            for e in local_stripe.events("checkout.session.completed")
            if e["data"]["object"]["id"] == bought["session"]
        ]
        assert completed, "the local Stripe server made no checkout.session.completed"
        event_id = completed[0]["id"]
        statuses = [d[2] for d in local_stripe.deliveries if d[0] == event_id]
        assert statuses and all(status == 503 for status in statuses), statuses
        assert stored(pw, event_id) is None  # a retry is a new delivery, not a duplicate
        assert keys_of(pw, "link@example.com") == set()
        # What `kp events list` shows the operator (with the other events of the purchase).
        (waiting,) = [p for p in pending(pw) if p.event_id == event_id]
        assert waiting.attempts == len(statuses)
        assert "Stripe could not be read" in waiting.reason

        local_stripe.resume_api()
        local_stripe.resend(event_id)  # Stripe's next retry
        assert keys_of(pw, "link@example.com") == {"course:demo"}
        row = stored(pw, event_id)
        assert row is not None and row.processed_at is not None
        assert event_id not in {p.event_id for p in pending(pw)}

    def test_dispute_of_a_renewal_waits_for_stripe_then_revokes(
        self, app_server: Any, local_stripe: LocalStripe
    ) -> None:
        pw = app_server.pw
        member = app_server.client()
        app_server.login(member, "disputer@example.com")
        r = member.post("/api/checkout", data={"tier": "pro", "interval": "month"})
        assert r.status_code == 303, r.text[:300]
        cs_id = r.headers["location"].rsplit("/", 1)[-1].split("?")[0]
        local_stripe.pay(cs_id)
        assert keys_of(pw, "disputer@example.com") == {"tier:pro"}
        invoice = local_stripe.events("invoice.paid")[-1]["data"]["object"]

        local_stripe.hold()
        local_stripe.dispute(str(invoice["id"]))
        local_stripe.pause_api()
        local_stripe.flush()
        (dispute,) = local_stripe.events("charge.dispute.created")
        assert stored(pw, dispute["id"]) is None
        assert keys_of(pw, "disputer@example.com") == {"tier:pro"}  # not revoked yet

        local_stripe.resume_api()
        local_stripe.resend(dispute["id"])
        assert keys_of(pw, "disputer@example.com") == set()
        with pw.sessions() as db:
            found = find_member(db, "disputer@example.com")
            assert found is not None and found.flagged

    def test_dispute_delivered_before_the_subscription_waits_for_it(
        self, app_server: Any, local_stripe: LocalStripe
    ) -> None:
        """A renewal's dispute that arrives before the subscription's own events cannot find
        the member yet: it is answered 503 (not stored), and its redelivery, once the
        checkout is in, revokes (found by the chaos suite: it was recorded and lost)."""
        pw = app_server.pw
        buyer = app_server.client()
        r = buyer.post("/api/checkout", data={"tier": "pro", "interval": "month"})
        assert r.status_code == 303, r.text[:300]
        cs_id = r.headers["location"].rsplit("/", 1)[-1].split("?")[0]
        local_stripe.hold()
        local_stripe.pay(cs_id, email="early-dispute@example.com")
        invoice = local_stripe.events("invoice.paid")[-1]["data"]["object"]
        local_stripe.dispute(str(invoice["id"]))
        (dispute,) = local_stripe.events("charge.dispute.created")
        local_stripe.flush(order=[dispute["id"]])
        first = [d for d in local_stripe.deliveries if d[0] == dispute["id"]][0]
        assert first[2] == 503
        assert keys_of(pw, "early-dispute@example.com") == {"tier:pro"}  # checkout applied
        local_stripe.resend(dispute["id"])
        assert keys_of(pw, "early-dispute@example.com") == set()
        row = stored(pw, dispute["id"])
        assert row is not None and "flagged" in row.outcome

    def test_session_stripe_never_made_grants_nothing(
        self, app_server: Any, stripe_events: Any, deliver: Any
    ) -> None:
        """Signed with our secret, but about a session Stripe has no record of: whatever its
        metadata names, nothing is granted (recorded as ignored)."""
        event = stripe_events.checkout_session(email="forged@example.com", product="tier:pro")
        assert deliver(app_server.url, event).status_code == 200
        assert keys_of(app_server.pw, "forged@example.com") == set()
        row = stored(app_server.pw, event["id"])
        assert row is not None and row.outcome.startswith("ignored:")
        assert "does not exist at Stripe" in row.outcome

    def test_event_of_the_other_mode_is_ignored(
        self, app_server: Any, stripe_events: Any, deliver: Any
    ) -> None:
        event = stripe_events.checkout_session(email="live@example.com")
        event["livemode"] = True  # a live event at a test key
        r = deliver(app_server.url, event)
        assert r.status_code == 200 and r.json()["status"] == "ignored"
        assert stored(app_server.pw, event["id"]) is None
        assert keys_of(app_server.pw, "live@example.com") == set()


class TestPayloadOnly:
    """Without a Stripe key nothing can be read: the payload, ordered by timestamps."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}

    def test_signature_dated_in_the_future_is_refused(
        self, app_server: Any, stripe_events: Any, deliver: Any
    ) -> None:
        event = stripe_events.checkout_session(email="future@example.com")
        r = deliver(app_server.url, event, timestamp=int(time.time()) + 3600)
        assert r.status_code == 400 and "future" in r.json()["error"]
        assert stored(app_server.pw, event["id"]) is None
        assert deliver(app_server.url, event).status_code == 200  # signed now: accepted

    @pytest.mark.parametrize(
        ("body", "names"),
        [
            ("[]", "not a JSON object"),
            ("null", "not a JSON object"),
            ("[" * 5000 + "]" * 5000, "nested too deeply"),
            ('{"id": 1, "type": "x", "created": 1, "data": {"object": {}}}', "'id'"),
            ('{"id": "evt_1", "type": "x", "created": 1, "data": []}', "data.object"),
            (
                '{"id": "evt_1", "type": "checkout.session.completed", "created": 1,'
                ' "data": {"object": {"id": "cs_1", "metadata": "kp_product"}}}',
                "data.object.metadata",
            ),
            (
                '{"id": "evt_1", "type": "charge.refunded", "created": 1,'
                ' "data": {"object": {"id": "ch_1", "amount": "4900"}}}',
                "data.object.amount",
            ),
            (
                '{"id": "evt_1", "type": "checkout.session.completed", "created": 1,'
                ' "livemode": "no", "data": {"object": {"id": "cs_1"}}}',
                "livemode",
            ),
        ],
    )
    def test_signed_but_malformed_events_are_400_naming_the_field(
        self, app_server: Any, deliver: Any, body: str, names: str
    ) -> None:
        r = deliver(app_server.url, body)
        assert r.status_code == 400, r.text
        assert names in r.json()["error"]

    @pytest.mark.parametrize("order", ["past_due first", "active first"])
    def test_past_due_and_active_of_one_second_end_active_in_any_order(
        self, app_server: Any, stripe_events: Any, deliver: Any, order: str
    ) -> None:
        pw = app_server.pw
        customer, sub = "cus_tie", "sub_tie"
        renewed_at = int(time.time()) - 3600
        period_end = renewed_at + 30 * 86400
        checkout = stripe_events.checkout_session(
            email="tie@example.com",
            product="tier:pro",
            mode="subscription",
            subscription=sub,
            customer=customer,
        )
        second = stripe_events.now + 5

        def state(status: str) -> dict[str, Any]:
            return stripe_events.subscription(
                "customer.subscription.updated",
                sub_id=sub,
                customer=customer,
                status=status,
                period_start=renewed_at,
                period_end=period_end,
                created=second,
            )

        past_due, active = state("past_due"), state("active")
        pair = (past_due, active) if order == "past_due first" else (active, past_due)
        for event in (checkout, *pair):
            assert deliver(app_server.url, event).status_code == 200
        end = dt.datetime.fromtimestamp(period_end, dt.UTC)
        assert keys_of(pw, "tie@example.com", end - dt.timedelta(days=1)) == {"tier:pro"}


def test_an_earlier_read_never_overwrites_a_later_one(pw: Any) -> None:
    """Two events of one subscription processed at once: the one whose Stripe read started
    first may have seen the older state, and it is skipped even if it commits last."""
    now = pw.now()
    later = Desired("expired", valid_until=now, stripe_status="canceled")
    earlier = Desired("active", valid_until=now + dt.timedelta(days=30), stripe_status="active")
    with pw.sessions.begin() as db:
        member = get_or_create_member(db, "reads@example.com", now=now)
        common = {"now": now, "actor": "test", "stripe_object_id": "sub_reads"}
        set_state(db, member, "tier:pro", "subscription", later, authoritative=True,
                  read_at=2_000, stamp=10, **common)  # fmt: skip
        skipped = set_state(db, member, "tier:pro", "subscription", earlier, authoritative=True,
                            read_at=1_000, stamp=10, **common)  # fmt: skip
        assert skipped is None
        newer = set_state(db, member, "tier:pro", "subscription", earlier, authoritative=True,
                          read_at=3_000, stamp=10, **common)  # fmt: skip
        assert newer is not None and newer.status == "active"
    with pw.sessions() as db:
        (row,) = db.scalars(select(Entitlement).where(Entitlement.stripe_object_id == "sub_reads"))
        assert row.stripe_read_at == 3_000
