"""Gifts through the app, the official SDK and the local Stripe server: a course or N
months of a tier bought for someone else's address (Checkout in `payment` mode, the
right amount and currency, no address or message sent to Stripe), the recipient's
single-use link (a GET changes nothing, the POST redeems and signs in), the buyer's
"Gifts you sent" on /account/ with each state, refunds and disputes ending the gift
(redeemed or not) through the webhook, and the audit trail. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kp_contract.manifest import Manifest, Price, read_manifest, write_manifest
from paywall.billing.gifts import GIFT_LINK_TTL, add_months
from paywall.billing.stripe_sync import sync_catalog
from paywall.database.models import AuditLog, Entitlement, Gift
from paywall.members.records import find_member

from .conftest import CANARY, PRO_CANARY, make_built_site
from .test_checkout import LESSON, PRO_LESSON, start_checkout

pytestmark = pytest.mark.timeout(180)
GIFT_LINK = re.compile(r"https?://[^\s\"'<>]+/gift/redeem\?token=[A-Za-z0-9_\-]+")
MESSAGE = "Happy birthday, Sam! Lesson 2 is the best."


def with_gift_prices(manifest: Manifest) -> Manifest:
    """What `gift_months: [1, 3]` on the Pro tier builds to ($9 a month, ¥59 in yuan)."""
    pro = manifest.tiers["pro"]
    gifts = {
        n: Price(
            amount=900 * n,
            currency="usd",
            display=f"${9 * n}",
            lookup_key=f"pro-month-gift-{n}m",
            currencies={
                "cny": Price(
                    amount=5900 * n,
                    currency="cny",
                    display=f"¥{59 * n}",
                    lookup_key=f"pro-month-gift-{n}m-cny",
                )
            },
        )
        for n in (1, 3)
    }
    return manifest.model_copy(
        update={
            "tiers": {"pro": pro.model_copy(update={"gifts": gifts})},
            "currency_by_lang": {"en": "usd", "zh": "cny"},
        }
    )


@pytest.fixture
def built_site(tmp_path: Path) -> Path:
    project = make_built_site(tmp_path / "project")
    path = project / "private" / "manifest.json"
    write_manifest(with_gift_prices(read_manifest(path)), path)
    return project


@pytest.fixture
def settings_overrides(stripe_settings: dict[str, Any]) -> dict[str, Any]:
    return stripe_settings


@pytest.fixture
def shop(app_server, local_stripe):
    sync_catalog(local_stripe.client(), app_server.pw.manifest())
    return app_server


def gift_link(shop, address: str) -> str:
    body = shop.outbox.body(shop.outbox.latest(address))
    found = GIFT_LINK.search(body)
    assert found, f"no gift link in the e-mail to {address}:\n{body}"
    return found.group(0)


def post_link(client, link: str):
    token = link.split("token=", 1)[1]
    return client.post("/gift/redeem", data={"token": token})


def audit_actions(shop, action_prefix: str = "gift_") -> list[str]:
    with shop.pw.sessions() as db:
        rows = db.scalars(select(AuditLog).where(AuditLog.action.startswith(action_prefix)))
        return [row.action for row in rows]


def buy_course_gift(shop, local_stripe, buyer, recipient: str = "sam@example.com") -> str:
    cs = start_checkout(
        buyer,
        course="demo",
        gift="1",
        gift_email=recipient,
        gift_message=MESSAGE,
        **{"from": LESSON},
    )
    local_stripe.pay(cs)
    return cs


def test_a_course_gift_is_paid_mailed_redeemed_and_refunded(shop, local_stripe):
    buyer = shop.client()
    shop.login(buyer, "alex@example.com")
    cs = start_checkout(
        buyer, course="demo", gift="1", gift_email="Sam@Example.com", gift_message=MESSAGE
    )
    client = local_stripe.client()
    session = client.v1.checkout.sessions.retrieve(cs)
    assert (session.mode, session.amount_total, session.currency) == ("payment", 4900, "usd")
    stripe_text = str(session.to_dict())
    assert "sam@example.com" not in stripe_text.lower() and "birthday" not in stripe_text
    assert session.metadata["kp_gift"].isdigit()

    local_stripe.pay(cs)
    assert CANARY not in buyer.get(LESSON).text  # the buyer bought it for someone else
    success = buyer.get(f"/checkout/success?session_id={cs}").text
    assert "your gift is on its way" in success
    mail = shop.outbox.latest("sam@example.com")
    body = shop.outbox.body(mail)
    assert "alex@example.com gave you Demo course" in body and MESSAGE in body
    assert "90 days" in body
    account = buyer.get("/account/").text
    assert "Gifts you sent" in account and "sam@example.com" in account and "sent;" in account

    link = gift_link(shop, "sam@example.com")
    recipient = shop.client()
    for _ in range(2):  # opening the link (a mail scanner, a preview) uses nothing
        page = recipient.get(link)
        assert page.status_code == 200 and "Redeem the gift" in page.text and MESSAGE in page.text
    assert "no-store" in page.headers["cache-control"]
    assert CANARY not in recipient.get(LESSON).text

    redeemed = post_link(recipient, link)
    assert redeemed.status_code == 303 and redeemed.headers["location"] == "/courses/demo/"
    assert CANARY in recipient.get(LESSON).text  # signed in as the recipient, holding it
    assert recipient.get("/api/me").json()["email"] == "sam@example.com"
    assert post_link(shop.client(), link).status_code == 400  # single use
    assert recipient.get(link).status_code == 400
    assert "redeemed on" in buyer.get("/account/").text
    # Both sides find the gift in the data they can download (no link token in it).
    given = buyer.get("/account/data.json").json()["gifts_given"]
    assert [(g["recipient"], g["state"], g["message"]) for g in given] == [
        ("sam@example.com", "redeemed", MESSAGE)
    ]
    assert [g["key"] for g in recipient.get("/account/data.json").json()["gifts_received"]] == [
        "course:demo"
    ]
    with shop.pw.sessions() as db:
        sam = find_member(db, "sam@example.com")
        rows = db.scalars(select(Entitlement).where(Entitlement.member_id == sam.id)).all()
        assert [(r.key, r.source, r.valid_until) for r in rows] == [("course:demo", "gift", None)]
        gift = db.scalar(select(Gift))
        assert gift.token_hash is None and gift.state == "redeemed"
        assert rows[0].stripe_object_id == gift.payment_intent_id

    local_stripe.refund(cs)
    assert CANARY not in recipient.get(LESSON).text
    assert "refunded" in buyer.get("/account/").text
    assert audit_actions(shop) == ["gift_sent", "gift_redeemed", "gift_revoked"]


def test_months_of_a_tier_for_a_signed_in_recipient_end_after_those_months(shop, local_stripe):
    buyer = shop.client()  # signed out: Checkout asks the buyer's address
    cs = start_checkout(
        buyer, tier="pro", gift="1", gift_months="3", gift_email="kim@example.com", lang="zh"
    )
    session = local_stripe.client().v1.checkout.sessions.retrieve(cs)
    assert (session.mode, session.amount_total, session.currency) == ("payment", 17700, "cny")
    assert session.subscription is None
    local_stripe.pay(cs, email="giver@example.com")
    # the signed-out buyer gets a sign-in link to their account, where the gift shows
    assert shop.outbox.messages("giver@example.com")
    assert "送你的礼物" in shop.outbox.latest("kim@example.com")["Subject"]

    recipient = shop.client()
    shop.login(recipient, "kim-work@example.com")  # redeemed into the account signed in
    page = recipient.get(gift_link(shop, "kim@example.com"))
    assert "kim-work@example.com" in page.text
    assert post_link(recipient, gift_link(shop, "kim@example.com")).status_code == 303
    assert PRO_CANARY in recipient.get(PRO_LESSON).text
    with shop.pw.sessions() as db:
        member = find_member(db, "kim-work@example.com")
        row = db.scalar(select(Entitlement).where(Entitlement.member_id == member.id))
        assert (row.key, row.source) == ("tier:pro", "gift")
        assert row.valid_until == add_months(shop.clock(), 3)
    assert "Pro membership" in recipient.get("/account/").text

    shop.clock.advance(days=93)
    shop.login(recipient, "kim-work@example.com")
    assert PRO_CANARY not in recipient.get(PRO_LESSON).text

    giver = shop.client()
    shop.login(giver, "giver@example.com")
    account = giver.get("/account/?lang=zh").text
    assert "你送出的礼物" in account and "Pro membership（3 个月）" in account


def test_a_refund_before_redemption_kills_the_link(shop, local_stripe):
    buyer = shop.client()
    shop.login(buyer, "early@example.com")
    cs = buy_course_gift(shop, local_stripe, buyer, "late@example.com")
    link = gift_link(shop, "late@example.com")
    local_stripe.refund(cs)
    assert shop.client().get(link).status_code == 400
    recipient = shop.client()
    assert post_link(recipient, link).status_code == 400
    assert CANARY not in recipient.get(LESSON).text
    assert "refunded" in buyer.get("/account/").text


def test_a_disputed_gift_is_revoked_and_flags_the_buyer_not_the_recipient(shop, local_stripe):
    buyer = shop.client()
    shop.login(buyer, "chargeback@example.com")
    cs = buy_course_gift(shop, local_stripe, buyer, "innocent@example.com")
    recipient = shop.client()
    assert post_link(recipient, gift_link(shop, "innocent@example.com")).status_code == 303
    assert CANARY in recipient.get(LESSON).text
    local_stripe.dispute(cs)
    assert CANARY not in recipient.get(LESSON).text
    with shop.pw.sessions() as db:
        assert (find_member(db, "chargeback@example.com").flagged or "").startswith("disputed")
        assert find_member(db, "innocent@example.com").flagged is None
    assert "disputed" in buyer.get("/account/").text


def test_a_gift_link_signs_in_only_an_account_it_creates(shop, local_stripe, grant_access):
    """The link lives for weeks: to a member who already has an account it gives the gift
    but opens no session (they sign in as usual), so a forwarded gift mail cannot open
    that account and what else it holds."""
    grant_access("owner@example.com", "tier:pro")  # an existing member with more access
    buyer = shop.client()
    shop.login(buyer, "giver@example.com")
    buy_course_gift(shop, local_stripe, buyer, "owner@example.com")
    stranger = shop.client()  # whoever holds the mail, signed out
    done = post_link(stranger, gift_link(shop, "owner@example.com"))
    assert done.status_code == 303 and done.headers["location"].startswith("/account/?next=")
    assert "kp_session" not in done.headers.get("set-cookie", "")
    assert stranger.get("/api/me").json()["authenticated"] is False
    owner = shop.client()
    shop.login(owner, "owner@example.com")
    assert CANARY in owner.get(LESSON).text  # the gift is on their account


def test_a_gift_link_expires_after_its_days(shop, local_stripe):
    buyer = shop.client()
    shop.login(buyer, "slow@example.com")
    buy_course_gift(shop, local_stripe, buyer, "later@example.com")
    link = gift_link(shop, "later@example.com")
    shop.clock.advance(days=GIFT_LINK_TTL.days + 1)
    assert shop.client().get(link).status_code == 400
    assert post_link(shop.client(), link).status_code == 400


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_gift_form_errors_are_explained(shop):
    browser = shop.client()
    cases = [
        ({"course": "demo", "gift": "1", "gift_email": "not-an-address"}, "not valid"),
        (
            {"tier": "pro", "gift": "1", "gift_months": "12", "gift_email": "a@example.com"},
            "for 1, 3 months, not 12",
        ),
        (
            {
                "course": "demo",
                "gift": "1",
                "gift_email": "a@example.com",
                "gift_message": "x" * 1001,
            },
            "at most 1000",
        ),
    ]
    for fields, text in cases:
        response = browser.post("/api/checkout", data=fields)
        assert response.status_code == 400, (fields, response.status_code)
        assert text in response.text, (fields, response.text[:400])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_stripe_sync_creates_the_gift_prices_once(app_server, local_stripe):
    client = local_stripe.client()
    first = {line.name: line.action for line in sync_catalog(client, app_server.pw.manifest())}
    assert first["pro-month-gift-3m"] == first["pro-month-gift-3m-cny"] == "created"
    again = sync_catalog(client, app_server.pw.manifest())
    assert {line.action for line in again} == {"unchanged"}
    price = client.v1.prices.list({"lookup_keys": ["pro-month-gift-3m-cny"]}).data[0]
    assert (price.unit_amount, price.type, price.product) == (17700, "one_time", "kp_tier_pro")


def test_deleting_an_account_erases_its_gift_messages_and_addresses(shop, local_stripe):
    buyer = shop.client()
    shop.login(buyer, "leaver@example.com")
    buy_course_gift(shop, local_stripe, buyer, "quiet@example.com")
    link = gift_link(shop, "quiet@example.com")
    recipient = shop.client()
    shop.login(recipient, "quiet@example.com")  # has an account, deletes it before redeeming
    gone = recipient.post("/account/delete", data={"confirm_email": "quiet@example.com"})
    assert gone.status_code == 200
    assert shop.client().get(link).status_code == 400  # the link went with the address
    assert (
        buyer.post("/account/delete", data={"confirm_email": "leaver@example.com"}).status_code
        == 200
    )
    with shop.pw.sessions() as db:
        gift = db.scalar(select(Gift))
        assert gift.message == "" and "quiet@example.com" not in gift.recipient_email
        assert gift.token_hash is None
