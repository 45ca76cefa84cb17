"""Money in Stripe's minor units, shared by the build (prices on pages) and the paywall (reports).

One list of zero-decimal currencies for both halves, so a yen price and a yen commission are
never read a hundred times apart.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Stripe's zero-decimal currencies: the amount is already in the smallest unit.
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
SYMBOLS = {
    "usd": "$",
    "cny": "¥",
    "jpy": "¥",
    "eur": "€",
    "gbp": "£",
    "cad": "CA$",
    "aud": "A$",
    "hkd": "HK$",
    "sgd": "S$",
    "twd": "NT$",
    "krw": "₩",
    "inr": "₹",
}


def to_minor_units(price: float | int | Decimal, currency: str) -> int:
    """49 usd → 4900; 1000 jpy → 1000."""
    value = Decimal(str(price))
    if currency.lower() not in ZERO_DECIMAL:
        value *= 100
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def display_price(amount: int, currency: str) -> str:
    """4900 usd → '$49'; 4950 usd → '$49.50'; 9900 cny → '¥99'; unknown → '49 CHF'."""
    code = currency.lower()
    if code in ZERO_DECIMAL:
        number = f"{amount:,}"
    else:
        major = Decimal(amount) / 100
        number = f"{major:,.0f}" if amount % 100 == 0 else f"{major:,.2f}"
    symbol = SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number} {code.upper()}"


def plain_amount(amount: int, currency: str) -> str:
    """Minor units as a plain number for reports and CSV: 4900 usd -> '49.00', 500 jpy -> '500'."""
    if currency.lower() in ZERO_DECIMAL:
        return f"{amount}"
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100}.{abs(amount) % 100:02d}"
