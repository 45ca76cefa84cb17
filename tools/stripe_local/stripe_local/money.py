"""Amounts in minor units, shown the way people read them, and billing-period arithmetic."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

#: Currencies whose amounts Stripe takes in whole units.
ZERO_DECIMAL = frozenset({"jpy", "krw", "vnd", "clp", "pyg", "ugx", "xaf", "xof"})
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cny": "¥", "jpy": "¥", "hkd": "HK$"}


def format_amount(amount: int, currency: str) -> str:
    """`1999, "usd"` → `$19.99`; `1000, "jpy"` → `¥1,000`."""
    code = currency.lower()
    symbol = _SYMBOLS.get(code)
    number = f"{amount:,}" if code in ZERO_DECIMAL else f"{amount / 100:,.2f}"
    return f"{symbol}{number}" if symbol else f"{number} {code.upper()}"


def format_interval(recurring: dict | None) -> str:
    """`{"interval": "month", "interval_count": 1}` → `month`; count 3 → `3 months`."""
    if not recurring:
        return ""
    count = recurring.get("interval_count") or 1
    return recurring["interval"] if count == 1 else f"{count} {recurring['interval']}s"


def shift(anchor: int, interval: str, count: int) -> int:
    """`anchor` moved by `count` intervals; months keep the anchor's day where they can
    (Jan 31 → Feb 28 → Mar 31), as Stripe's billing cycle anchor does."""
    if interval == "day":
        return anchor + 86_400 * count
    if interval == "week":
        return anchor + 7 * 86_400 * count
    months = count * (12 if interval == "year" else 1)
    start = datetime.fromtimestamp(anchor, UTC)
    years, month_index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month_index + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def format_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%d %b %Y")
