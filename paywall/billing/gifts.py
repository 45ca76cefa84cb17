"""Gifts: a course, or N months of a tier, bought for someone else's e-mail address.

The buyer pays through Checkout as for themselves, always in `payment` mode (N months of a
tier are one one-time price, `Tier.gifts`). The gift row is written when the checkout
starts (`start_gift`: recipient, message, what it gives) and only its id goes to Stripe
(`kp_gift` metadata), so the address and the message stay in this database. The paid
webhook (`on_gift_checkout`) makes the redemption link: single-use, stored hashed, valid
`GIFT_LINK_TTL`, mailed to the recipient once the transaction commits. Opening it shows a
button (a mail scanner's GET changes nothing); its POST (`redeem_gift`) gives the
entitlement (source `gift`, the purchase's payment intent as its Stripe object) to the
signed-in member, or to the recipient's address, signing them in (the link reached that
inbox, as a sign-in link does). A refund or dispute of the purchase ends the gift,
redeemed or not (`reverse_gift`), from the normal webhook path; every step is audited.
"""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kp_contract.manifest import Manifest, Price, tier_key
from paywall.billing import stripe_objects as so
from paywall.billing.checkout import CheckoutError, Product
from paywall.billing.event_context import PAID_STATUSES, EventContext, GiftMail, PurchaseMail
from paywall.database.models import Entitlement, Gift, Member
from paywall.members.audit import GIFT_REDEEMED, GIFT_REVOKED, GIFT_SENT, record
from paywall.members.entitlements import Desired, revoke_all, set_state
from paywall.members.records import (
    InvalidEmail,
    find_member,
    get_or_create_member,
    normalize_email,
)
from paywall.members.sign_in import hash_token, site_name
from paywall.runtime.context import Paywall
from paywall.runtime.lang import t
from paywall.runtime.logs import get_logger, kv, mask_email

log = get_logger("paywall.billing.gifts")

GIFT_LINK_TTL = dt.timedelta(days=90)
"""How long a redemption link works: long enough for a birthday or a holiday gift."""
META_GIFT = so.META_GIFT
REDEEM_PATH = "/gift/redeem"
MESSAGE_LIMIT = 1000
ENDED = ("refunded", "disputed", "failed")


@dataclass(frozen=True)
class GiftOrder:
    """What the checkout form asked for, checked: who receives it and what it gives."""

    recipient: str
    message: str
    key: str
    months: int | None
    product: Product


def gift_order(
    manifest: Manifest | None,
    product: Product,
    recipient: str | None,
    message: str | None,
    months: str | None,
) -> GiftOrder:
    """The gift version of a resolved product: a course sold once, or `months` of a tier
    (one of its `gift_months`), both paid once. `CheckoutError` names what is wrong;
    a recipient address that is not one is one too."""
    try:
        address = normalize_email(recipient or "")
    except InvalidEmail as exc:
        raise CheckoutError(400, f"The gift's recipient address is not valid: {exc}") from None
    text = (message or "").strip()
    if len(text) > MESSAGE_LIMIT:
        raise CheckoutError(400, f"A gift message has at most {MESSAGE_LIMIT} characters.")
    kind, _, name = product.key.partition(":")
    if kind == "course" and product.mode == "payment":
        return GiftOrder(address, text, product.key, None, _once(product, product.price))
    tier = manifest.tiers.get(name) if manifest is not None and kind == "tier" else None
    if tier is None or not tier.gifts:
        raise CheckoutError(400, f"{product.title} cannot be given as a gift.")
    wanted = (months or "").strip()
    count = int(wanted) if wanted.isdigit() else 0
    if count not in tier.gifts:
        offered = ", ".join(str(n) for n in sorted(tier.gifts))
        raise CheckoutError(
            400, f"A gift of {product.title} is for {offered} months, not {months or 'none'}."
        )
    return GiftOrder(address, text, tier_key(tier.name), count, _once(product, tier.gifts[count]))


def _once(product: Product, price: Price) -> Product:
    """The product as a one-time purchase for someone else: never "owned" by the buyer."""
    return Product(
        key=product.key,
        title=product.title,
        mode="payment",
        price=price,
        url="/account/",
        unlocks=(),
    )


def start_gift(pw: Paywall, order: GiftOrder, buyer: Member | None, lang: str) -> str:
    """Store the pending gift; its id (returned) goes into Checkout's metadata."""
    with pw.sessions.begin() as db:
        return str(_pending_gift(pw, db, order, buyer, lang))


def _pending_gift(
    pw: Paywall, db: Session, order: GiftOrder, buyer: Member | None, lang: str
) -> int:
    gift = Gift(
        buyer_member_id=buyer.id if buyer else None,
        recipient_email=order.recipient,
        message=order.message,
        key=order.key,
        months=order.months,
        lang=lang,
        state="pending",
        created_at=pw.now(),
        note="",
    )
    db.add(gift)
    db.flush()
    return gift.id


# ---------------------------------------------------------------- the webhook


def on_gift_checkout(
    ctx: EventContext, session: dict[str, Any], buyer: Member, reversal: str | None
) -> str:
    """A gift's checkout event: paid → link made and mailed (once); failed → failed; a
    refund or dispute of the payment seen before it (`reversal`) → the gift ends unsent."""
    raw = so.metadata(session).get(META_GIFT, "")
    gift = _locked(ctx.db, int(raw)) if raw.isdigit() else None
    if gift is None:
        return f"ignored: gift {raw!r} is not in this database"
    gift.buyer_member_id = gift.buyer_member_id or buyer.id
    gift.checkout_session_id = str(session.get("id") or "") or gift.checkout_session_id
    gift.payment_intent_id = so.object_id(session.get("payment_intent")) or gift.payment_intent_id
    if gift.state != "pending":
        return f"gift {gift.id} already {gift.state}"
    if ctx.type == "checkout.session.async_payment_failed":
        _end(ctx, gift, "failed", "payment failed")
        return f"gift {gift.id} failed: payment failed"
    if session.get("payment_status") not in PAID_STATUSES:
        return f"gift {gift.id} pending: waiting for the payment to clear"
    if reversal:
        _end(ctx, gift, "disputed" if reversal.startswith("disputed") else "refunded", reversal)
        return f"gift {gift.id} ended before it was sent: {reversal}"
    token = secrets.token_urlsafe(32)
    gift.token_hash = hash_token(token)
    gift.link_expires_at = ctx.now + GIFT_LINK_TTL
    gift.state, gift.sent_at = "sent", ctx.now
    record(
        ctx.db,
        GIFT_SENT,
        now=ctx.now,
        actor=ctx.actor,
        member_id=gift.buyer_member_id,
        key=gift.key,
        source="gift",
        detail=f"gift={gift.id} link mailed to the recipient, valid until "
        f"{gift.link_expires_at.date().isoformat()} object={gift.payment_intent_id}",
    )
    ctx.gift_mails.append(
        GiftMail(
            to=gift.recipient_email,
            lang=gift.lang,
            link=f"{ctx.pw.settings.base_url}{REDEEM_PATH}?token={token}",
            title=gift_title(ctx.manifest, gift.key, gift.months, gift.lang),
            message=gift.message,
            giver=buyer.email,
        )
    )
    if not session.get("client_reference_id"):  # a signed-out buyer: a link to their account
        ctx.mails.append(PurchaseMail(buyer.email, "/account/", buyer.lang))
    return f"gift {gift.id} sent ({gift.key}{f', {gift.months} months' if gift.months else ''})"


def reverse_gift(ctx: EventContext, payment_intent: str | None, reason: str) -> Gift | None:
    """End the gift this payment bought (refund or dispute): the link stops working and a
    redeemed gift's access is revoked. None when the payment bought no gift."""
    if not payment_intent:
        return None
    gift_id = ctx.db.scalar(select(Gift.id).where(Gift.payment_intent_id == payment_intent))
    gift = _locked(ctx.db, gift_id) if gift_id is not None else None
    if gift is None:
        return None
    if gift.state not in ENDED:
        _end(ctx, gift, "disputed" if reason.startswith("disputed") else "refunded", reason)
    rows = [
        row
        for row in ctx.db.scalars(
            select(Entitlement).where(
                Entitlement.stripe_object_id == payment_intent, Entitlement.source == "gift"
            )
        )
    ]
    revoke_all(ctx.db, rows, now=ctx.now, actor=ctx.actor, reason=reason)
    return gift


def _end(ctx: EventContext, gift: Gift, state: str, reason: str) -> None:
    gift.state, gift.ended_at, gift.note = state, ctx.now, reason[:255]
    gift.token_hash = None
    record(
        ctx.db,
        GIFT_REVOKED,
        now=ctx.now,
        actor=ctx.actor,
        member_id=gift.buyer_member_id,
        key=gift.key,
        source="gift",
        detail=f"gift={gift.id} {state}: {reason}",
    )


def _locked(db: Session, gift_id: int) -> Gift | None:
    """The gift row, locked on PostgreSQL: a redemption and a refund of one gift run one
    after the other, so a refund never misses the access a redemption just gave."""
    stmt = select(Gift).where(Gift.id == gift_id).execution_options(populate_existing=True)
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return db.scalar(stmt)


# ---------------------------------------------------------------- redemption


@dataclass(frozen=True)
class GiftView:
    """What the redemption page says about a valid link."""

    title: str
    message: str
    giver: str | None
    recipient: str
    lang: str


def gift_for_link(pw: Paywall, db: Session, token: str) -> GiftView | None:
    """The gift a link would redeem, if the link is valid (nothing is used)."""
    gift = _by_token(db, token)
    if gift is None or not _usable(gift, pw.now()):
        return None
    giver = db.get(Member, gift.buyer_member_id) if gift.buyer_member_id else None
    return GiftView(
        title=gift_title(pw.manifest(), gift.key, gift.months, gift.lang),
        message=gift.message,
        giver=giver.email if giver is not None and giver.deleted_at is None else None,
        recipient=gift.recipient_email,
        lang=gift.lang,
    )


@dataclass(frozen=True)
class Redeemed:
    member: Member
    key: str
    signed_in_now: bool


def redeem_gift(pw: Paywall, db: Session, token: str, current: Member | None) -> Redeemed | None:
    """Use the link: the signed-in member (else the recipient's address, created if new
    and confirmed by this link) holds the gift from now on, for its months or for good.
    None when the link is unknown, used, expired or its purchase was reversed.

    The link signs in (`signed_in_now`) only an account it creates: it lives for weeks, so
    it must not open an existing member's account, with whatever else that holds; an
    existing member gets the gift on their account and signs in as usual."""
    found = _by_token(db, token)
    gift = _locked(db, found.id) if found is not None else None
    now = pw.now()
    if gift is None or gift.token_hash != hash_token(token) or not _usable(gift, now):
        return None
    member = current
    created = False
    if member is None:
        created = find_member(db, gift.recipient_email) is None
        member = get_or_create_member(
            db, gift.recipient_email, now=now, source="gift", lang=gift.lang
        )
        if member.confirmed_at is None:
            member.confirmed_at = now
    until = add_months(now, gift.months) if gift.months else None
    set_state(
        db,
        member,
        gift.key,
        "gift",
        Desired(valid_until=until, note=f"gift {gift.id}"),
        now=now,
        actor=f"member:{member.id}",
        stripe_object_id=gift.payment_intent_id or f"gift:{gift.id}",
        authoritative=True,
    )
    gift.state, gift.redeemed_at, gift.recipient_member_id = "redeemed", now, member.id
    gift.token_hash = None
    record(
        db,
        GIFT_REDEEMED,
        now=now,
        actor=f"member:{member.id}",
        member_id=member.id,
        key=gift.key,
        source="gift",
        detail=f"gift={gift.id} from member {gift.buyer_member_id}",
    )
    db.flush()
    return Redeemed(member, gift.key, signed_in_now=created)


def _by_token(db: Session, token: str) -> Gift | None:
    if not token:
        return None
    return db.scalar(select(Gift).where(Gift.token_hash == hash_token(token)))


def _usable(gift: Gift, now: dt.datetime) -> bool:
    return gift.state == "sent" and gift.link_expires_at is not None and now < gift.link_expires_at


# ---------------------------------------------------------------- what the buyer sees


def gifts_bought(db: Session, member_id: int) -> list[Gift]:
    """The member's paid gifts (not abandoned checkouts), newest first."""
    return list(
        db.scalars(
            select(Gift)
            .where(Gift.buyer_member_id == member_id, Gift.state != "pending")
            .order_by(Gift.created_at.desc(), Gift.id.desc())
        )
    )


def gift_title(manifest: Manifest | None, key: str, months: int | None, lang: str) -> str:
    """'Demo course' or 'Pro membership' as readers of `lang` call it (the key if gone)."""
    kind, _, name = key.partition(":")
    if manifest is not None and kind == "course" and name in manifest.courses:
        return manifest.courses[name].title
    if manifest is not None and kind == "tier" and name in manifest.tiers:
        return manifest.tiers[name].title_in(lang)
    return name or key


def add_months(start: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` calendar months later (the month's last day when it
    is shorter: Jan 31 + 1 month = Feb 28/29)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def send_gift_mails(pw: Paywall, mails: list[GiftMail]) -> None:
    """The recipients' e-mails, after the commit. A failure is logged (without the
    address), not raised: the gift is paid and stored, and shows as sent on the buyer's
    account."""
    for mail in mails:
        site = site_name(pw)
        lines = [t(mail.lang, "gift.mail_intro", giver=mail.giver, title=mail.title, site=site)]
        if mail.message:
            lines += ["", t(mail.lang, "gift.mail_message"), mail.message]
        lines += ["", t(mail.lang, "gift.mail_link", link=mail.link, days=GIFT_LINK_TTL.days)]
        try:
            pw.mailer.send(
                mail.to,
                t(mail.lang, "gift.mail_subject", title=mail.title, site=site),
                "\n".join(lines),
            )
        except Exception as exc:  # noqa: BLE001 - a mail failure must not fail the webhook
            log.warning(kv("gift.mail_failed", email=mask_email(mail.to), error=type(exc).__name__))
