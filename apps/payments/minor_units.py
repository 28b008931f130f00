"""Amounts in a currency's minor units (what payment providers speak), converted exactly.

Stripe counts USD in cents, JPY in yen and KWD in fils; an amount that does not convert exactly
(12.345 USD, 10.50 JPY) is refused rather than rounded.
"""

from decimal import Decimal

# Stripe's zero-decimal and three-decimal currencies; every other currency has two decimals.
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


def exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_minor(amount: Decimal, currency: str) -> int:
    """12.34 USD -> 1234. ValueError when the amount has more precision than the currency."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def from_minor(units: int, currency: str) -> Decimal:
    """1234 USD -> Decimal("12.34"), with the currency's places (two for USD)."""
    places = exponent(currency)
    return (Decimal(units).scaleb(-places)).quantize(Decimal(1).scaleb(-max(places, 2)))
