"""Column types and small helpers shared by every domain's models."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, Numeric, String, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

MONEY = Numeric(14, 2, asdecimal=True)
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
