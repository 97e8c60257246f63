"""Ship-by without the channel's promise: ``ship_by_days`` business days after the order's day,
the day itself counting when the order came before the cut-off hour (``sla_cutoff_hour``), in
the time zone of the first warehouse (by priority) and skipping its holidays (DESIGN.md
"Fulfilment" SLA). The channel's own promise (Amazon's ship-by window, LatestShipDate) wins.

The days and the cut-off are the shop's settings unless the channel says otherwise: its days
for the order's shipping method (``ship_by_methods``, matched without case), else its own
``ship_by_days``; its ``sla_cutoff_hour``."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Warehouse
from app.services.core import settings


def _zone(name: str | None) -> ZoneInfo | timezone:
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def business_ship_by(placed_at: datetime, days: int, cutoff_hour: int, zone_name: str | None = None,
                     holidays=()) -> datetime:
    """The cut-off hour of the business day ``days`` working days after the order's day (that
    day itself is day 0 when the order came before the cut-off), local time, in UTC."""
    zone = _zone(zone_name)
    local = placed_at.astimezone(zone)
    off = {date.fromisoformat(str(h)) for h in holidays or ()}

    def next_working(d: date) -> date:
        d += timedelta(days=1)
        while d.weekday() >= 5 or d in off:
            d += timedelta(days=1)
        return d

    day = local.date()
    if local.hour >= cutoff_hour or day.weekday() >= 5 or day in off:
        day = next_working(day)
    for _ in range(days):
        day = next_working(day)
    return datetime.combine(day, time(cutoff_hour), zone).astimezone(timezone.utc)


class Calendar:
    """The settings and the warehouse calendar, read once (a page of imports shares one)."""

    def __init__(self, session: Session):
        values = settings.get_many(session, ("ship_by_days", "sla_cutoff_hour"))
        self.days, self.cutoff = values["ship_by_days"], values["sla_cutoff_hour"]
        warehouse = session.scalar(select(Warehouse).where(Warehouse.active.is_(True))
                                   .order_by(Warehouse.priority, Warehouse.id).limit(1))
        self.zone = warehouse.timezone if warehouse else None
        self.holidays = (warehouse.holidays or []) if warehouse else []

    def ship_by(self, placed_at: datetime, channel=None, shipping_method: str | None = None) -> datetime:
        days, cutoff = self.rules(channel, shipping_method)
        return business_ship_by(placed_at, days, cutoff, self.zone, self.holidays)

    def rules(self, channel=None, shipping_method: str | None = None) -> tuple[int, int]:
        """(business days, cut-off hour) for an order of ``channel`` shipped by ``shipping_method``."""
        if channel is None:
            return self.days, self.cutoff
        methods = {str(k).strip().casefold(): v for k, v in (channel.ship_by_methods or {}).items()}
        days = methods.get((shipping_method or "").strip().casefold())
        if days is None:
            days = channel.ship_by_days if channel.ship_by_days is not None else self.days
        cutoff = channel.sla_cutoff_hour if channel.sla_cutoff_hour is not None else self.cutoff
        return days, cutoff
