"""Partners: `kp partners add` creates the coupon and promotion code in (local) Stripe through
the official SDK; checkouts with the code or through the partner's link are attributed; a
refund removes the commission; `kp partners report` (text and CSV) adds up to exactly what the
Stripe events say. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy import select

from kp_contract.manifest import read_manifest
from paywall.billing.stripe_sync import sync_catalog
from paywall.database.models import Partner, PartnerLedger, StripeEvent
from paywall.growth.partners import PartnerError, basis_points, commission_on, default_code, percent
from paywall.members.records import find_member

pytestmark = pytest.mark.timeout(240)

CS_ID = re.compile(r"cs_[A-Za-z0-9_]+")
LESSON = "/courses/demo/02-paid/"


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.fixture(autouse=True)
def catalog(local_stripe, settings) -> None:
    sync_catalog(local_stripe.client(), read_manifest(settings.manifest_path))


def checkout(client, **fields: str) -> str:
    r = client.post("/api/checkout", data={"course": "demo", "from": LESSON, **fields})
    assert r.status_code == 303, r.text[:500]
    match = CS_ID.search(r.headers["location"])
    assert match, r.headers["location"]
    return match.group(0)


def ledger(pw) -> list[tuple[str, str, int, int, int]]:
    with pw.sessions() as db:
        return [
            (e.kind, e.attribution, e.amount_total, e.commission, e.refunded_total)
            for e in db.scalars(select(PartnerLedger).order_by(PartnerLedger.id))
        ]


def report_csv(kp, *args: str) -> list[dict[str, str]]:
    out = kp("partners", "report", "--csv", *args).output
    return list(csv.DictReader(io.StringIO(out)))


def test_add_creates_coupon_and_promotion_code_through_the_sdk(kp, local_stripe, pw):
    out = kp("partners", "add", "Alice Chen", "--discount", "20", "--commission", "10").output
    assert "code ALICECHEN20" in out and "20% off" in out and "commission 10%" in out
    assert "/?ref=p-alicechen20" in out
    client = local_stripe.client()
    promos = client.v1.promotion_codes.list({"code": "ALICECHEN20"}).data
    assert len(promos) == 1 and promos[0].active
    coupon_id = promos[0].promotion.coupon
    coupon_id = coupon_id if isinstance(coupon_id, str) else coupon_id.id
    coupon = client.v1.coupons.retrieve(coupon_id)
    assert coupon.percent_off == 20 and coupon.metadata["kp_partner"] == "Alice Chen"
    with pw.sessions() as db:
        partner = db.scalar(select(Partner))
        assert (partner.promotion_code_id, partner.coupon_id) == (promos[0].id, coupon.id)
        assert (partner.discount_bp, partner.commission_bp) == (2000, 1000)
    listed = kp("partners", "list").output
    assert "Alice Chen" in listed and "ALICECHEN20" in listed and "p-alicechen20" in listed

    # Clashes and bad numbers are refused before anything is created in Stripe.
    again = kp("partners", "add", "alice chen", "--discount", "15", "--commission", "5", ok=False)
    assert again.exit_code != 0 and "name exists already" in again.output
    for args, problem in (
        (("--discount", "0", "--commission", "10"), "--discount: 0 is not a percentage"),
        (("--discount", "150", "--commission", "10"), "--discount: 150 is not a percentage"),
        (("--discount", "abc", "--commission", "10"), "--discount: 'abc' is not a number"),
        (("--discount", "10", "--commission", "-1"), "--commission: -1 is not a percentage"),
        (("--discount", "10.555", "--commission", "1"), "more than two decimals"),
        (("--discount", "10", "--commission", "1", "--code", "no spaces"), "--code:"),
    ):
        result = kp("partners", "add", "Bob", *args, ok=False)
        assert result.exit_code != 0 and problem in result.output, result.output
    assert len(client.v1.promotion_codes.list({}).data) == 1


def test_without_stripe_the_command_says_so(kp, cli_env):
    cli_env["STRIPE_SECRET_KEY"] = None
    result = kp("partners", "add", "Carol", "--discount", "10", "--commission", "5", ok=False)
    assert result.exit_code != 0 and "STRIPE_SECRET_KEY is not set" in result.output


def test_code_and_link_sales_refund_and_report_totals(app_server, kp, local_stripe, pw):
    kp("partners", "add", "Alice", "--discount", "20", "--commission", "10")
    kp("partners", "add", "Bob", "--discount", "15", "--commission", "12.5", "--code", "BOB-VIP")

    # 1. Alice's promotion code typed on the checkout page: 49.00 - 20 % = 39.20, 10 % = 3.92.
    buyer = app_server.client()
    cs_code = checkout(buyer)
    local_stripe.pay(cs_code, email="ann@example.com", promotion_code="ALICE20")
    # 2. Bob's link (growth.js put ref=p-bob-vip into the form): full price, 12.5 % = 6.13.
    cs_link = checkout(app_server.client(), ref="p-bob-vip")
    local_stripe.pay(cs_link, email="ben@example.com")
    # 3. No code, no link: nobody's sale.
    cs_plain = checkout(app_server.client())
    local_stripe.pay(cs_plain, email="cid@example.com")

    assert ledger(pw) == [
        ("sale", "promotion_code", 3920, 392, 0),
        ("sale", "ref_link", 4900, 613, 0),
    ]
    with pw.sessions() as db:
        sale = db.scalar(select(PartnerLedger).where(PartnerLedger.kind == "sale"))
        assert sale.member_id == find_member(db, "ann@example.com").id
        assert (sale.amount_subtotal, sale.amount_discount, sale.product_key) == (
            4900,
            980,
            "course:demo",
        )

    # A refund of Alice's sale takes the commission back (delivered twice: booked once).
    local_stripe.refund(cs_code)
    refund_event = local_stripe.events("charge.refunded")[-1]
    local_stripe.resend(refund_event["id"])
    assert ledger(pw)[-1] == ("reversal", "promotion_code", -3920, -392, 3920)
    assert len(ledger(pw)) == 3

    # The report adds up to what Stripe's events say.
    completed = {
        e["data"]["object"]["id"]: e["data"]["object"]
        for e in local_stripe.events("checkout.session.completed")
    }
    rows = {r["partner"]: r for r in report_csv(kp)}
    alice, bob = rows["Alice"], rows["Bob"]
    assert alice["sales"] == "1" and alice["refunds"] == "1"
    assert alice["gross"] == "49.00" and alice["discounts"] == "9.80"
    assert alice["net_sales"] == f"{completed[cs_code]['amount_total'] / 100:.2f}" == "39.20"
    assert alice["refunded"] == f"{refund_event['data']['object']['amount_refunded'] / 100:.2f}"
    assert (alice["commission"], alice["commission_reversed"], alice["commission_owed"]) == (
        "3.92",
        "3.92",
        "0.00",
    )
    assert bob["net_sales"] == f"{completed[cs_link]['amount_total'] / 100:.2f}" == "49.00"
    assert (bob["commission_rate"], bob["commission_owed"]) == ("12.5%", "6.13")
    total_owed = sum(int(round(float(r["commission_owed"]) * 100)) for r in rows.values())
    assert total_owed == sum(e[3] for e in ledger(pw)) == 613

    this_month = pw.now().strftime("%Y-%m")
    assert {r["partner"]: r["sales"] for r in report_csv(kp, "--month", this_month)} == {
        "Alice": "1",
        "Bob": "1",
    }
    assert {r["partner"]: r["sales"] for r in report_csv(kp, "--month", "2001-01")} == {
        "Alice": "0",
        "Bob": "0",
    }
    text = kp("partners", "report").output
    assert "commission_owed" in text and "Alice" in text and "6.13" in text
    bad = kp("partners", "report", "--month", "2026-13", ok=False)
    assert bad.exit_code != 0 and "--month: '2026-13' is not a month" in bad.output


def test_partial_refunds_reverse_their_share(app_server, kp, local_stripe, pw):
    kp("partners", "add", "Alice", "--discount", "20", "--commission", "10")
    cs_id = checkout(app_server.client())
    local_stripe.pay(cs_id, email="ann@example.com", promotion_code="ALICE20")
    local_stripe.refund(cs_id, amount=1960)  # half
    assert ledger(pw)[-1] == ("reversal", "promotion_code", -1960, -196, 1960)
    local_stripe.refund(cs_id, amount=1960)  # the rest
    assert ledger(pw)[-1] == ("reversal", "promotion_code", -1960, -196, 3920)
    assert sum(e[3] for e in ledger(pw)) == 0


def test_member_who_signed_up_through_a_partner_link_is_theirs(
    app_server, kp, local_stripe, pw, sign_up
):
    kp("partners", "add", "Alice", "--discount", "20", "--commission", "10")
    member = sign_up("fan@example.com", ref="p-alice20")
    cs_id = checkout(member)  # signed in, later, without the link
    local_stripe.pay(cs_id)
    assert ledger(pw) == [("sale", "member", 4900, 490, 0)]


def test_refund_delivered_before_the_checkout_event(app_server, kp, local_stripe, pw):
    """Stripe does not promise order: the reversal is booked when the sale arrives."""
    kp("partners", "add", "Alice", "--discount", "20", "--commission", "10")
    cs_id = checkout(app_server.client())
    local_stripe.hold()
    local_stripe.pay(cs_id, email="ann@example.com", promotion_code="ALICE20")
    local_stripe.refund(cs_id)
    (completed,) = [
        e
        for e in local_stripe.events("checkout.session.completed")
        if e["data"]["object"]["id"] == cs_id
    ]
    refunded = local_stripe.events("charge.refunded")[-1]
    local_stripe.resend(refunded["id"])  # the refund alone, first (the rest still held)
    with pw.sessions() as db:
        assert db.get(StripeEvent, refunded["id"]) is not None  # it was processed
    assert ledger(pw) == []
    local_stripe.flush()
    assert ledger(pw) == [
        ("sale", "promotion_code", 3920, 392, 0),
        ("reversal", "promotion_code", -3920, -392, 3920),
    ]
    local_stripe.resend(completed["id"])  # a duplicate: no change
    assert len(ledger(pw)) == 2


def test_percentages_and_codes():
    assert basis_points("12.5", "commission", allow_zero=True) == 1250
    assert percent(1250) == "12.5%" and percent(2000) == "20%"
    assert commission_on(3920, 1000) == 392 and commission_on(4900, 1250) == 613
    assert default_code("Alice Chen", 2000) == "ALICECHEN20"
    assert default_code("小明", 1500).endswith("15") and default_code("小明", 1500).startswith("P")
    with pytest.raises(PartnerError, match="--discount"):
        basis_points("nan", "discount", allow_zero=False)


def test_a_session_selling_nothing_known_is_not_booked(app_server, kp, pw, deliver, stripe_events):
    kp("partners", "add", "Alice", "--discount", "20", "--commission", "10")
    with pw.sessions() as db:
        promo_id = db.scalar(select(Partner.promotion_code_id))
    event = stripe_events.checkout_session(email="ann@example.com", product=None)
    event["data"]["object"]["discounts"] = [{"coupon": "c1", "promotion_code": promo_id}]
    r = deliver(app_server.url, event)
    assert r.status_code == 200 and r.json()["status"] == "processed"
    assert ledger(pw) == []
