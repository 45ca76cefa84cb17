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

    def test_webhook_is_refused_until_stripe_answers(self, app_server, stripe_events, deliver):
        """Stripe's API is the truth: while it cannot be read, events are answered 503 and
        not stored (Stripe retries them), never applied from the payload alone."""
        from sqlalchemy import func, select

        from paywall.database.models import StripeEvent

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
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"]
            assert "Stripe could not be read" in response.json()["error"]
        pw = app_server.pw
        with pw.sessions() as db:
            assert db.scalar(select(func.count()).select_from(StripeEvent)) == 0
            assert find_member(db, "offline@example.com") is None
