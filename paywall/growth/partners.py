"""Partners: opinion leaders and distributors who sell with their own price and earn a
commission.

`kp partners add NAME --discount 20 --commission 10` creates, through the official SDK, a
Stripe coupon (20 % off) and a promotion code for it (`ALICE20`), and stores the partner with
a referral link (`?ref=p-alice20`). A paid checkout is the partner's when it used their
promotion code, or came through their link (the form carried `ref`), or was made by a member
who signed up through their link. Each such sale books a commission in an append-only
ledger; a refund or dispute books a reversal, so the report nets them out. Subscriptions earn
the commission on every paid invoice: see `paywall.growth.partner_subscriptions`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import secrets
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paywall.billing import stripe_objects as so
from paywall.database.models import (
    Member,
    Partner,
    PartnerLedger,
    PartnerMember,
    Seller,
    StripeEvent,
)
from paywall.database.upsert import insert_if_absent
from paywall.growth.referrals import normalize_ref
from paywall.runtime.context import Paywall
from paywall.runtime.logs import get_logger, kv

log = get_logger("paywall.growth.partners")

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,39}$")
META_PARTNER = "kp_partner"


class PartnerError(ValueError):
    """Bad partner input (name, code, percentages) or a clash with an existing partner."""


# ---------------------------------------------------------------- percentages


def basis_points(value: str | float | Decimal, what: str, *, allow_zero: bool) -> int:
    """`20` or `12.5` (percent) as basis points (2000, 1250); at most two decimals."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise PartnerError(f"--{what}: {value!r} is not a number (a percentage like 20)") from None
    exponent = number.as_tuple().exponent  # a letter, not a number, for NaN and infinity
    if not isinstance(exponent, int) or exponent < -2:
        raise PartnerError(f"--{what}: {value} has more than two decimals")
    low = 0 if allow_zero else Decimal("0.01")
    if not low <= number <= 100:
        bound = "0" if allow_zero else "more than 0"
        raise PartnerError(f"--{what}: {value} is not a percentage between {bound} and 100")
    return int(number * 100)


def percent(bp: int) -> str:
    """Basis points as a percentage for people: 2000 → '20%', 1250 → '12.5%'."""
    text = f"{Decimal(bp) / 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


# ---------------------------------------------------------------- creating partners


def default_code(name: str, discount_bp: int) -> str:
    """`Alice Chen`, 20 % → `ALICECHEN20`; a name without Latin letters gets a random stem."""
    stem = re.sub(r"[^A-Z0-9]+", "", name.upper())[:24]
    if len(stem) < 2:
        stem = "P" + secrets.token_hex(3).upper()
    whole = discount_bp // 100
    return f"{stem}{whole}" if discount_bp % 100 == 0 else f"{stem}{whole}-{discount_bp % 100}"


@dataclass(frozen=True)
class NewPartner:
    name: str
    code: str
    ref_code: str
    discount_bp: int
    commission_bp: int


def check_new_partner(
    db: Session,
    name: str,
    discount: str | float,
    commission: str | float,
    code: str | None = None,
) -> NewPartner:
    """Validate everything (and that nothing clashes) before anything is created in Stripe."""
    clean_name = " ".join((name or "").split())
    if not clean_name:
        raise PartnerError("NAME: a partner needs a name")
    if len(clean_name) > 200:
        raise PartnerError("NAME: longer than 200 characters")
    discount_bp = basis_points(discount, "discount", allow_zero=False)
    commission_bp = basis_points(commission, "commission", allow_zero=True)
    chosen = (code or default_code(clean_name, discount_bp)).strip().upper()
    if not CODE_RE.match(chosen):
        raise PartnerError(
            f"--code: {chosen!r} must be 3-40 letters, digits or dashes, starting with a "
            "letter or digit (what buyers type at checkout)"
        )
    ref_code = normalize_ref(f"p-{chosen.lower()}")
    if ref_code is None:  # pragma: no cover - CODE_RE admits only valid ref characters
        raise PartnerError(f"--code: {chosen!r} cannot be used in a referral link")
    clashes = {
        "name": db.scalar(select(Partner.id).where(func.lower(Partner.name) == clean_name.lower())),
        "code": db.scalar(select(Partner.id).where(Partner.promotion_code == chosen)),
        "referral link": db.scalar(select(Partner.id).where(Partner.ref_code == ref_code)),
    }
    for what, found in clashes.items():
        if found is not None:
            raise PartnerError(
                f"a partner with this {what} exists already ({clean_name!r}, {chosen})"
            )
    return NewPartner(clean_name, chosen, ref_code, discount_bp, commission_bp)


def create_partner(pw: Paywall, new: NewPartner) -> Partner:
    """Coupon + promotion code in Stripe (official SDK), then the partner row. If storing the
    row fails, the promotion code is deactivated so no orphan code keeps selling."""
    client = pw.stripe().v1
    meta = {META_PARTNER: new.name[:500]}
    coupon = so.as_dict(
        client.coupons.create(
            {
                "percent_off": float(Decimal(new.discount_bp) / 100),
                "duration": "once",
                "name": f"{new.name[:30]} {percent(new.discount_bp)}"[:40],
                "metadata": meta,
            }
        )
    )
    promo = so.as_dict(
        client.promotion_codes.create(
            {
                "promotion": {"type": "coupon", "coupon": str(coupon["id"])},
                "code": new.code,
                "metadata": meta,
            }
        )
    )
    try:
        with pw.sessions.begin() as db:
            partner = Partner(
                name=new.name,
                ref_code=new.ref_code,
                promotion_code=new.code,
                promotion_code_id=str(promo["id"]),
                coupon_id=str(coupon["id"]),
                discount_bp=new.discount_bp,
                commission_bp=new.commission_bp,
                active=True,
                created_at=pw.now(),
            )
            db.add(partner)
            db.flush()
    except Exception:
        client.promotion_codes.update(str(promo["id"]), {"active": False})
        raise
    log.info(kv("partner.created", partner=partner.id, code=new.code))
    return partner


def list_partners(db: Session) -> list[Partner]:
    return list(db.scalars(select(Partner).order_by(Partner.created_at, Partner.id)))


def partner_for_ref(db: Session, ref: str | None) -> Partner | None:
    code = normalize_ref(ref)
    if code is None or not code.startswith("p-"):
        return None
    return db.scalar(select(Partner).where(Partner.ref_code == code))


def link_member(db: Session, member: Member, partner: Partner, now: dt.datetime) -> bool:
    """Remember that a member signed up through the partner's link (first partner wins)."""
    return insert_if_absent(
        db,
        PartnerMember.__table__,
        {"member_id": member.id, "partner_id": partner.id, "at": now},
        ["member_id"],
    )


# ---------------------------------------------------------------- attribution


def promotion_code_ids(session: dict[str, Any]) -> list[str]:
    """Promotion codes a Checkout Session used: `discounts[]` (and, when expanded,
    `total_details.breakdown.discounts[].discount`)."""
    found = []
    for entry in session.get("discounts") or []:
        if isinstance(entry, dict) and so.object_id(entry.get("promotion_code")):
            found.append(str(so.object_id(entry.get("promotion_code"))))
    breakdown = (session.get("total_details") or {}).get("breakdown") or {}
    for entry in breakdown.get("discounts") or []:
        discount = entry.get("discount") if isinstance(entry, dict) else None
        if isinstance(discount, dict) and so.object_id(discount.get("promotion_code")):
            found.append(str(so.object_id(discount.get("promotion_code"))))
    return found


def partner_for_checkout(
    db: Session, session: dict[str, Any], member: Member | None
) -> tuple[Partner, str] | None:
    """The partner a paid checkout belongs to, and why: their promotion code first (the
    buyer typed it), then their link (`kp_ref` metadata from the form), then the buyer's
    sign-up through their link."""
    for promo_id in promotion_code_ids(session):
        partner = db.scalar(select(Partner).where(Partner.promotion_code_id == promo_id))
        if partner is not None:
            return partner, "promotion_code"
    partner = partner_for_ref(db, so.metadata(session).get("kp_ref"))
    if partner is not None:
        return partner, "ref_link"
    if member is not None:
        partner = db.scalar(
            select(Partner)
            .join(PartnerMember, PartnerMember.partner_id == Partner.id)
            .where(PartnerMember.member_id == member.id)
        )
        if partner is not None:
            return partner, "member"
    return None


def commission_on(amount: int, commission_bp: int) -> int:
    """Commission in minor units, rounded half up (1234 at 10 % → 123)."""
    exact = Decimal(amount) * commission_bp / Decimal(10_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def record_sale(
    db: Session,
    partner: Partner,
    how: str,
    session: dict[str, Any],
    member: Member | None,
    product_key: str,
    *,
    event_id: str,
    at: dt.datetime,
) -> PartnerLedger | None:
    """Book the commission of a paid checkout once (keyed by the session id), then any
    refund or dispute of its payment that arrived before it. None if booked already."""
    total = int(session.get("amount_total") or 0)
    subtotal = int(session.get("amount_subtotal") or total)
    details = session.get("total_details") or {}
    inserted = insert_if_absent(
        db,
        PartnerLedger.__table__,
        {
            "partner_id": partner.id,
            "kind": "sale",
            "attribution": how,
            "checkout_session_id": str(session["id"]),
            "payment_intent": so.object_id(session.get("payment_intent")),
            "member_id": member.id if member else None,
            "product_key": product_key,
            "currency": str(session.get("currency") or "usd").lower(),
            "amount_subtotal": subtotal,
            "amount_discount": int(details.get("amount_discount") or subtotal - total),
            "amount_total": total,
            "commission": commission_on(total, partner.commission_bp),
            "refunded_total": 0,
            "event_id": event_id,
            "at": at,
        },
        ["checkout_session_id", "kind", "refunded_total"],
    )
    if not inserted:
        return None
    sale = _sale(db, str(session["id"]))
    log.info(kv("partner.sale", partner=partner.id, session=session["id"], how=how))
    if sale is not None and sale.payment_intent:
        apply_earlier_reversals(db, sale, at)
    return sale


def _sale(db: Session, checkout_session_id: str) -> PartnerLedger | None:
    return db.scalar(
        select(PartnerLedger).where(
            PartnerLedger.checkout_session_id == checkout_session_id,
            PartnerLedger.kind == "sale",
        )
    )


def apply_earlier_reversals(db: Session, sale: PartnerLedger, at: dt.datetime) -> None:
    """A refund or dispute delivered before the sale's event (Stripe does not promise
    order): the stored events of the same payment intent are booked now."""
    if not sale.payment_intent:
        return
    rows = db.scalars(
        select(StripeEvent)
        .where(
            StripeEvent.related_id == sale.payment_intent,
            StripeEvent.type.in_(("charge.refunded", "charge.dispute.created")),
        )
        .order_by(StripeEvent.created)
    ).all()
    for row in rows:
        obj = row.payload["data"]["object"]
        reverse_payment(db, obj, row.type, event_id=row.id, at=at)


def refunded_amount(obj: dict[str, Any], event_type: str) -> tuple[int, int] | None:
    """(refunded so far, charge amount) of a charge.refunded / dispute object."""
    amount = obj.get("amount")
    if not isinstance(amount, int) or amount <= 0:
        return None
    if event_type == "charge.dispute.created":
        return amount, amount  # the whole disputed amount is clawed back
    refunded = obj.get("amount_refunded")
    if obj.get("refunded") is True and not isinstance(refunded, int):
        refunded = amount
    if not isinstance(refunded, int) or refunded <= 0:
        return None
    return min(refunded, amount), amount


def reverse_payment(
    db: Session, obj: dict[str, Any], event_type: str, *, event_id: str, at: dt.datetime
) -> PartnerLedger | None:
    """Book the reversal a refund (full or partial, cumulative) or dispute calls for: the
    share of the sale's commission matching the share of the payment refunded, minus what
    earlier reversals took back. Idempotent per cumulative refunded amount."""
    payment_intent = so.object_id(obj.get("payment_intent"))
    sale = _sale_by_payment(db, payment_intent) or _sale_by_invoice(
        db, so.object_id(obj.get("invoice"))
    )
    amounts = refunded_amount(obj, event_type)
    if sale is None or amounts is None:
        return None
    refunded, paid = amounts
    earlier = db.execute(
        select(
            func.coalesce(func.sum(PartnerLedger.commission), 0),
            func.coalesce(func.max(PartnerLedger.refunded_total), 0),
        ).where(_same_sale(sale), PartnerLedger.kind == "reversal")
    ).one()
    reversed_so_far, refunded_before = -int(earlier[0]), int(earlier[1])
    if refunded <= refunded_before:
        return None  # this refund step (or a later one) is booked already
    share = (Decimal(sale.commission) * refunded / paid).quantize(Decimal(1), ROUND_HALF_UP)
    target = min(sale.commission, int(share))
    inserted = insert_if_absent(
        db,
        PartnerLedger.__table__,
        {
            "partner_id": sale.partner_id,
            "kind": "reversal",
            "attribution": sale.attribution,
            "checkout_session_id": sale.checkout_session_id,
            "invoice_id": sale.invoice_id,
            "subscription_id": sale.subscription_id,
            "payment_intent": sale.payment_intent,
            "member_id": sale.member_id,
            "product_key": sale.product_key,
            "currency": sale.currency,
            "amount_subtotal": 0,
            "amount_discount": 0,
            "amount_total": -(refunded - refunded_before),
            "commission": -max(0, target - reversed_so_far),
            "refunded_total": refunded,
            "event_id": event_id,
            "at": at,
        },
        [_booking_key(sale), "kind", "refunded_total"],
    )
    if not inserted:
        return None
    log.info(kv("partner.reversal", partner=sale.partner_id, payment=payment_intent))
    return db.scalar(
        select(PartnerLedger).where(
            _same_sale(sale),
            PartnerLedger.kind == "reversal",
            PartnerLedger.refunded_total == refunded,
        )
    )


def _booking_key(sale: PartnerLedger) -> str:
    """What a sale's entries are keyed by: its invoice (subscription payments) or its
    Checkout Session (one-time purchases)."""
    return "invoice_id" if sale.invoice_id else "checkout_session_id"


def _same_sale(sale: PartnerLedger) -> Any:
    if sale.invoice_id:
        return PartnerLedger.invoice_id == sale.invoice_id
    return PartnerLedger.checkout_session_id == sale.checkout_session_id


def _sale_by_invoice(db: Session, invoice_id: str | None) -> PartnerLedger | None:
    """Fallback for API versions whose charges name their invoice (`charge.invoice`)."""
    if not invoice_id:
        return None
    return db.scalar(
        select(PartnerLedger).where(
            PartnerLedger.invoice_id == invoice_id, PartnerLedger.kind == "sale"
        )
    )


def _sale_by_payment(db: Session, payment_intent: str | None) -> PartnerLedger | None:
    if not payment_intent:
        return None
    return db.scalar(
        select(PartnerLedger).where(
            PartnerLedger.payment_intent == payment_intent, PartnerLedger.kind == "sale"
        )
    )


# ---------------------------------------------------------------- the report


def month_range(month: str) -> tuple[dt.datetime, dt.datetime]:
    """`2026-11` → [2026-11-01, 2026-12-01) in UTC; a clear error for anything else."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise PartnerError(f"--month: {month!r} is not a month like 2026-11")
    year, mon = int(match.group(1)), int(match.group(2))
    start = dt.datetime(year, mon, 1, tzinfo=dt.UTC)
    days = calendar.monthrange(year, mon)[1]
    return start, start + dt.timedelta(days=days)


@dataclass
class ReportLine:
    """One partner in one currency over the report's period."""

    partner: str
    code: str
    commission_rate: str
    currency: str
    sales: int = 0
    gross: int = 0
    discounts: int = 0
    net: int = 0
    commission: int = 0
    refunds: int = 0
    refunded_amount: int = 0
    commission_reversed: int = 0
    entries: list[int] = field(default_factory=list)

    @property
    def owed(self) -> int:
        return self.commission - self.commission_reversed


def report(
    db: Session, *, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> list[ReportLine]:
    """Sales, discounts, commission and refunds per partner (and currency) for the entries
    booked in [start, end): a refund booked in a later month is deducted in that month."""
    stmt = select(PartnerLedger, Partner).join(Partner, Partner.id == PartnerLedger.partner_id)
    if start is not None:
        stmt = stmt.where(PartnerLedger.at >= start)
    if end is not None:
        stmt = stmt.where(PartnerLedger.at < end)
    lines: dict[tuple[int, str], ReportLine] = {}
    names = seller_names(db)
    for partner in list_partners(db):
        lines[(partner.id, "")] = _line(partner, "", names)
    for entry, partner in db.execute(stmt.order_by(PartnerLedger.at, PartnerLedger.id)).all():
        key = (partner.id, entry.currency)
        line = lines.get(key) or lines.pop((partner.id, ""), None) or _line(partner, "", names)
        line.currency = entry.currency
        lines[key] = line
        _add(line, entry)
    return sorted(lines.values(), key=lambda ln: (ln.partner.lower(), ln.currency))


def seller_names(db: Session) -> dict[int, str]:
    """Member-sellers' partner rows (paywall.growth.sellers) by id, named for the report
    by the member's address as it is now (an erased account has none)."""
    rows = db.execute(
        select(Seller.partner_id, Member.email).join(Member, Member.id == Seller.member_id)
    )
    return {partner_id: f"{email} (seller)" for partner_id, email in rows}


def _line(partner: Partner, currency: str, names: dict[int, str]) -> ReportLine:
    return ReportLine(
        names.get(partner.id, partner.name),
        partner.promotion_code,
        percent(partner.commission_bp),
        currency,
    )


def _add(line: ReportLine, entry: PartnerLedger) -> None:
    line.entries.append(entry.id)
    if entry.kind == "sale":
        line.sales += 1
        line.gross += entry.amount_subtotal
        line.discounts += entry.amount_discount
        line.net += entry.amount_total
        line.commission += entry.commission
    else:
        line.refunds += 1
        line.refunded_amount += -entry.amount_total
        line.commission_reversed += -entry.commission
