"""What the returns pages read: the returns list with filters (reason, state, channel, age:
returns expected but not arrived after N days), a customer's returns and return rate."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.models import Order, OrderLine, Refund, Return, ReturnLine
from app.models.base import utcnow
from app.services.core import settings

AWAITED = ("authorized", "in_transit")  # expected at the warehouse


def search(session: Session, *, reason: str | None = None, status: str | None = None,
           channel_id: int | None = None, overdue: bool = False, limit: int = 200) -> list[Return]:
    query = (select(Return).join(Order, Order.id == Return.order_id)
             .options(joinedload(Return.order).joinedload(Order.channel),
                      selectinload(Return.lines).joinedload(ReturnLine.line), selectinload(Return.refunds))
             .order_by(Return.id.desc()).limit(limit))
    if reason:
        query = query.where(Return.id.in_(select(ReturnLine.return_id).where(ReturnLine.reason_code == reason)))
    if status:
        query = query.where(Return.status == status)
    if channel_id:
        query = query.where(Order.channel_id == channel_id)
    if overdue:
        days = settings.get(session, "return_expected_days")
        since = func.coalesce(Return.authorized_at, Return.created_at)
        query = query.where(Return.status.in_(AWAITED), since < utcnow() - timedelta(days=days))
    return list(session.scalars(query).unique())


@dataclass
class CustomerReturns:
    returns: list
    refunds: list
    units_shipped: int
    units_returned: int

    @property
    def rate(self) -> Decimal | None:
        """Units returned per unit shipped, in percent."""
        if not self.units_shipped:
            return None
        return (Decimal(self.units_returned) * 100 / self.units_shipped).quantize(Decimal("0.1"))


def for_customer(session: Session, customer_id: int) -> CustomerReturns:
    orders = select(Order.id).where(Order.customer_id == customer_id)
    shipped, returned = session.execute(select(func.coalesce(func.sum(OrderLine.quantity_shipped), 0),
                                               func.coalesce(func.sum(OrderLine.quantity_returned), 0))
                                        .where(OrderLine.order_id.in_(orders))).one()
    rows = session.scalars(select(Return).where(Return.order_id.in_(orders)).order_by(Return.id.desc())
                           .options(joinedload(Return.order)).limit(100)).all()
    refunds = session.scalars(select(Refund).where(Refund.order_id.in_(orders)).order_by(Refund.id.desc())
                              .options(joinedload(Refund.order)).limit(100)).all()
    return CustomerReturns(list(rows), list(refunds), int(shipped), int(returned))
