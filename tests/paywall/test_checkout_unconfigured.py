"""Checkout when Stripe is not configured (the zero-config default) or not reachable: clear
pages instead of crashes, and webhooks still processed from their payload."""

from __future__ import annotations

from typing import Any

import pytest
from stripe_local.asgi_thread import free_port

from paywall.members.records import find_member

from .conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.timeout(120)


def test_checkout_without_stripe_key_explains(app_server):
    browser = app_server.client()
    response = browser.post("/api/checkout", data={"course": "demo"})
    assert response.status_code == 503
    assert "Payments are not set up yet" in response.text
    assert "STRIPE_SECRET_KEY" in response.text
    assert "<title>Payments are not set up yet - Demo Site</title>" in response.text  # shell
    success = browser.get("/checkout/success?session_id=cs_123")
    assert success.status_code == 503 and "STRIPE_SECRET_KEY" in success.text
    app_server.login(browser, "nokey@example.com")
    assert browser.post("/api/billing-portal").status_code == 503


def test_checkout_for_an_unbuilt_site(app_server):
    app_server.settings.manifest_path.unlink()
    response = app_server.client().post("/api/checkout", data={"course": "demo"})
    assert response.status_code == 503 and "not been built" in response.text


class TestStripeUnreachable:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "STRIPE_SECRET_KEY": "sk_test_unreachable",
            "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",  # nothing listens there
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def test_checkout_says_try_again(self, app_server):
        response = app_server.client().post("/api/checkout", data={"course": "demo"})
        assert response.status_code == 502
        assert "could not be reached" in response.text and "Nothing was charged" in response.text

    def test_webhook_falls_back_to_the_payload(self, app_server, stripe_events, deliver):
        """The re-read of the subscription fails; the event's own state is applied."""
        customer, sub = "cus_offline", "sub_offline"
        for event in (
            stripe_events.checkout_session(
                email="offline@example.com",
                product="tier:pro",
                mode="subscription",
                subscription=sub,
                customer=customer,
            ),
            stripe_events.subscription(
                "customer.subscription.updated", sub_id=sub, customer=customer, status="active"
            ),
        ):
            response = deliver(app_server.url, event)
            assert response.status_code == 200, response.text
        pw = app_server.pw
        with pw.sessions() as db:
            from paywall.members.entitlements import active_keys

            member = find_member(db, "offline@example.com")
            assert active_keys(db, member.id, pw.now()) == {"tier:pro"}
