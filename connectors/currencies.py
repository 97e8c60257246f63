"""ISO 4217 minor units: how many decimals each currency's amounts have.

The one table every connector, the sandbox and the views use. Most currencies have two; the
exceptions below are the ones ISO 4217 lists with zero, three or four (the list of 2024,
amendment 177). A code we do not know gets two, the common case.
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Optional

DEFAULT_MINOR_UNITS = 2

MINOR_UNITS: dict[str, int] = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # thousandths
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # units of account with four
    "CLF": 4, "UYW": 4,
}

# Money columns keep this many decimals: enough for every currency above.
MAX_MINOR_UNITS = max(MINOR_UNITS.values())


def minor_units(currency: Optional[str]) -> int:
    return MINOR_UNITS.get((currency or "").strip().upper(), DEFAULT_MINOR_UNITS)


def quantum(currency: Optional[str]) -> Decimal:
    """The smallest amount of a currency: Decimal("0.01"), ("1") for JPY, ("0.001") for KWD."""
    return Decimal(1).scaleb(-minor_units(currency))


def round_to_currency(amount: Decimal, currency: Optional[str], rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return amount.quantize(quantum(currency), rounding=rounding)


def from_minor(value: int | str, currency: Optional[str]) -> Decimal:
    """An amount given in the currency's minor units (e.g. 1995 -> 19.95 USD, 1995 -> 1995 JPY)."""
    return (Decimal(int(value)).scaleb(-minor_units(currency))).quantize(quantum(currency))


def is_exact(amount: Decimal, currency: Optional[str]) -> bool:
    """Whether ``amount`` has no more decimals than the currency has."""
    return amount == amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN)
