"""Column types and small helpers shared by every domain's models."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, Numeric, String, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

class Money(TypeDecorator):
    """An amount of money: four decimals stored, enough for every ISO 4217 currency
    (``connectors.currencies``: JPY has none, KWD three, CLF four).

    Read back with two decimals whenever that is exact ("12.50", "1995.00"), so that amounts
    look as they always did, and with their own decimals otherwise ("12.345" KWD, a unit price
    of "8.975" for a line of 17.95 for 2): never rounded on the way in or out.
    """

    impl = Numeric(16, 4, asdecimal=True)
    cache_ok = True
    # Serialisers that read the column's scale (marshmallow-sqlalchemy's Decimal ``places``,
    # through the decorator's proxy to ``impl``) would print "24.9800": an amount keeps the
    # decimals it was read with. (The database column keeps its scale: that is ``impl``'s.)
    scale = None

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value) if not isinstance(value, Decimal) else value
        cents = value.quantize(_CENT)
        return cents if cents == value else _trim(value)


class UnitPrice(Money):
    """A unit price derived from a channel's line total (17.95 for 2 is 8.975 each): six
    decimals, so that a unit price times its quantity gives the line total back."""

    impl = Numeric(18, 6, asdecimal=True)
    cache_ok = True


_CENT = Decimal("0.01")


def _trim(value: Decimal) -> Decimal:
    """1.234500 -> 1.2345 (no exponent notation, no trailing zeros beyond the cents)."""
    text = f"{value:f}".rstrip("0")
    return Decimal(text)


MONEY = Money()
UNIT_PRICE = UnitPrice()
RATE = Numeric(18, 8, asdecimal=True)
CURRENCY = String(3)


_clock: ContextVar[datetime | None] = ContextVar("waybill_clock", default=None)


def utcnow() -> datetime:
    """Now, in UTC; ``clock_at`` can set it (demo history, tests of time-based rules)."""
    return _clock.get() or datetime.now(timezone.utc)


@contextmanager
def clock_at(moment: datetime):
    token = _clock.set(moment)
    try:
        yield
    finally:
        _clock.reset(token)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are kept as
    naive UTC there and given back their UTC zone when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Waybill stores aware UTC times only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def status_check(column: str, values, name: str | None = None) -> CheckConstraint:
    """A CHECK constraint restricting a string column to a fixed set of values."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name or f"{column}_valid")


def non_negative(*columns: str) -> list[CheckConstraint]:
    return [CheckConstraint(f"{c} >= 0", name=f"{c}_non_negative") for c in columns]


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


def money(value) -> Decimal:
    """Decimal rounded to cents; accepts str/int/Decimal (never a float by design)."""
    return Decimal(str(value)).quantize(Decimal("0.01"))
