"""Support search: one box that finds orders (order number, channel order id, e-mail,
customer name, tracking number) and customers (e-mail, name).

Order number, channel order id and tracking number match exactly; e-mail, the e-mail's
domain and names match by case-insensitive prefix ("ann.l", "ann@exa", "example.c",
"@exam"). A prefix is a byte-wise range over an index (models/orders.py: text_pattern_ops
on PostgreSQL, whatever the collation; plain on SQLite). Every query is bounded
(``limit``), so it stays fast at any table size (bench/ui_lists.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select, union
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


def _prefix_of(expression, prefix: str, dialect: str):
    """``expression`` starts with ``prefix``, as the byte-wise range [prefix, the prefix with
    its last character's successor): exactly the strings that start with it (UTF-8 sorts
    bytes as code points). PostgreSQL's ~>=~ / ~<~ compare bytes whatever the collation and
    use the text_pattern_ops indexes; SQLite's BINARY >= / < already do. (LIKE would scan
    on SQLite, where it is case-insensitive, and on PostgreSQL plan by its parameter.)"""
    upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
    if dialect == "postgresql":
        return and_(expression.op("~>=~", is_comparison=True)(prefix),
                    expression.op("~<~", is_comparison=True)(upper))
    return and_(expression >= prefix, expression < upper)


def search(session: Session, query: str, limit: int = 50) -> SearchResult:
    q = (query or "").strip()[:MAX_QUERY]
    result = SearchResult(query=q)
    if not q:
        return result
    lowered = q.lower()
    number = q.lstrip("#")
    dialect = session.get_bind().dialect.name
    domain = lowered.lstrip("@")
    # One indexed look-up per key (the prefixes as ranges), each bounded, united: an OR of
    # them in one WHERE made PostgreSQL scan the table (no BitmapOr across the tracking
    # number's sub-select).
    lookups = [
        Order.order_number.in_({q, number, "#" + number}),  # "1001" finds "#1001"
        Order.external_id == number,
        _prefix_of(func.lower(Order.email), lowered, dialect),  # the whole address too
        _prefix_of(func.lower(Order.customer_name), lowered, dialect),
    ]
    if domain and "@" not in domain:
        lookups.append(_prefix_of(Order.email_domain, domain, dialect))
    branches = [select(Order.id.label("id")).where(condition).limit(limit).subquery()
                for condition in lookups]
    branches.append(select(Shipment.order_id.label("id"))
                    .where(Shipment.tracking_number == q).limit(limit).subquery())
    matching = union(*(select(branch.c.id) for branch in branches))
    result.orders = session.scalars(
        select(Order).where(Order.id.in_(matching))
        .options(selectinload(Order.channel), selectinload(Order.holds))
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit)
    ).all()
    result.customers = session.scalars(
        select(Customer).where(or_(_prefix_of(Customer.email, lowered, dialect),
                                   _prefix_of(func.lower(Customer.name), lowered, dialect)))
        .order_by(Customer.name, Customer.id).limit(limit)
    ).all()
    return result
