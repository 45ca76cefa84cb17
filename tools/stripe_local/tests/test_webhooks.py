"""Webhook delivery: signatures, hold/flush ordering, retries, async mode, callbacks."""

from __future__ import annotations

import time

import pytest
import stripe
from stripe_local.asgi_thread import free_port
from stripe_local.server import LocalStripe, LocalStripeError
from stripe_local.signing import signature_header


def test_signature_matches_the_sdk() -> None:
    payload = '{"id": "evt_1"}'
    ours = signature_header(payload, "whsec_x", timestamp=1700000000)
    theirs = stripe.WebhookSignature.generate_signature_header(payload, "whsec_x", 1700000000)
    assert ours == theirs


def test_every_delivery_verifies(local, checkout, receiver) -> None:
    session = checkout("subscription", customer_email="v@x.test")
    before = len(local.events())
    local.pay(session.id)
    assert receiver.rejected == []
    assert receiver.ids() == [e["id"] for e in local.events()[before:]]
    event = receiver.of_type("checkout.session.completed")[0]
    assert event["object"] == "event" and event["livemode"] is False
    assert event["api_version"] == stripe.api_version
    assert event["request"] == {"id": None, "idempotency_key": None}  # from the hosted page
    assert event["pending_webhooks"] == 1
    stored = [e for e in local.events() if e["id"] == event["id"]][0]
    assert stored["pending_webhooks"] == 0  # delivered


def test_wrong_secret_is_rejected_by_the_receiver(local, checkout, receiver) -> None:
    local.set_webhook(receiver.url, "whsec_not_the_receivers")
    session = checkout("payment")
    local.pay(session.id, email="w@x.test")
    assert receiver.received == [] and receiver.rejected
    assert all(status == 400 for _, _, status in local.deliveries[-4:])


def test_hold_then_flush_in_reverse(local, checkout, receiver) -> None:
    session = checkout("payment")
    local.hold()
    redirect = local.pay(session.id, email="h@x.test")
    assert redirect is not None
    assert receiver.received == []  # "the webhook has not arrived yet"
    held = [e["id"] for e in local.events()][-4:]
    delivered = local.flush(order="reverse")
    assert delivered == list(reversed(held))
    assert receiver.ids() == list(reversed(held))
    # Holding ended with the flush: the next events go straight out.
    local.refund(session.id)
    assert receiver.types()[-2:] == ["charge.refunded", "refund.created"]


def test_flush_named_types_first(local, checkout, receiver) -> None:
    session = checkout("subscription", customer_email="o@x.test")
    local.hold()
    local.pay(session.id)
    local.flush(order=["checkout.session.completed", "invoice.paid"], release=False)
    types = receiver.types()
    assert types[:2] == ["checkout.session.completed", "invoice.paid"]
    assert "customer.subscription.created" in types[2:]
    local.advance(40 * 86400)  # still holding: nothing new delivered
    assert len(receiver.types()) == len(types)
    with pytest.raises(LocalStripeError, match="No held event"):
        local.flush(order=["no.such.type"])
    local.flush()
    assert "invoice.paid" in receiver.types()[len(types) :]


def test_retries_after_server_errors(local, checkout, receiver) -> None:
    session = checkout("payment")
    receiver.fail_next(2)
    local.pay(session.id, email="r@x.test")
    first = local.events()[-4]["id"]
    attempts = [status for event_id, _, status in local.deliveries if event_id == first]
    assert attempts == [500, 500, 200]
    assert receiver.ids()[0] == first
    assert [d.attempt for d in local.delivery_log if d.event_id == first] == [1, 2, 3]


def test_retries_are_bounded(local, checkout, receiver) -> None:
    session = checkout("payment")
    receiver.fail_next(100)
    local.pay(session.id, email="b@x.test")
    completed = local.events("checkout.session.completed")[0]
    statuses = [s for event_id, _, s in local.deliveries if event_id == completed["id"]]
    assert statuses == [500, 500, 500, 500]
    assert completed["pending_webhooks"] == 1
    receiver.fail_next(0)
    local.resend(completed["id"])
    assert receiver.ids() == [completed["id"]]


def test_unreachable_endpoint_records_connection_errors() -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    with LocalStripe(webhook_url=dead, retry_backoff=(0.01,), max_attempts=2) as local:
        local_client = local.client()
        product = local_client.v1.products.create({"name": "x"})
        local.drain()
        records = [d for d in local.delivery_log if d.event_id == local.events()[0]["id"]]
        assert [d.status_code for d in records] == [None, None]
        assert records[0].error and "Connect" in records[0].error
        assert product.id.startswith("prod_")


def test_async_delivery(receiver) -> None:
    with LocalStripe(
        webhook_url=receiver.url, webhook_secret=receiver.secret, delivery="async"
    ) as local:
        client = local.client()
        price = client.v1.prices.create(
            {"product_data": {"name": "A"}, "unit_amount": 100, "currency": "usd"}
        )
        session = client.v1.checkout.sessions.create(
            {"mode": "payment", "line_items": [{"price": price.id, "quantity": 1}]}
        )
        local.pay(session.id, email="a@x.test")
        local.drain()
        assert receiver.types()[-1] == "checkout.session.completed"
        assert len(receiver.received) == len(local.events())


def test_receiver_may_call_back_during_delivery(local, client, checkout, receiver) -> None:
    """A receiver that reads the session from the API while handling its webhook (as the
    paywall does) must not deadlock the server."""
    seen: list[str] = []

    def read_back(event: dict) -> None:
        if event["type"] == "checkout.session.completed":
            obj = event["data"]["object"]
            fresh = client.v1.checkout.sessions.line_items.list(obj["id"])
            seen.append(fresh.data[0].price.id)

    receiver.on_event = read_back
    session = checkout("payment")
    started = time.monotonic()
    local.pay(session.id, email="cb@x.test")
    assert time.monotonic() - started < 5
    assert len(seen) == 1


def test_second_endpoint_gets_only_its_events(
    local, client, checkout, receiver, second_receiver
) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        {"url": second_receiver.url, "enabled_events": ["charge.refunded"]}
    )
    second_receiver.secret = endpoint.secret
    session = checkout("payment")
    local.pay(session.id, email="two@x.test")
    local.refund(session.id)
    assert second_receiver.types() == ["charge.refunded"]
    assert second_receiver.rejected == []
    assert "checkout.session.completed" in receiver.types()
    assert receiver.types()[-2:] == ["charge.refunded", "refund.created"]
