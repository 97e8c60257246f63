"""Small pure helpers shared by the normalisers: money, times, empty values, addresses."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Iterable, Optional

from .base import NormalizedAddress
from .errors import InvalidPayload


def money(value: Any, field: str = "amount", *, default: Optional[Decimal] = None) -> Optional[Decimal]:
    """Decimal from a decimal string or a JSON number, never through binary float arithmetic.

    Floats (JSON numbers with a fraction, e.g. WooCommerce ``price``) go through ``str()``,
    which gives their shortest repr ("12.99"), not the binary expansion.
    ``None``/``""`` give ``default``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise InvalidPayload(f"{field}: expected an amount, got a boolean {value!r}")
    if isinstance(value, (int, float, Decimal)):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvalidPayload(f"{field}: expected an amount, got {type(value).__name__} {value!r}")
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise InvalidPayload(f"{field}: {value!r} is not an amount") from None
    if not result.is_finite():
        raise InvalidPayload(f"{field}: {value!r} is not a finite amount")
    return result

def money_sum(values: Iterable[Optional[Decimal]]) -> Decimal:
    total = Decimal("0")
    for v in values:
        if v is not None:
            total += v
    return total

UNIT_PRICE_PLACES = 6  # the unit_price column's scale (order_lines)


def unit_price(line_total: Decimal, quantity: int) -> Decimal:
    """A unit price from a line total (Amazon ``ItemPrice``, WooCommerce ``subtotal``).

    Exact whenever the division ends within :data:`UNIT_PRICE_PLACES` decimals ("17.95"/2 ->
    "8.975", "29.97"/3 -> "9.99"); otherwise rounded half-even to that many ("10.00"/3 ->
    "3.333333"). The line total itself is kept beside it (``NormalizedLine.subtotal``): the
    unit price is for display and edits, never summed back into money.
    """
    if quantity <= 0:
        return line_total
    exact = line_total / quantity  # Decimal keeps the ideal exponent: 30.00/3 -> 10.00, 17.95/2 -> 8.975
    rounded = exact.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES), rounding=ROUND_HALF_EVEN)
    return exact if rounded == exact else rounded

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2}|[+-]\d{2})?$"
)

def parse_time(value: Any, field: str = "time", *, naive_is_utc: bool = False,
               required: bool = False) -> Optional[datetime]:
    """Aware UTC datetime from the formats the channels use.

    Accepts ``2008-01-10T11:00:00-05:00`` (Shopify), ``2017-01-20T19:49:35Z`` and ``...35.123Z``
    (SP-API), ``2017-03-22T19:28:02`` (WooCommerce ``*_gmt``: only with ``naive_is_utc=True``,
    because a time without a zone means nothing otherwise), space-separated variants and epoch
    seconds (int/float or digit strings).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidPayload(f"{field}: missing")
        return None
    if isinstance(value, bool):
        raise InvalidPayload(f"{field}: {value!r} is not a time")
    if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(r"\d{9,11}(\.\d+)?", value.strip())):
        try:
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise InvalidPayload(f"{field}: {value!r} is not a time") from None
    if not isinstance(value, str):
        raise InvalidPayload(f"{field}: {value!r} is not a time")
    m = _ISO_RE.match(value.strip())
    if not m:
        raise InvalidPayload(f"{field}: {value!r} is not an ISO 8601 time")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
    except ValueError:
        raise InvalidPayload(f"{field}: {value!r} is not a valid date") from None
    if zone is None:
        if not naive_is_utc:
            raise InvalidPayload(f"{field}: {value!r} has no time zone")
        return dt.replace(tzinfo=timezone.utc)
    if zone in ("Z", "z"):
        return dt.replace(tzinfo=timezone.utc)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)

    offset = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return dt.replace(tzinfo=offset).astimezone(timezone.utc)

def text(value: Any) -> Optional[str]:
    """Stripped string, or None when empty/absent."""
    if value is None:
        return None
    s = str(value).strip()
    return s or None

def email(value: Any) -> Optional[str]:
    return text(value)

def join_name(*parts: Any) -> Optional[str]:
    joined = " ".join(p for p in (text(x) for x in parts) if p)
    return joined or None

def address_or_none(addr: NormalizedAddress) -> Optional[NormalizedAddress]:
    """None when every field is empty (digital goods, WooCommerce's all-empty-strings shipping)."""
    meaningful = (addr.line1, addr.line2, addr.city, addr.postcode, addr.country, addr.name, addr.company)
    return addr if any(meaningful) else None

def as_int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise InvalidPayload(f"{field}: {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InvalidPayload(f"{field}: {value!r} is not an integer")

def require(raw: dict, key: str, what: str) -> Any:
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{what}: expected an object, got {type(raw).__name__}")
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidPayload(f"{what}: missing {key!r}")
    return value


def apportion(exact: list[Decimal], target: Decimal, quantum: Decimal) -> Optional[list[Decimal]]:
    """Round ``exact`` amounts to ``quantum`` so that they add up to ``target`` exactly.

    Largest remainder: every amount is rounded down, and the units of ``quantum`` still
    missing go to the amounts that lost most (ties: the earlier one). This is how the line
    taxes of an order that rounds its tax once, on the sum (WooCommerce's default), become
    cents that add up to the order's tax. None when no rounding of the amounts can reach
    the target (a target off by more than one unit per amount: the amounts are not its parts).
    """
    if not exact:
        return [] if target == 0 else None
    floors = [x.quantize(quantum, rounding=ROUND_FLOOR) for x in exact]
    missing = (target - sum(floors, Decimal("0"))) / quantum
    if missing != missing.to_integral_value() or not 0 <= missing <= len(exact):
        return None
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    result = list(floors)
    for i in order[: int(missing)]:
        result[i] += quantum
    return result
