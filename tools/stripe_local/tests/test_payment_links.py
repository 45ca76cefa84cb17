"""Payment-Link-style purchases: Checkout Sessions made by Stripe, not by the site, so they
carry none of the site's metadata; what was bought is in their line items."""

from __future__ import annotations

import httpx
import pytest
from stripe_local.server import LocalStripe, LocalStripeError

from .conftest import Catalog, Receiver


def test_one_time_purchase_without_our_metadata(
    local: LocalStripe, client, catalog: Catalog, receiver: Receiver
) -> None:
    made = local.payment_link_checkout(catalog.one_time.id, "link@x.test")
    assert made["mode"] == "payment" and made["payment_link"].startswith("plink_")
    assert made["payment_intent"].startswith("pi_") and made["subscription"] is None
    assert made["customer"] is None  # customer_creation=if_required, as Payment Links do
    (event,) = receiver.of_type("checkout.session.completed")
    session = event["data"]["object"]
    assert session["id"] == made["session"]
    assert session["metadata"] == {} and session["client_reference_id"] is None
    assert session["payment_link"] == made["payment_link"]
    assert session["payment_status"] == "paid" and session["status"] == "complete"
    assert session["customer_details"]["email"] == "link@x.test"
    assert session["success_url"] is None
    items = client.v1.checkout.sessions.line_items.list(made["session"])
    assert [(i.price.id, i.price.lookup_key, i.quantity) for i in items.data] == [
        (catalog.one_time.id, "writing", 1)
    ]
    intent = client.v1.payment_intents.retrieve(made["payment_intent"])
    assert intent.status == "succeeded" and intent.metadata.to_dict() == {}


def test_subscription_through_a_payment_link(
    local: LocalStripe, client, catalog: Catalog, receiver: Receiver
) -> None:
    made = local.payment_link_checkout(catalog.monthly.id, "sub-link@x.test")
    assert made["mode"] == "subscription" and made["subscription"].startswith("sub_")
    subscription = client.v1.subscriptions.retrieve(made["subscription"])
    assert subscription.status == "active" and subscription.metadata.to_dict() == {}
    assert subscription.customer == made["customer"]
    types = receiver.types()
    assert "customer.subscription.created" in types and "invoice.paid" in types
    assert types[-1] == "checkout.session.completed"


def test_customer_creation_always_and_control_over_http(
    local: LocalStripe, catalog: Catalog
) -> None:
    made = local.payment_link_checkout(
        catalog.one_time.id, "always@x.test", customer_creation="always", quantity=2
    )
    assert made["customer"].startswith("cus_")
    with httpx.Client(base_url=local.url, trust_env=False) as http:
        answer = http.post(
            "/_local/payment_link_checkout",
            json={"price": catalog.one_time.id, "email": "curl@x.test"},
        )
        assert answer.status_code == 200 and answer.json()["session"].startswith("cs_test_")


def test_refused_like_the_hosted_page(local: LocalStripe, catalog: Catalog) -> None:
    with pytest.raises(LocalStripeError, match="declined") as caught:
        local.payment_link_checkout(catalog.one_time.id, "d@x.test", card="4000000000000002")
    assert caught.value.status == 402
    with pytest.raises(LocalStripeError, match="No such price"):
        local.payment_link_checkout("price_nope", "n@x.test")
    with pytest.raises(LocalStripeError, match="email"):
        local.payment_link_checkout(catalog.one_time.id, "")
