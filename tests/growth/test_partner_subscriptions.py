"""Partner commissions on subscriptions, against the local Stripe server: every paid invoice
of a partner's subscription earns the commission once (first invoice included, counted once),
a refund of any of them reverses its share, whatever order Stripe delivers the events in, and
`kp partners report` adds up to the invoices. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from kp_contract.manifest import read_manifest
from paywall.billing.stripe_sync import sync_catalog
from paywall.database.models import PartnerLedger, StripeEvent

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.fixture(autouse=True)
def catalog(local_stripe, settings) -> None:
    sync_catalog(local_stripe.client(), read_manifest(settings.manifest_path))


def subscribe(app_server, local_stripe, code: str | None = None, **fields: str) -> str:
    """A monthly `pro` subscription bought through the site's checkout; its id."""
    r = app_server.client().post(
        "/api/checkout", data={"tier": "pro", "interval": "month", **fields}
    )
    assert r.status_code == 303, r.text[:500]
    cs_id = r.headers["location"].rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    local_stripe.pay(cs_id, email="sub@example.com", promotion_code=code)
    return local_stripe.client().v1.checkout.sessions.retrieve(cs_id).subscription


def renew(local_stripe, sub_id: str) -> None:
    """Move Stripe's clock just past the current period: one renewal invoice."""
    sub = local_stripe.client().v1.subscriptions.retrieve(sub_id)
    local_stripe.set_time(sub["items"].data[0].current_period_end + 60)


def paid_invoices(local_stripe) -> list[dict[str, Any]]:
    return [e["data"]["object"] for e in local_stripe.events("invoice.paid")]


def ledger(pw) -> list[tuple[str, str | None, int, int, int]]:
    with pw.sessions() as db:
        return [
            (e.kind, e.invoice_id, e.amount_total, e.commission, e.refunded_total)
            for e in db.scalars(select(PartnerLedger).order_by(PartnerLedger.id))
        ]


def report(kp) -> dict[str, dict[str, str]]:
    out = kp("partners", "report", "--csv").output
    return {row["partner"]: row for row in csv.DictReader(io.StringIO(out))}


def test_every_paid_invoice_earns_once_and_refunds_reverse(app_server, kp, local_stripe, pw):
    kp("partners", "add", "Alice", "--discount", "20", "--commission", "10")
    sub_id = subscribe(app_server, local_stripe, code="ALICE20")
    renew(local_stripe, sub_id)
    renew(local_stripe, sub_id)

    first, second, third = invoices = paid_invoices(local_stripe)
    assert [i["amount_paid"] for i in invoices] == [720, 900, 900]  # 20 % off once
    assert ledger(pw) == [
        ("sale", first["id"], 720, 72, 0),
        ("sale", second["id"], 900, 90, 0),
        ("sale", third["id"], 900, 90, 0),
    ]
    with pw.sessions() as db:
        sales = db.scalars(select(PartnerLedger).order_by(PartnerLedger.id)).all()
        assert {s.subscription_id for s in sales} == {sub_id}
        assert all(s.payment_intent and s.checkout_session_id is None for s in sales)
        assert (sales[0].amount_subtotal, sales[0].amount_discount) == (900, 180)
        assert {s.attribution for s in sales} == {"promotion_code"}

    # Duplicate deliveries of invoice.paid (and of the checkout) book nothing new.
    for event in local_stripe.events("invoice.paid") + local_stripe.events(
        "checkout.session.completed"
    ):
        local_stripe.resend(event["id"])
    assert len(ledger(pw)) == 3

    # A full refund of the first renewal takes back its commission, once; a partial refund
    # of the second takes back its share.
    local_stripe.refund(second["id"])
    refund = local_stripe.events("charge.refunded")[-1]
    local_stripe.resend(refund["id"])
    local_stripe.refund(third["id"], amount=450)
    assert ledger(pw)[3:] == [
        ("reversal", second["id"], -900, -90, 900),
        ("reversal", third["id"], -450, -45, 450),
    ]

    row = report(kp)["Alice"]
    assert (row["sales"], row["refunds"]) == ("3", "2")
    assert (row["gross"], row["discounts"], row["net_sales"]) == ("27.00", "1.80", "25.20")
    assert row["refunded"] == "13.50"
    assert (row["commission"], row["commission_reversed"], row["commission_owed"]) == (
        "2.52",
        "1.35",
        "1.17",
    )
    assert sum(e[3] for e in ledger(pw)) == 117


def test_subscription_without_partner_books_nothing(app_server, kp, local_stripe, pw):
    kp("partners", "add", "Alice", "--discount", "20", "--commission", "10")
    sub_id = subscribe(app_server, local_stripe)
    renew(local_stripe, sub_id)
    assert len(paid_invoices(local_stripe)) == 2
    assert ledger(pw) == []


def test_link_attributed_subscription_out_of_order(app_server, kp, local_stripe, pw):
    """The first invoice.paid arrives before its checkout, and a renewal's refund before
    the renewal's invoice.paid: both end up booked exactly once."""
    kp("partners", "add", "Bob", "--discount", "15", "--commission", "12.5", "--code", "BOB-VIP")
    local_stripe.hold()
    sub_id = subscribe(app_server, local_stripe, ref="p-bob-vip")
    local_stripe.flush(order=["invoice.paid"])
    first = paid_invoices(local_stripe)[0]
    assert ledger(pw) == [("sale", first["id"], 900, 113, 0)]  # full price, 12.5 % → 1.125

    local_stripe.hold()
    renew(local_stripe, sub_id)
    second = paid_invoices(local_stripe)[1]
    local_stripe.refund(second["id"])
    local_stripe.flush(order=["charge.refunded"])
    assert ledger(pw)[1:] == [
        ("sale", second["id"], 900, 113, 0),
        ("reversal", second["id"], -900, -113, 900),
    ]
    with pw.sessions() as db:
        assert {e.attribution for e in db.scalars(select(PartnerLedger))} == {"ref_link"}
        outcomes = {
            (row.type, row.object_id): row.outcome
            for row in db.scalars(select(StripeEvent))
            if row.type in ("invoice.paid", "checkout.session.completed", "charge.refunded")
        }
    # Who booked what shows the order really was reversed.
    assert "partner" not in outcomes[("invoice.paid", first["id"])]
    checkout_outcome = next(v for (t, _), v in outcomes.items() if t.startswith("checkout"))
    assert "1 invoice(s) 113" in checkout_outcome
    assert "reversed" not in next(v for (t, _), v in outcomes.items() if t == "charge.refunded")
    assert "partner commission 113" in outcomes[("invoice.paid", second["id"])]
    row = report(kp)["Bob"]
    assert (row["sales"], row["refunds"], row["commission_owed"]) == ("2", "1", "1.13")
