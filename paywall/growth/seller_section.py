"""The account page's part for a member-seller (`paywall.growth.sellers`): what their
invite link sold, the commission it earned, and how much of it is paid out and how much
is pending (`partners.paid_through`, set by `kp partners paid`), per currency; refunds and
disputes are deducted as the partner ledger books them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kp_contract.money import display_price
from paywall.database.models import Member, Partner, PartnerLedger
from paywall.growth.partners import percent
from paywall.growth.sellers import seller_of, seller_tier
from paywall.runtime.context import Paywall
from paywall.runtime.lang import t
from paywall.runtime.pages import esc


@dataclass
class SalesLine:
    """A seller's sales in one currency."""

    currency: str
    sales: int = 0
    sold: int = 0
    commission: int = 0
    paid: int = 0

    @property
    def pending(self) -> int:
        return self.commission - self.paid


def sales_lines(db: Session, partner: Partner) -> list[SalesLine]:
    """Sales (net of refunds) and commission per currency; commission booked before the
    partner's `paid_through` counts as paid."""
    lines: dict[str, SalesLine] = {}
    paid_through: dt.datetime | None = partner.paid_through
    rows = db.scalars(
        select(PartnerLedger)
        .where(PartnerLedger.partner_id == partner.id)
        .order_by(PartnerLedger.at)
    )
    for entry in rows:
        line = lines.setdefault(entry.currency, SalesLine(entry.currency))
        line.sales += 1 if entry.kind == "sale" else 0
        line.sold += entry.amount_total
        line.commission += entry.commission
        if paid_through is not None and entry.at < paid_through:
            line.paid += entry.commission
    return sorted(lines.values(), key=lambda line: line.currency)


def seller_section(pw: Paywall, member: Member, lang: str) -> str:
    """'Your sales': for a seller (or a member who was one), else nothing."""
    with pw.sessions() as db:
        tier = seller_tier(db, pw.manifest(), member, pw.now())
        partner = seller_of(db, member.id)
        lines = sales_lines(db, partner) if partner is not None else []
    if tier is None and partner is None:
        return ""
    parts = [f'<h2 id="sales">{esc(t(lang, "sellers.title"))}</h2>']
    if tier is not None:
        rate = percent(tier.seller_commission_bp or 0)
        parts.append(f"<p>{esc(t(lang, 'sellers.intro', tier=tier.title_in(lang), rate=rate))}</p>")
    else:
        parts.append(f"<p>{esc(t(lang, 'sellers.ended'))}</p>")
    if not lines:
        parts.append(f'<p class="kp-sales-none">{esc(t(lang, "sellers.none"))}</p>')
        return "".join(parts)
    head = "".join(
        f"<th>{esc(t(lang, f'sellers.th_{name}'))}</th>"
        for name in ("sales", "sold", "commission", "pending", "paid")
    )
    body = "".join(
        f"<tr><td>{line.sales}</td><td>{esc(display_price(line.sold, line.currency))}</td>"
        f"<td>{esc(display_price(line.commission, line.currency))}</td>"
        f"<td>{esc(display_price(line.pending, line.currency))}</td>"
        f"<td>{esc(display_price(line.paid, line.currency))}</td></tr>"
        for line in lines
    )
    parts.append(
        f'<table class="kp-sales"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )
    return "".join(parts)
