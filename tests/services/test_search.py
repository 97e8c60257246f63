"""Support search by prefix: of the e-mail, of its domain, of names — case-insensitive,
exact about what a prefix is (punctuation included), on both databases; the e-mail's
domain is kept by every way an order is written (per-order import, bulk import, edit)."""
from __future__ import annotations

from sqlalchemy import select

from app.models import Order
from app.services.orders import edits as order_edits
from app.services.orders import search
from app.services.channels import sync
from app.services.core.actor import Actor
from connectors.base import OrderPage
from tests.factories import normalized_order


def numbers(result) -> set[str]:
    return {o.order_number for o in result.orders}


def test_prefixes_of_email_domain_and_name_find_orders_and_customers(session, make):
    channel = make.channel("shop")
    make.product("SKU-1")
    ann = make.order(channel, [("SKU-1", 1, "5.00")], email="Ann.Lee@Example.com",
                     name="Ann Lee", external_id="E-ANN")
    bob = make.order(channel, [("SKU-1", 1, "5.00")], email="bob@examples.org",
                     name="Bob Annan", external_id="E-BOB")
    cy = make.order(channel, [("SKU-1", 1, "5.00")], email="cy@other.net", name="Cy Young",
                    external_id="E-CY")
    find = lambda q: numbers(search.search(session, q))  # noqa: E731
    assert ann.email_domain == "example.com" and bob.email_domain == "examples.org"

    assert find("ann.lee@example.com") == {ann.order_number}  # the whole address still works
    assert find("ANN.L") == {ann.order_number}                # a prefix, any case
    assert find("ann.") == {ann.order_number}                 # ending in punctuation
    assert find("ann.lee@") == {ann.order_number}
    assert find("ann.lee@exa") == {ann.order_number}
    assert find("exam") == {ann.order_number, bob.order_number}  # the domain's prefix
    assert find("example.c") == {ann.order_number}
    assert find("@examples") == {bob.order_number}
    assert find("ann") == {ann.order_number}  # name/e-mail prefix, not "Bob Annan" inside
    assert find("other.net") == {cy.order_number}
    assert find("lee@") == set() and find("xample") == set()  # a prefix, not a substring
    assert find("ann@example.com") == set()

    customers = search.search(session, "ann.lee@ex").customers
    assert [c.email for c in customers] == ["ann.lee@example.com"]


def test_email_domain_follows_edits_and_the_bulk_import(session, make, actor):
    channel = make.channel("shop")
    make.product("SKU-1")
    order = make.order(channel, [("SKU-1", 1, "5.00")], email="x@old.example")
    order_edits.edit_order(session, order.id, actor(), expected_version=order.version,
                           email="x@New.Example")
    session.refresh(order)
    assert order.email_domain == "new.example"
    assert numbers(search.search(session, "new.ex")) == {order.order_number}
    assert numbers(search.search(session, "old.ex")) == set()

    page = [normalized_order([("SKU-1", 1, "5.00")], external_id=f"B-{n}",
                             email=f"buyer{n}@Bulk{n % 2}.Example") for n in range(6)]
    sync.import_page(session, channel, OrderPage(orders=page, next_page=None, invalid=[]),
                     Actor.channel(channel.code), sync.PullStats())
    domains = dict(session.execute(select(Order.external_id, Order.email_domain)
                                   .where(Order.external_id.like("B-%"))).all())
    assert domains == {f"B-{n}": f"bulk{n % 2}.example" for n in range(6)}
    assert len(search.search(session, "bulk1.").orders) == 3
