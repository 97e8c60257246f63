"""Support search: one box that finds orders (order number, channel order id, e-mail,
customer name, tracking number) and customers (e-mail, name).

Exact matches on indexed keys first; names by case-insensitive prefix on an expression
index. Every query is bounded (``limit``), so it stays fast at any table size.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..models import Customer, Order, Shipment

MAX_QUERY = 200


@dataclass
class SearchResult:
    query: str
    orders: list[Order] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.orders) + len(self.customers)

    @property
    def single(self):
        """The one hit, when there is exactly one (the UI goes straight to it)."""
        if self.total == 1:
            return (self.orders or self.customers)[0]
        return None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, query: str, limit: int = 50) -> SearchResult:
    q = (query or "").strip()[:MAX_QUERY]
    result = SearchResult(query=q)
    if not q:
        return result
    lowered = q.lower()
    prefix = _escape_like(lowered) + "%"
    number = q.lstrip("#")
    order_ids = select(Order.id).where(or_(
        Order.order_number == q, Order.order_number == number,
        Order.order_number == "#" + number,  # "1001" finds the channel's "#1001"
        Order.external_id == number,
        func.lower(Order.email) == lowered,
        func.lower(Order.customer_name).like(prefix, escape="\\"),
    )).limit(limit)
    tracked = select(Shipment.order_id).where(Shipment.tracking_number == q).limit(limit)
    result.orders = session.scalars(
        select(Order).where(or_(Order.id.in_(order_ids), Order.id.in_(tracked)))
        .options(selectinload(Order.channel), selectinload(Order.holds))
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit)
    ).all()
    result.customers = session.scalars(
        select(Customer).where(or_(Customer.email == lowered,
                                   func.lower(Customer.name).like(prefix, escape="\\")))
        .order_by(Customer.name, Customer.id).limit(limit)
    ).all()
    return result
