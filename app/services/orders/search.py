"""Support search: one box that finds orders (order number, channel order id, e-mail,
customer name, tracking number) and customers (e-mail, name).

Exact matches on indexed keys first; names by case-insensitive prefix on an expression
index. Every query is bounded (``limit``), so it stays fast at any table size.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.models import Customer, Order, Shipment

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


def _prefix_of(column, lowered: str):
    """lower(column) starts with ``lowered``, written as an index range (both SQLite and
    PostgreSQL use the expression index for it; LIKE alone would scan) plus the LIKE
    itself, which keeps the answer exact under any collation."""
    upper = lowered[:-1] + chr(ord(lowered[-1]) + 1)
    expression = func.lower(column)
    return and_(expression >= lowered, expression < upper,
                expression.like(_escape_like(lowered) + "%", escape="\\"))


def search(session: Session, query: str, limit: int = 50) -> SearchResult:
    q = (query or "").strip()[:MAX_QUERY]
    result = SearchResult(query=q)
    if not q:
        return result
    lowered = q.lower()
    number = q.lstrip("#")
    # Every key is an indexed condition (the name prefix too, as a range): the planner
    # combines the indexes (SQLite's OR optimisation, PostgreSQL's BitmapOr) instead of
    # scanning the table.
    matching = select(Order.id).where(or_(
        Order.order_number.in_({q, number, "#" + number}),  # "1001" finds "#1001"
        Order.external_id == number,
        func.lower(Order.email) == lowered,
        _prefix_of(Order.customer_name, lowered),
        Order.id.in_(select(Shipment.order_id).where(Shipment.tracking_number == q)),
    )).limit(limit)
    result.orders = session.scalars(
        select(Order).where(Order.id.in_(matching))
        .options(selectinload(Order.channel), selectinload(Order.holds))
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit)
    ).all()
    result.customers = session.scalars(
        select(Customer).where(or_(Customer.email == lowered, _prefix_of(Customer.name, lowered)))
        .order_by(Customer.name, Customer.id).limit(limit)
    ).all()
    return result
