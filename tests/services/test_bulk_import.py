"""The page-level fast path (services/channels/bulk_import.py) writes exactly what the per-order
path writes: same orders, lines, customers, events, holds, conflicts, refunds,
allocations, stock movements and stock levels, and the same run figures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal


import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import (
    Allocation, Customer, Order, OrderEvent, OrderHold, OrderLine, Refund, StockLevel,
    StockMovement, SyncConflict,
)
from app.models.base import clock_at
from app.services.channels import bulk_import, bulk_write
from app.services.channels import importing
from app.services.channels import sync
from app.services.core.actor import Actor
from connectors.base import (
    NormalizedAddress, NormalizedLine, NormalizedOrder, NormalizedRefund, OrderPage,
)
from tests.conftest import _truncate_domain_tables
from tests.services.test_invariants import assert_invariants

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def order(external_id, lines, *, minute=0, email="buyer@example.com", country="US",
          financial_status="paid", version=1, **extra) -> NormalizedOrder:
    placed = T0 + timedelta(minutes=minute)
    norm_lines = [NormalizedLine(external_id=f"{external_id}-{i}", sku=sku, title=f"Item {sku}",
                                 quantity=qty, unit_price=Decimal(price))
                  for i, (sku, qty, price) in enumerate(lines)]
    subtotal = sum((l.unit_price * l.quantity for l in norm_lines), Decimal("0"))
    address = NormalizedAddress(name="Ada Lovelace", line1="1 Main St", city="Springfield",
                                postcode="12345", country=country, phone="555-0100")
    normalized = NormalizedOrder(
        external_id=external_id, order_number=f"#{external_id}", placed_at=placed,
        updated_at=placed + timedelta(minutes=version), currency=extra.pop("currency", "USD"),
        subtotal=subtotal, total=subtotal, email=email, customer_name="Ada Lovelace",
        shipping_address=address, billing_address=address, lines=norm_lines,
        financial_status=financial_status, channel_status="open", tags=["vip"], **extra)
    normalized.raw = {"id": external_id, "v": version, "status": financial_status,
                      "cancelled": normalized.cancelled, "lines": [list(l) for l in lines],
                      "email": email, "when": placed}
    return normalized


def setup(make):
    w1 = make.warehouse("W1", "US", priority=10)
    w2 = make.warehouse("W2", "US", priority=20, ships_to=["US", "CA"])
    make.product("A-1", stock={w1: 5, w2: 5})
    make.product("B-2", stock={w1: 1})
    make.product("C-3", stock={w2: 3})
    make.product("D-4")
    shop = make.channel("shop", "shopify")
    other = make.channel("other", "woocommerce")
    from app.services.core import fx
    from app.services.core import settings

    fx.set_rate(make.session, "EUR", "1.10", make.actor, valid_from=T0 - timedelta(days=30))
    # The page ships many orders to one test address: no velocity review here.
    settings.set_value(make.session, "risk_check_velocity", False, make.actor)
    imp = lambda ch, n: importing.import_order(make.session, ch, n, Actor.channel(ch.code))  # noqa: E731
    imp(other, order("O-TWIN", [("A-1", 1, "5.00")], minute=40, email="twin@example.com"))
    imp(shop, order("E-SAME", [("A-1", 1, "5.00")], minute=1))
    imp(shop, order("E-PAY", [("C-3", 1, "7.00")], minute=2, financial_status="pending",
                    email="Pay@Example.com"))
    imp(shop, order("E-CANCEL", [("A-1", 1, "5.00")], minute=3, email="c@example.com"))
    return shop


def page_orders(with_bad: bool = False) -> tuple[list[NormalizedOrder], list]:
    orders = [
        order("N-PAID", [("A-1", 2, "5.00"), ("C-3", 1, "9.99")], minute=10, email="new@example.com"),
        order("E-SAME", [("A-1", 1, "5.00")], minute=1),  # stored, unchanged
        order("N-PENDING", [("A-1", 1, "5.00")], minute=11, financial_status="pending",
              email="PENDING@example.com"),
        order("N-UNKNOWN", [("ZZZ-9", 1, "3.00"), ("A-1", 1, "5.00"), ("yyy", 2, "1.00")],
              minute=12, email="unknown@example.com"),
        order("N-FBA", [("A-1", 3, "5.00")], minute=13, fulfilled_by_channel=True,
              email="fba@example.com"),
        order("N-CANCEL", [("A-1", 1, "5.00")], minute=14, cancelled=True, cancel_reason="fraud",
              refunds=[NormalizedRefund(external_id="R1", amount=Decimal("5.00"),
                                        created_at=T0 + timedelta(minutes=20), reason="fraud")],
              email="cancel@example.com"),
        order("E-PAY", [("C-3", 1, "7.00")], minute=2, version=5, email="Pay@Example.com"),
        order("N-TWIN", [("A-1", 1, "5.00")], minute=42, email="Twin@Example.com"),
        order("N-SHORT", [("B-2", 3, "2.00")], minute=15, email="new@example.com",
              currency="EUR"),
        order("N-NONE", [("D-4", 1, "2.00")], minute=16, email=None),
        order("N-PAID", [("A-1", 2, "5.00"), ("C-3", 1, "9.99")], minute=10, email="new@example.com"),
        order("N-SPLIT", [("A-1", 6, "5.00"), ("B-2", 1, "2.00")], minute=17, email="buyer@example.com"),
        order("E-CANCEL", [("A-1", 1, "5.00")], minute=3, version=3, cancelled=True,
              email="c@example.com"),
        order("N-REFUND", [("C-3", 1, "4.00")], minute=18, email="refund@example.com",
              refunds=[NormalizedRefund(external_id="R2", amount=Decimal("1.5"))]),
        order("N-LATE", [("C-3", 1, "4.00")], minute=19, email="late@example.com", ship_by=T0),
    ]
    if with_bad:
        orders.insert(5, order("N-BAD", [("A-1", 1, "5.00")], minute=21, financial_status="bogus",
                               email="bad@example.com"))
    invalid = [({"id": "broken-1", "line_items": None}, "no lines")]
    return orders, invalid


def snapshot(session) -> dict:
    """Every row the import writes, with ids replaced by natural keys."""
    session.expire_all()
    orders = {o.id: o.external_id for o in session.scalars(select(Order))}
    lines = {l.id: (orders[l.order_id], l.external_id) for l in session.scalars(select(OrderLine))}
    refunds = {r.id: (orders[r.order_id], r.external_id) for r in session.scalars(select(Refund))}
    customers = {c.id: c.email for c in session.scalars(select(Customer))}
    levels = {l.id: (l.warehouse_id, l.product_id) for l in session.scalars(select(StockLevel))}

    def plain(obj, drop=()):
        return {c.key: getattr(obj, c.key) for c in obj.__table__.columns
                if c.key not in ("id", "version", *drop)}

    def remap(data):
        if isinstance(data, dict):
            out = {}
            for key, value in data.items():
                if key == "line_id" and value is not None:
                    value = lines[value]
                elif key == "refund_id":
                    value = refunds[value]
                elif key == "order_id" and value in orders:
                    value = orders[value]
                out[key] = remap(value)
            return out
        if isinstance(data, list):
            return [remap(v) for v in data]
        return data

    result = {"orders": {}, "lines": {}, "events": {}, "holds": [], "conflicts": [],
              "allocations": [], "movements": [], "refunds": [], "customers": [], "levels": []}
    for o in session.scalars(select(Order)):
        row = plain(o)
        row["customer_id"] = customers.get(o.customer_id)
        result["orders"][o.external_id] = row
    for l in session.scalars(select(OrderLine)):
        row = plain(l)
        row["order_id"] = orders[l.order_id]
        result["lines"][lines[l.id]] = row
    for e in session.scalars(select(OrderEvent).order_by(OrderEvent.id)):
        row = plain(e, drop=("order_id",))
        row["data"] = remap(row["data"])
        result["events"].setdefault(orders[e.order_id], []).append(row)
    for h in session.scalars(select(OrderHold).order_by(OrderHold.id)):
        result["holds"].append({**plain(h), "order_id": orders[h.order_id]})
    for c in session.scalars(select(SyncConflict)):
        row = plain(c)
        row["order_id"] = orders.get(c.order_id)
        row["local_value"], row["remote_value"] = remap(c.local_value), remap(c.remote_value)
        row["error"] = (c.error or "").splitlines()[0]  # PostgreSQL's DETAIL names row ids
        result["conflicts"].append(row)
    for a in session.scalars(select(Allocation)):
        result["allocations"].append({**plain(a), "order_id": orders[a.order_id],
                                      "order_line_id": lines[a.order_line_id],
                                      "stock_level_id": levels[a.stock_level_id]})
    for m in session.scalars(select(StockMovement)):
        row = {**plain(m), "order_id": orders.get(m.order_id),
               "stock_level_id": levels[m.stock_level_id]}
        if row["reference"] and row["reference"].startswith("order line "):
            row["reference"] = lines[int(row["reference"].rsplit(" ", 1)[1])]
        result["movements"].append(row)
    for r in session.scalars(select(Refund)):
        result["refunds"].append({**plain(r), "order_id": orders[r.order_id]})
    for c in session.scalars(select(Customer)):
        result["customers"].append(plain(c))
    for level in session.scalars(select(StockLevel)):
        result["levels"].append(plain(level))
    for key in ("holds", "conflicts", "allocations", "movements", "refunds", "customers",
                "levels"):
        result[key].sort(key=repr)
    return result


def run(session, make, *, fast: bool, with_bad: bool = False, statements=(), monkeypatch=None):
    bulk_import.ENABLED = fast
    written = []  # orders the fast path wrote in bulk
    if monkeypatch is not None:
        real = bulk_write._write

        def spy(session, context, batch):
            ids = real(session, context, batch)
            written.extend(p.row["external_id"] for p in batch)
            return ids

        monkeypatch.setattr(bulk_write, "_write", spy)
    try:
        with clock_at(NOW):
            shop = setup(make)
            orders, invalid = page_orders(with_bad)
            stats = sync.PullStats()
            before = len(statements)
            sync.import_page(session, shop, OrderPage(orders=orders, next_page=None,
                                                      invalid=invalid),
                             Actor.channel(shop.code), stats)
            executed = list(statements[before:])
            assert_invariants(session)
            external = dict(session.execute(select(Order.id, Order.external_id)).all())
            figures = {k: getattr(stats, k) for k in ("fetched", "created", "updated", "unchanged",
                                                      "conflicts", "errors", "max_updated_at")}
            figures["order_ids"] = [external[i] for i in stats.order_ids]
            figures["bulk"] = written
            return snapshot(session), figures, executed
    finally:
        bulk_import.ENABLED = True
        db.session.remove()
        _truncate_domain_tables()


@pytest.fixture
def statements(app):
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine, "before_cursor_execute", count)


@pytest.mark.parametrize("with_bad", [False, True], ids=["clean", "with-bad-order"])
def test_fast_path_writes_what_the_per_order_path_writes(session, make, statements, with_bad,
                                                         monkeypatch):
    slow, slow_figures, slow_statements = run(session, make, fast=False, with_bad=with_bad,
                                              statements=statements)
    fast, fast_figures, fast_statements = run(session, make, fast=True, with_bad=with_bad,
                                              statements=statements, monkeypatch=monkeypatch)
    written = fast_figures.pop("bulk")
    slow_figures.pop("bulk")
    assert fast_figures == slow_figures
    for key in slow:
        assert fast[key] == slow[key], key
    # The new orders really went in bulk (unless a bad order sent its batch one by one).
    if with_bad:  # its batch went one by one, the later ones in bulk
        assert written == ["N-TWIN", "N-SHORT", "N-NONE", "N-SPLIT", "N-REFUND", "N-LATE"]
    else:
        assert written == ["N-PAID", "N-PENDING", "N-UNKNOWN", "N-FBA", "N-CANCEL", "N-TWIN",
                           "N-SHORT", "N-NONE", "N-SPLIT", "N-REFUND", "N-LATE"]
        assert len(fast_statements) < len(slow_statements)
    # What the page is expected to contain, so that the comparison is not vacuous.
    orders = fast["orders"]
    assert fast_figures["created"] == 11 and fast_figures["updated"] == 2
    assert fast_figures["unchanged"] == 2 and fast_figures["errors"] == (2 if with_bad else 1)
    assert all(sum(1 for e in events if e["type"] == "imported") == 1
               for events in fast["events"].values())
    assert orders["N-FBA"]["status"] == "shipped"
    assert orders["N-CANCEL"]["status"] == "cancelled" and orders["E-CANCEL"]["status"] == "cancelled"
    assert {h["reason"] for h in fast["holds"]} >= {"payment", "unknown_sku", "duplicate"}
    assert {c["kind"] for c in fast["conflicts"]} >= {"unknown_sku", "duplicate", "invalid_payload"}
    assert sum(1 for c in fast["conflicts"] if c["kind"] == "unknown_sku") == 2
    assert [c for c in fast["customers"] if c["email"] == "pay@example.com"]
    assert orders["N-SHORT"]["total_base"] == Decimal("6.60")
    if with_bad:
        assert "N-BAD" not in orders
        assert any(c["external_id"] == "N-BAD" for c in fast["conflicts"])
    assert orders["N-PAID"]["status"] == "allocated"
    assert orders["N-PENDING"]["status"] == "new"
    assert orders["N-UNKNOWN"]["status"] == "new"
    assert orders["E-PAY"]["status"] == "allocated"
    assert orders["N-TWIN"]["status"] == "new"
    assert orders["N-SHORT"]["status"] in ("backordered", "partially_allocated")
    assert orders["N-NONE"]["status"] == "backordered" and orders["N-NONE"]["customer_id"] is None
    assert orders["N-SPLIT"]["status"] == "partially_allocated"




def published_by_order(session, make, *, fast: bool) -> dict:
    """The public domain events an import publishes, per order (by external id), in order,
    without their actor: what webhook subscribers and notifications see."""
    from collections import defaultdict

    from app.services.core import domain_events

    seen = []
    recorders = []
    for name in domain_events.PUBLIC_EVENTS:
        def record(session, payload, name=name):
            seen.append((name, payload.get("order_id"),
                         tuple(sorted((k, str(v)) for k, v in payload.items()
                                      if k not in ("actor", "order_id", "stock_level_id",
                                                   "product_id")))))
        domain_events.subscribe(name, record)
        recorders.append((name, record))
    try:
        bulk_import.ENABLED = fast
        with clock_at(NOW):
            shop = setup(make)
            orders, invalid = page_orders(False)
            sync.import_page(session, shop, OrderPage(orders=orders, next_page=None,
                                                      invalid=invalid),
                             Actor.channel(shop.code), sync.PullStats())
            external = dict(session.execute(select(Order.id, Order.external_id)).all())
        by_order = defaultdict(list)
        for name, order_id, facts in seen:
            if name != "stock.changed":  # per stock level: compared by the snapshot above
                by_order[external.get(order_id)].append((name, facts))
        return dict(by_order)
    finally:
        for name, record in recorders:
            domain_events.unsubscribe(name, record)
        bulk_import.ENABLED = True
        db.session.remove()
        _truncate_domain_tables()


def test_both_paths_publish_the_same_domain_events_order_created_first(session, make):
    slow = published_by_order(session, make, fast=False)
    fast = published_by_order(session, make, fast=True)
    assert fast == slow
    new = [key for key in fast if key and key.startswith("N-")]
    assert len(new) == 11  # the page's new orders (the others existed before it)
    assert all(fast[key][0][0] == "order.created" for key in new)
    assert any(name == "order.cancelled" for name, _ in fast["N-CANCEL"])
    assert ("order.status_changed", (("from", "new"), ("to", "allocated"))) in fast["N-PAID"]
