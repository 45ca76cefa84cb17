"""The Stripe webhook over real HTTP, on SQLite and PostgreSQL: verification, exactly-once
processing (also under 20 concurrent deliveries), out-of-order convergence, refunds,
disputes, and all-or-nothing behaviour when the database fails mid-request."""

from __future__ import annotations

import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from paywall.database.models import AuditLog, Entitlement, Member, StripeEvent
from paywall.members.entitlements import active_keys
from paywall.members.records import find_member

from .conftest import WEBHOOK_SECRET, open_magic_link

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


def keys_of(pw, email: str, at: dt.datetime | None = None) -> set[str]:
    with pw.sessions() as db:
        member = find_member(db, email)
        return set() if member is None else active_keys(db, member.id, at or pw.now())


def rows(pw, model) -> list[Any]:
    with pw.sessions() as db:
        return list(db.scalars(select(model)))


def audit_actions(pw) -> list[tuple[str, str | None]]:
    with pw.sessions() as db:
        return [(a.action, a.key) for a in db.scalars(select(AuditLog).order_by(AuditLog.id))]


# ---------------------------------------------------------------- rejected deliveries


def test_rejects_what_stripe_did_not_send(app_server, stripe_events, deliver, count_rows):
    event = stripe_events.checkout_session(email="mallory@example.com")
    body = json.dumps(event).encode()
    url = app_server.url
    cases = {
        "forged signature": deliver(url, event, secret="whsec_someone_else"),
        "stale timestamp": deliver(url, event, timestamp=int(time.time()) - 301),
        "malformed JSON": deliver(url, b'{"id": "evt_1", "type": '),
        "not an event": deliver(url, b'{"hello": "world"}'),
        "tampered body": app_server.client().post(
            "/api/stripe/webhook",
            content=body.replace(b"mallory", b"eve"),
            headers={"Stripe-Signature": signature_for(body)},
        ),
        "missing header": app_server.client().post(
            "/api/stripe/webhook", content=body, headers={"Content-Type": "application/json"}
        ),
    }
    for name, response in cases.items():
        assert response.status_code == 400, f"{name}: {response.status_code} {response.text}"
        assert "error" in response.json(), name
    assert "Stripe-Signature" in cases["missing header"].json()["error"]
    assert "tolerance" in cases["stale timestamp"].json()["error"]
    assert "JSON" in cases["malformed JSON"].json()["error"]
    for table in ("stripe_events", "members", "entitlements", "audit_log"):
        assert count_rows(table) == 0, table
    # The same event, genuinely signed, is accepted: the rejections were about the delivery.
    assert deliver(url, event).status_code == 200
    assert keys_of(app_server.pw, "mallory@example.com") == {"course:demo"}


def signature_for(body: bytes) -> str:
    from stripe_local.signing import signature_header

    return signature_header(body, WEBHOOK_SECRET)


def test_webhook_without_secret_configured_is_503(app_server, stripe_events, deliver):
    app_server.pw.settings.stripe_webhook_secret = None
    response = deliver(app_server.url, stripe_events.checkout_session())
    assert response.status_code == 503
    assert rows(app_server.pw, StripeEvent) == []


# ---------------------------------------------------------------- exactly once


def test_purchase_grants_once_even_when_delivered_twice(app_server, stripe_events, deliver):
    event = stripe_events.checkout_session(email="Ann@Example.com")
    first = deliver(app_server.url, event)
    second = deliver(app_server.url, event)
    assert (first.status_code, first.json()["status"]) == (200, "processed")
    assert (second.status_code, second.json()["status"]) == (200, "duplicate")
    pw = app_server.pw
    assert keys_of(pw, "ann@example.com") == {"course:demo"}
    assert len(rows(pw, Entitlement)) == 1
    assert audit_actions(pw) == [("grant", "course:demo")]
    member = rows(pw, Member)[0]
    assert member.stripe_customer_id == event["data"]["object"]["customer"]
    # The buyer was not signed in: one "purchase confirmed" mail with a magic link.
    mails = app_server.mailer.to("ann@example.com")
    assert len(mails) == 1 and "/api/login/callback?token=" in mails[0].text
    stored = rows(pw, StripeEvent)[0]
    assert stored.processed_at is not None and "course:demo active" in stored.outcome


def test_twenty_concurrent_deliveries_grant_exactly_once(app_server, stripe_events, deliver):
    event = stripe_events.checkout_session(email="rush@example.com")
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: deliver(app_server.url, event), range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["duplicate"] * 19 + ["processed"]
    pw = app_server.pw
    assert len(rows(pw, Entitlement)) == 1
    assert len(rows(pw, StripeEvent)) == 1
    assert audit_actions(pw) == [("grant", "course:demo")]
    assert len(app_server.mailer.to("rush@example.com")) == 1
    assert keys_of(pw, "rush@example.com") == {"course:demo"}


def test_signed_in_buyer_gets_no_purchase_mail(app_server, stripe_events, deliver):
    pw = app_server.pw
    with pw.sessions.begin() as db:
        db.add(Member(email="known@example.com", created_at=pw.now(), lang="en"))
    with pw.sessions() as db:
        member_id = find_member(db, "known@example.com").id
    event = stripe_events.checkout_session(email="known@example.com", member_id=member_id)
    assert deliver(app_server.url, event).status_code == 200
    assert keys_of(pw, "known@example.com") == {"course:demo"}
    assert app_server.mailer.to("known@example.com") == []


def test_unknown_event_types_are_recorded_and_ignored(app_server, stripe_events, deliver):
    event = stripe_events.event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"})
    response = deliver(app_server.url, event)
    assert response.status_code == 200
    stored = rows(app_server.pw, StripeEvent)
    assert [s.id for s in stored] == [event["id"]]
    assert stored[0].outcome.startswith("ignored")
    assert rows(app_server.pw, Entitlement) == []


# ---------------------------------------------------------------- refunds, disputes


def test_full_refund_revokes_partial_refund_keeps(app_server, stripe_events, deliver):
    pw, url = app_server.pw, app_server.url
    bought = stripe_events.checkout_session(email="refund@example.com")
    pi = bought["data"]["object"]["payment_intent"]
    assert deliver(url, bought).status_code == 200
    assert deliver(url, stripe_events.charge_refunded(payment_intent=pi, refunded=1000)).is_success
    assert keys_of(pw, "refund@example.com") == {"course:demo"}
    assert deliver(url, stripe_events.charge_refunded(payment_intent=pi)).status_code == 200
    assert keys_of(pw, "refund@example.com") == set()
    assert audit_actions(pw) == [("grant", "course:demo"), ("revoke", "course:demo")]
    # Replaying the purchase event afterwards must not give the refunded course back.
    from paywall.billing.webhooks import replay_event

    replay_event(pw, bought["id"])
    assert keys_of(pw, "refund@example.com") == set()


def test_refund_delivered_before_the_purchase_still_revokes(app_server, stripe_events, deliver):
    bought = stripe_events.checkout_session(email="early@example.com")
    pi = bought["data"]["object"]["payment_intent"]
    refund = stripe_events.charge_refunded(payment_intent=pi)
    assert deliver(app_server.url, refund).status_code == 200
    assert deliver(app_server.url, bought).status_code == 200
    assert keys_of(app_server.pw, "early@example.com") == set()
    (row,) = rows(app_server.pw, Entitlement)
    assert row.status == "revoked" and "refunded" in row.note


def test_dispute_revokes_and_flags(app_server, stripe_events, deliver):
    pw, url = app_server.pw, app_server.url
    bought = stripe_events.checkout_session(email="dispute@example.com")
    other = stripe_events.checkout_session(email="dispute@example.com", product="course:other")
    for event in (bought, other):
        assert deliver(url, event).status_code == 200
    assert keys_of(pw, "dispute@example.com") == {"course:demo", "course:other"}
    dispute = stripe_events.dispute(payment_intent=bought["data"]["object"]["payment_intent"])
    assert deliver(url, dispute).status_code == 200
    assert keys_of(pw, "dispute@example.com") == {"course:other"}
    (member,) = rows(pw, Member)
    assert member.flagged and dispute["data"]["object"]["id"] in member.flagged
    assert ("flag", None) in audit_actions(pw)


# ---------------------------------------------------------------- subscriptions


def _subscription_story(stripe_events, email: str) -> list[dict[str, Any]]:
    """Checkout, created, renewed past_due, deleted: what Stripe sends, in Stripe's order."""
    customer, sub = f"cus_{email.split('@')[0]}", f"sub_{email.split('@')[0]}"
    now = int(time.time())
    completed = stripe_events.checkout_session(
        email=email, product="tier:pro", mode="subscription", subscription=sub, customer=customer
    )
    created = stripe_events.subscription(
        "customer.subscription.created", sub_id=sub, customer=customer, status="active"
    )
    updated = stripe_events.subscription(
        "customer.subscription.updated",
        sub_id=sub,
        customer=customer,
        status="past_due",
        period_end=now + 86400,
    )
    deleted = stripe_events.subscription(
        "customer.subscription.deleted",
        sub_id=sub,
        customer=customer,
        status="canceled",
        ended_at=now - 5,
    )
    return [completed, created, updated, deleted]


@pytest.mark.parametrize("order", ["stripe order", "reversed"])
def test_subscription_events_in_any_order_end_canceled(app_server, stripe_events, deliver, order):
    story = _subscription_story(stripe_events, "sub@example.com")
    if order == "reversed":
        story.reverse()
    for event in story:
        response = deliver(app_server.url, event)
        assert response.status_code == 200, response.text
    pw = app_server.pw
    assert keys_of(pw, "sub@example.com") == set()
    (row,) = rows(pw, Entitlement)
    assert (row.key, row.status, row.stripe_status) == ("tier:pro", "expired", "canceled")


@pytest.mark.parametrize("checkout", ["first", "last"])
def test_reversed_subscription_activation_ends_active(app_server, stripe_events, deliver, checkout):
    """incomplete → active in the same second, delivered backwards: access is granted,
    whether the member is known already (checkout first) or only at the end."""
    customer, sub = "cus_rev", "sub_rev"
    completed = stripe_events.checkout_session(
        email="rev@example.com",
        product="tier:pro",
        mode="subscription",
        subscription=sub,
        customer=customer,
    )
    t = stripe_events.now + 1
    created = stripe_events.subscription(
        "customer.subscription.created",
        sub_id=sub,
        customer=customer,
        status="incomplete",
        created=t,
    )
    updated = stripe_events.subscription(
        "customer.subscription.updated", sub_id=sub, customer=customer, status="active", created=t
    )
    order = (completed, updated, created) if checkout == "first" else (updated, created, completed)
    for event in order:
        assert deliver(app_server.url, event).status_code == 200
    assert keys_of(app_server.pw, "rev@example.com") == {"tier:pro"}


def test_subscription_period_and_past_due_grace(app_server, stripe_events, deliver):
    """Stripe moves the period forward when it bills a renewal, paid or not: a past_due
    subscription keeps access for the grace days from the start of the unpaid period."""
    pw = app_server.pw
    customer, sub = "cus_grace", "sub_grace"
    renewed_at = int(time.time()) - 3600
    period_end = renewed_at + 30 * 86400
    for event in (
        stripe_events.checkout_session(
            email="grace@example.com",
            product="tier:pro",
            mode="subscription",
            subscription=sub,
            customer=customer,
        ),
        stripe_events.subscription(
            "customer.subscription.updated",
            sub_id=sub,
            customer=customer,
            status="past_due",
            period_start=renewed_at,
            period_end=period_end,
        ),
    ):
        assert deliver(app_server.url, event).status_code == 200
    grace_end = dt.datetime.fromtimestamp(renewed_at, dt.UTC) + dt.timedelta(
        days=pw.settings.grace_days
    )
    second = dt.timedelta(seconds=1)
    assert keys_of(pw, "grace@example.com", grace_end - second) == {"tier:pro"}
    assert keys_of(pw, "grace@example.com", grace_end) == set()
    # Paid after all: active until the period end (cancels then), no grace any more.
    paid = stripe_events.subscription(
        "customer.subscription.updated",
        sub_id=sub,
        customer=customer,
        status="active",
        period_start=renewed_at,
        period_end=period_end,
        cancel_at_period_end=True,
    )
    assert deliver(app_server.url, paid).status_code == 200
    end = dt.datetime.fromtimestamp(period_end, dt.UTC)
    assert keys_of(pw, "grace@example.com", end - second) == {"tier:pro"}
    assert keys_of(pw, "grace@example.com", end) == set()


def test_invoice_paid_extends_the_period_without_stripe_reads(app_server, stripe_events, deliver):
    pw = app_server.pw
    customer, sub = "cus_inv", "sub_inv"
    first_end = int(time.time()) + 86400
    for event in (
        stripe_events.checkout_session(
            email="inv@example.com",
            product="tier:pro",
            mode="subscription",
            subscription=sub,
            customer=customer,
        ),
        stripe_events.subscription(
            "customer.subscription.created", sub_id=sub, customer=customer, period_end=first_end
        ),
    ):
        assert deliver(app_server.url, event).status_code == 200
    next_end = first_end + 30 * 86400
    invoice = stripe_events.event(
        "invoice.paid",
        {
            "id": "in_1",
            "object": "invoice",
            "parent": {"subscription_details": {"subscription": sub}},
            "lines": {"data": [{"period": {"start": first_end, "end": next_end}}]},
        },
    )
    assert deliver(app_server.url, invoice).status_code == 200
    renewed = dt.datetime.fromtimestamp(next_end, dt.UTC) - dt.timedelta(seconds=1)
    assert keys_of(pw, "inv@example.com", renewed) == {"tier:pro"}


def test_async_payment_pending_then_succeeded_or_failed(app_server, stripe_events, deliver):
    pw, url = app_server.pw, app_server.url
    ok = stripe_events.checkout_session(email="sepa@example.com", payment_status="unpaid")
    assert deliver(url, ok).status_code == 200
    assert keys_of(pw, "sepa@example.com") == set()
    assert app_server.mailer.to("sepa@example.com") == []
    session = dict(ok["data"]["object"], payment_status="paid")
    succeeded = stripe_events.event("checkout.session.async_payment_succeeded", session)
    assert deliver(url, succeeded).status_code == 200
    assert keys_of(pw, "sepa@example.com") == {"course:demo"}
    assert len(app_server.mailer.to("sepa@example.com")) == 1

    bad = stripe_events.checkout_session(email="fail@example.com", payment_status="unpaid")
    failed = stripe_events.event("checkout.session.async_payment_failed", bad["data"]["object"])
    for event in (failed, bad):  # out of order too
        assert deliver(url, event).status_code == 200
    assert keys_of(pw, "fail@example.com") == set()


# ---------------------------------------------------------------- database failures


def _kill_connection_on(pw, statement_prefix: str):
    """Make the database connection die when the request reaches `statement_prefix`: the
    SQLite handle is closed, the PostgreSQL backend terminated (a real server-side kill)."""
    from sqlalchemy import event

    fired = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if fired or not statement.lstrip().upper().startswith(statement_prefix):
            return
        fired.append(statement)
        raw = conn.connection.dbapi_connection
        if conn.dialect.name == "sqlite":
            raw.close()
            return
        import psycopg

        pid = raw.info.backend_pid
        dsn = pw.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            for _ in range(100):
                alive = admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]
                ).fetchone()
                if alive is None:
                    break
                time.sleep(0.05)

    event.listen(pw.engine, "before_cursor_execute", before)
    return fired, lambda: event.remove(pw.engine, "before_cursor_execute", before)


def test_database_dies_mid_request_then_retry_succeeds(app_server, stripe_events, deliver):
    pw = app_server.pw
    event = stripe_events.checkout_session(email="retry@example.com")
    fired, remove = _kill_connection_on(pw, "INSERT INTO ENTITLEMENTS")
    try:
        response = deliver(app_server.url, event)
    finally:
        remove()
    assert fired, "the fault was never triggered"
    assert 500 <= response.status_code < 600, response.text
    # All or nothing: the event row inserted earlier in the request was rolled back too.
    assert rows(pw, StripeEvent) == []
    assert rows(pw, Entitlement) == []
    assert app_server.mailer.to("retry@example.com") == []
    retried = deliver(app_server.url, event)
    assert (retried.status_code, retried.json()["status"]) == (200, "processed")
    assert keys_of(pw, "retry@example.com") == {"course:demo"}
    assert len(rows(pw, StripeEvent)) == 1
    assert len(app_server.mailer.to("retry@example.com")) == 1


def test_table_unavailable_then_restored(app_server, stripe_events, deliver):
    pw = app_server.pw
    event = stripe_events.checkout_session(email="table@example.com")
    from sqlalchemy import text

    with pw.engine.begin() as conn:
        conn.execute(text("ALTER TABLE entitlements RENAME TO entitlements_offline"))
    try:
        response = deliver(app_server.url, event)
        assert 500 <= response.status_code < 600, response.text
    finally:
        with pw.engine.begin() as conn:
            conn.execute(text("ALTER TABLE entitlements_offline RENAME TO entitlements"))
    assert rows(pw, StripeEvent) == []
    assert deliver(app_server.url, event).json()["status"] == "processed"
    assert keys_of(pw, "table@example.com") == {"course:demo"}


# ---------------------------------------------------------------- end to end


def test_purchase_then_magic_link_shows_the_lesson(app_server, stripe_events, deliver):
    from .conftest import CANARY

    browser = app_server.client()
    lesson = "/courses/demo/02-paid/"
    app_server.login(browser, "reader@example.com")
    assert CANARY not in browser.get(lesson).text  # signed in, not bought: the teaser
    bought = stripe_events.checkout_session(email="reader@example.com")
    assert deliver(app_server.url, bought).status_code == 200
    assert CANARY in browser.get(lesson).text
    stranger = app_server.client()
    link = app_server.outbox.link("reader@example.com")  # the purchase e-mail's link
    assert open_magic_link(stranger, link).status_code == 303
    assert CANARY in stranger.get(lesson).text
    pi = bought["data"]["object"]["payment_intent"]
    assert deliver(app_server.url, stripe_events.charge_refunded(payment_intent=pi)).is_success
    assert CANARY not in browser.get(lesson).text
