"""End to end over loopback: the static site's buy form → Stripe Checkout (the local Stripe
test server, driven by the official SDK) → signed webhook → magic link from the outbox →
the paid lesson shows its canary sentence. Without the webhook, after a refund, or after the
subscription is deleted, it does not. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from stripe_local.server import LocalStripe

from kp_contract.manifest import read_manifest
from paywall.billing.stripe_sync import sync_catalog

from .conftest import open_magic_link

CANARY = "CANARY-PAID-7f3a"
PRO_CANARY = "CANARY-PRO-91c2"
LESSON = "/courses/demo/02-paid/"
PRO_LESSON = "/courses/pro-course/01-lesson/"
CS_ID = re.compile(r"cs_[A-Za-z0-9_]+")


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    """The app talks to the local Stripe test server (shared `local_stripe` fixture)."""
    return stripe_settings


@pytest.fixture(autouse=True)
def catalog(local_stripe: LocalStripe, settings) -> None:  # noqa: ANN001
    """Products and prices for the build's courses and tiers, as `kp stripe sync` makes them."""
    manifest = read_manifest(settings.manifest_path)
    sync_catalog(local_stripe.client(), manifest)


def start_checkout(client, fields: dict[str, str]) -> str:  # noqa: ANN001
    """Press the site's Buy button; returns the Checkout Session id Stripe redirected to."""
    r = client.post("/api/checkout", data=fields)
    assert r.status_code == 303, r.text[:500]
    match = CS_ID.search(r.headers["location"])
    assert match, r.headers["location"]
    return match.group(0)


def shows(client, url: str, canary: str) -> bool:  # noqa: ANN001
    r = client.get(url)
    assert r.status_code == 200  # the same status whether or not the lesson is unlocked
    return canary in r.text


def test_anonymous_purchase_webhook_magic_link_unlocks_lesson(
    app_server, local_stripe: LocalStripe
) -> None:
    buyer = app_server.client()
    assert not shows(buyer, LESSON, CANARY)
    cs_id = start_checkout(buyer, {"course": "demo", "from": LESSON})

    redirect = local_stripe.pay(cs_id, email="Buyer@Example.com")
    assert redirect and redirect.startswith(app_server.url + "/checkout/success?session_id=")
    success = buyer.get(redirect.removeprefix(app_server.url))
    assert success.status_code == 200
    assert "mail" in success.text.lower()  # tells the anonymous buyer to check the inbox

    assert not shows(buyer, LESSON, CANARY)  # paid, but not signed in yet
    mail = app_server.mailer.to("buyer@example.com")[-1]
    assert "purchase" in mail.subject.lower()
    link = app_server.outbox.link("buyer@example.com")
    r = open_magic_link(buyer, link)
    assert r.status_code == 303
    assert shows(buyer, LESSON, CANARY)
    assert app_server.client().get("/api/auth", params={"uri": LESSON}).status_code == 401
    assert buyer.get("/api/auth", params={"uri": LESSON}).status_code == 204
    account = buyer.get("/account/").text
    assert "Demo course" in account and "Lifetime access" in account
    assert "Manage billing" in account  # the webhook stored the Stripe customer

    # a full refund takes access away again
    local_stripe.refund(cs_id)
    assert not shows(buyer, LESSON, CANARY)
    assert buyer.get("/api/auth", params={"uri": LESSON}).status_code == 403


def test_no_webhook_no_access_until_it_arrives(app_server, local_stripe: LocalStripe) -> None:
    buyer = app_server.client()
    app_server.login(buyer, "waiting@example.com")
    local_stripe.hold()
    cs_id = start_checkout(buyer, {"course": "demo", "from": LESSON})
    redirect = local_stripe.pay(cs_id)
    success = buyer.get(redirect.removeprefix(app_server.url))
    assert success.status_code == 200
    assert not shows(buyer, LESSON, CANARY)  # payment made, webhook not delivered
    local_stripe.flush()
    assert shows(buyer, LESSON, CANARY)  # signed-in buyer: unlocked with no new e-mail
    assert len(app_server.mailer.to("waiting@example.com")) == 1  # only the sign-in link


def test_subscription_unlocks_tier_until_deleted(app_server, local_stripe: LocalStripe) -> None:
    member = app_server.client()
    app_server.login(member, "pro@example.com")
    assert not shows(member, PRO_LESSON, PRO_CANARY)
    cs_id = start_checkout(member, {"tier": "pro", "interval": "month", "from": PRO_LESSON})
    local_stripe.pay(cs_id)
    assert shows(member, PRO_LESSON, PRO_CANARY)
    assert not shows(member, LESSON, CANARY)  # the tier does not include the demo course
    account = member.get("/account/").text
    assert "Pro membership" in account and "Renews on" in account

    created = local_stripe.events("customer.subscription.created")
    sub_id = created[-1]["data"]["object"]["id"]
    local_stripe.cancel_subscription(sub_id, at_period_end=False)
    assert local_stripe.events("customer.subscription.deleted")
    assert not shows(member, PRO_LESSON, PRO_CANARY)
