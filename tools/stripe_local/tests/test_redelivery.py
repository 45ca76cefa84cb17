"""Outages and their aftermath: a paused API (an unreachable Stripe), redelivery of failed
webhooks with backoff as Stripe does, giving up, and knowing when everything is settled."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import stripe
from stripe_local.asgi_thread import ServerThread, free_port
from stripe_local.server import LocalStripe
from stripe_local.webhooks import backoff_schedule

from .conftest import SUCCESS, Receiver

# ---------------------------------------------------------------- the paused API


def test_paused_api_fails_after_the_sdks_retries(local: LocalStripe, client, catalog) -> None:
    patient = local.client(max_network_retries=2)
    paused_at = local.pause_api()
    assert 0 < time.time() - paused_at < 5
    assert local.api_paused
    started = time.monotonic()
    with pytest.raises(stripe.APIError) as caught:
        patient.v1.prices.retrieve(catalog.one_time.id)
    assert caught.value.http_status == 503
    assert caught.value.error is not None and caught.value.error.type == "api_error"
    assert local.api_refused == 3  # the first request and the SDK's two retries
    assert time.monotonic() - started >= 0.5  # the SDK backed off between them
    local.resume_api()
    assert patient.v1.prices.retrieve(catalog.one_time.id).id == catalog.one_time.id


def test_paused_api_answers_every_v1_path_alike(local: LocalStripe) -> None:
    local.pause_api()
    with httpx.Client(base_url=local.url, trust_env=False) as http:
        for method, path in [("GET", "/v1/customers"), ("POST", "/v1/nothing/here")]:
            response = http.request(method, path)  # no key at all: still "unreachable"
            assert response.status_code == 503
            assert response.json()["error"]["type"] == "api_error"
            assert response.headers["request-id"].startswith("req_")
        assert http.get("/_local/state").json()["api_paused"] is True
        resumed = http.post("/_local/resume_api").json()
        assert (resumed["api_paused"], resumed["api_refused"]) == (False, 2)
        assert resumed["at"] <= time.time()
        response = http.get("/v1/customers", headers={"Authorization": f"Bearer {local.api_key}"})
        assert response.status_code == 200
        assert http.post("/_local/pause_api").json()["api_paused"] is True
    assert local.api_paused


def test_while_paused_checkout_pages_hooks_and_webhooks_go_on(
    local: LocalStripe, checkout, receiver: Receiver
) -> None:
    session = checkout("payment")
    local.pause_api()
    page = httpx.get(session.url, trust_env=False)
    assert page.status_code == 200
    local.pay(session.id, email="paused@x.test")
    assert "checkout.session.completed" in receiver.types()
    local.refund(session.id)
    local.advance(86_400)
    assert receiver.types()[-2:] == ["charge.refunded", "refund.created"]
    assert local.api_refused == 0  # none of that went through /v1


# ---------------------------------------------------------------- redelivery with backoff


@pytest.fixture
def patient(receiver: Receiver) -> Iterator[LocalStripe]:
    """One attempt at a time, redelivered after 0.05, 0.1, 0.2 … s (at most 8 times)."""
    with LocalStripe(
        webhook_url=receiver.url,
        webhook_secret=receiver.secret,
        max_attempts=1,
        retry_schedule=backoff_schedule(0.05, 2, 8),
    ) as server:
        yield server


def _one_time_session(server: LocalStripe) -> str:
    client = server.client()
    price = client.v1.prices.create(
        {"product_data": {"name": "Course"}, "unit_amount": 4900, "currency": "usd"}
    )
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": SUCCESS,
        }
    )
    assert server.wait_settled(5)
    return session.id


def test_failed_deliveries_are_redelivered_with_growing_delays(
    patient: LocalStripe, receiver: Receiver
) -> None:
    receiver.fail_next(3)
    patient.client().v1.products.create({"name": "Retried"})
    assert patient.wait_settled(10)
    (event,) = patient.events()
    log = patient.delivery_log
    assert [d.status_code for d in log] == [500, 500, 500, 200]
    assert [d.attempt for d in log] == [1, 2, 3, 4]
    gaps = [later.at - earlier.at for earlier, later in zip(log, log[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
    assert receiver.ids() == [event["id"]]
    stats = patient.delivery_stats()
    assert stats.settled and stats.pending == 0 and stats.given_up == 0
    assert (stats.deliveries, stats.delivered, stats.attempts, stats.failed_attempts) == (
        1,
        1,
        4,
        3,
    )
    assert event["pending_webhooks"] == 0


def test_a_paid_checkout_is_delivered_whole_after_failures(
    patient: LocalStripe, receiver: Receiver
) -> None:
    session_id = _one_time_session(patient)
    receiver.clear()
    receiver.fail_next(5)
    patient.pay(session_id, email="later@x.test")  # returns after the first attempts
    assert patient.wait_settled(10)
    emitted = [e["id"] for e in patient.events()][-4:]
    assert sorted(receiver.ids()) == sorted(emitted)
    assert patient.given_up == []
    assert all(e["pending_webhooks"] == 0 for e in patient.events())


def test_connection_errors_are_redelivered_once_the_endpoint_is_back() -> None:
    port = free_port()
    later = Receiver()
    with LocalStripe(
        webhook_url=f"http://127.0.0.1:{port}/webhook",
        webhook_secret=later.secret,
        delivery="async",
        max_attempts=1,
        retry_schedule=(0.2,) * 20,
    ) as server:
        server.client().v1.products.create({"name": "While down"})
        deadline = time.monotonic() + 5
        while not server.delivery_log and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.delivery_log[0].status_code is None
        assert "Connect" in (server.delivery_log[0].error or "")
        assert not server.wait_settled(0.1)
        receiving = ServerThread(later.app(), port=port).start()
        try:
            later.server = receiving
            assert server.wait_settled(10)
        finally:
            receiving.stop()
        assert later.types() == ["product.created"]
        assert server.given_up == []


def test_deliveries_are_given_up_after_the_last_retry(receiver: Receiver) -> None:
    receiver.fail_next(1000)
    with LocalStripe(
        webhook_url=receiver.url,
        webhook_secret=receiver.secret,
        max_attempts=2,
        retry_backoff=(0.01,),
        retry_schedule=(0.02, 0.04),
    ) as server:
        server.client().v1.products.create({"name": "Nobody listens"})
        assert server.wait_settled(10)
        (event,) = server.events()
        # Two quick attempts in each of three rounds (the first and two redeliveries).
        assert [d.status_code for d in server.delivery_log] == [500] * 6
        assert [(g.event_id, g.attempts) for g in server.given_up] == [(event["id"], 6)]
        assert server.delivery_stats().given_up == 1
        assert event["pending_webhooks"] == 1
        with httpx.Client(base_url=server.url, trust_env=False) as http:
            assert http.get("/_local/given_up").json()[0]["event_id"] == event["id"]


def test_retry_cap_bounds_how_long_redelivery_goes_on(receiver: Receiver) -> None:
    receiver.fail_next(1000)
    with LocalStripe(
        webhook_url=receiver.url,
        webhook_secret=receiver.secret,
        max_attempts=1,
        retry_schedule=(0.1,) * 100,
        retry_cap=0.35,
    ) as server:
        server.client().v1.products.create({"name": "Capped"})
        started = time.monotonic()
        assert server.wait_settled(10)
        assert time.monotonic() - started < 2
        assert 3 <= len(server.delivery_log) <= 5
        assert len(server.given_up) == 1


def test_not_settled_while_held_or_retrying(receiver: Receiver) -> None:
    with LocalStripe(
        webhook_url=receiver.url,
        webhook_secret=receiver.secret,
        max_attempts=1,
        retry_schedule=(1.0,),
    ) as server:
        session_id = _one_time_session(server)
        server.hold()
        server.pay(session_id, email="held@x.test")
        assert not server.wait_settled(0.2)
        with httpx.Client(base_url=server.url, trust_env=False) as http:
            assert http.post("/_local/settled", json={"timeout": 0}).json()["settled"] is False
        receiver.fail_next(2)
        server.flush()
        stats = server.delivery_stats()
        assert not stats.settled and stats.pending == 2  # redeliveries are scheduled
        assert not server.wait_settled(0)
        assert server.wait_settled(10)
        assert server.delivery_stats().pending == 0


def test_backoff_schedule() -> None:
    assert backoff_schedule(0.1, 2, 4) == pytest.approx((0.1, 0.2, 0.4, 0.8))
    assert backoff_schedule(1, 1, 2) == (1, 1)
    with pytest.raises(ValueError):
        backoff_schedule(-1)
    with pytest.raises(ValueError):
        LocalStripe(retry_schedule=(-1.0,))
