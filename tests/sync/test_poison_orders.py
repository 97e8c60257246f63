"""One poison order never blocks a channel (issue 10, point 2).

Orders the database cannot hold — an id longer than the column, 10**70 in an integer or
money field, NUL or a lone surrogate in a string — are seeded through the sandbox's control
API and pulled over real HTTP; signed webhooks carrying them (and 50,000 nested brackets)
are posted over real HTTP to a live Waybill server. Each bad order becomes a quarantined
sync conflict with its payload; the rest of the page arrives, the cursor moves, the run's
figures are what was stored, and a second run converges (no second conflict)."""
from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import Order, SyncConflict
from app.webhooks import signature_of
from connectors.sandbox import DEFAULT_CREDENTIALS
from connectors.shopify import API_VERSION
from jobs import pull_orders
from tests.conftest import is_postgres

LONG_ID = "9" * 70
POISONS = {  # Shopify order field overrides (the sandbox's "patch" action)
    "long id": {"id": LONG_ID},
    "huge quantity": {"line_items.0.quantity": 10**70},
    "huge total": {"total_price": 10**70},
    "NUL in a name": {"customer.first_name": "Ann\u0000"},
    "lone surrogate in a title": {"line_items.0.name": "Mug \ud800"},
}


def control(root: str, path: str, body: dict) -> dict:
    response = requests.post(f"{root}/_sandbox/{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def open_conflicts(channel_id: int) -> list[SyncConflict]:
    db.session.rollback()
    return db.session.scalars(select(SyncConflict).where(
        SyncConflict.channel_id == channel_id, SyncConflict.status == "open")
        .order_by(SyncConflict.id)).all()


def order_count(channel_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Order.id)).where(Order.channel_id == channel_id))


def test_poison_orders_on_a_polled_page_are_quarantined_and_the_rest_arrives(
        sandbox, sandbox_channels):
    _state, root = sandbox
    channel = sandbox_channels["shopify"]
    ids = control(root, "orders", {"channel": "shopify", "count": 30})["created"]
    poisoned = dict(zip(POISONS, ids[2:7]))  # on the first page (20 orders a page)
    for name, external_id in poisoned.items():
        control(root, "update", {"channel": "shopify", "ids": [external_id], "action": "patch",
                                 "patch": POISONS[name]})
    # A NUL in a field Waybill does not read: the order imports, its raw payload escaped.
    control(root, "update", {"channel": "shopify", "ids": [ids[10]], "action": "patch",
                             "patch": {"note": "gift\u0000wrap"}})

    run = pull_orders.run(channel.code)
    assert run.status == "partial", run.error_message
    assert (run.fetched, run.created, run.conflicts, run.errors) == (30, 25, 5, 5)
    assert run.cursor_after and run.cursor_after != run.cursor_before
    assert order_count(channel.id) == 25  # the figures are what was stored

    conflicts = open_conflicts(channel.id)
    by_id = {c.external_id: c for c in conflicts}
    assert len(conflicts) == 5
    assert LONG_ID[:63] + "…" in by_id  # clipped to the column, never failing
    for name in ("huge quantity", "huge total", "NUL in a name", "lone surrogate in a title"):
        conflict = by_id[poisoned[name]]
        assert conflict.kind == "invalid_payload" and "cannot be stored" in conflict.error, name
    assert "quantity" in by_id[poisoned["huge quantity"]].error
    assert "total" in by_id[poisoned["huge total"]].error
    # Payloads kept whole, NUL and lone surrogates escaped as text.
    assert by_id[poisoned["NUL in a name"]].raw_payload["customer"]["first_name"] == "Ann\\u0000"
    title = by_id[poisoned["lone surrogate in a title"]].raw_payload["line_items"][0]["name"]
    assert title == "Mug \\ud800"
    assert by_id[poisoned["huge quantity"]].raw_payload["line_items"][0]["quantity"] == 10**70
    noted = db.session.scalars(select(Order).where(Order.external_id == ids[10])).one()
    assert noted.raw_payload["note"] == "gift\\u0000wrap"

    again = pull_orders.run(channel.code)  # re-reads the overlap: converges
    assert again.status == "partial" and again.created == 0 and again.cursor_before == run.cursor_after
    assert len(open_conflicts(channel.id)) == 5 and order_count(channel.id) == 25

    control(root, "orders", {"channel": "shopify", "count": 3})
    third = pull_orders.run(channel.code)
    assert third.created == 3 and order_count(channel.id) == 28


def test_a_woocommerce_id_of_10_to_the_70_is_quarantined(sandbox, sandbox_channels):
    _state, root = sandbox
    channel = sandbox_channels["woocommerce"]
    ids = control(root, "orders", {"channel": "woocommerce", "count": 6})["created"]
    control(root, "update", {"channel": "woocommerce", "ids": [ids[0]], "action": "patch",
                             "patch": {"id": 10**70}})
    control(root, "update", {"channel": "woocommerce", "ids": [ids[1]], "action": "patch",
                             "patch": {"billing.first_name": "Bob\u0000"}})
    run = pull_orders.run(channel.code)
    assert (run.status, run.created, run.conflicts) == ("partial", 4, 2), run.error_message
    assert order_count(channel.id) == 4
    assert {c.external_id[:10] for c in open_conflicts(channel.id)} == {"1" + "0" * 9, ids[1]}


# --- webhooks over real HTTP --------------------------------------------------------------------

def deliver(root: str, channel, body: bytes, topic: str = "orders/create"):
    return requests.post(f"{root}/webhooks/shopify/{channel.code}", data=body, timeout=30,
                         headers={"Content-Type": "application/json", "X-Shopify-Topic": topic,
                                  "X-Shopify-Hmac-Sha256": signature_of("secret-shopify", body)})


def test_signed_poison_webhooks_are_kept_as_conflicts_never_a_500(
        sandbox, sandbox_channels, waybill_server):
    _state, root = sandbox
    channel = sandbox_channels["shopify"]
    ids = control(root, "orders", {"channel": "shopify", "count": 1 + len(POISONS)})["created"]
    for name, external_id in zip(POISONS, ids[1:]):
        control(root, "update", {"channel": "shopify", "ids": [external_id], "action": "patch",
                                 "patch": POISONS[name]})
    orders = requests.get(f"{root}/shopify/demo/admin/api/{API_VERSION}/orders.json?status=any&limit=50",
                          headers={"X-Shopify-Access-Token": DEFAULT_CREDENTIALS["shopify"]["access_token"]},
                          timeout=10)
    assert orders.status_code == 200, orders.text
    payloads = orders.json()["orders"]
    assert len(payloads) == 1 + len(POISONS)

    for payload in payloads:  # ensure_ascii: the lone surrogate travels as an escape
        response = deliver(waybill_server, channel, json.dumps({"order": payload}).encode())
        expected = "created" if str(payload["id"]) == ids[0] else "quarantined"
        assert response.status_code == 200 and response.json()["code"] == expected, response.text

    # Deep enough to strain a recursive walk, yet readable: quarantined (200), kept whole.
    readable_deep = b'{"order": {"id": 77, "note": ' + b"[" * 800 + b"]" * 800 + b"}}"
    response = deliver(waybill_server, channel, readable_deep)
    assert response.status_code == 200 and response.json()["code"] == "quarantined", response.text

    deep = b"[" * 50_000 + b"]" * 50_000
    for body in (deep, b"{not json", b'{"order": "\xff\xfe"}'):
        response = deliver(waybill_server, channel, body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_payload"

    assert order_count(channel.id) == 1
    conflicts = open_conflicts(channel.id)
    assert len(conflicts) == len(POISONS) + 4
    kept = [c for c in conflicts if c.raw_payload.get("body")]
    assert len(kept) == 3 and kept[0].raw_payload["body"] == deep.decode()  # nothing lost
    assert "nested too deeply" in kept[0].error
    deep_order = next(c for c in conflicts if c.external_id == "77")
    assert "[[[" in json.dumps(deep_order.raw_payload)  # kept (as JSON, or as its text)

    # The same poison delivered again (a channel's retry) adds no second conflict.
    response = deliver(waybill_server, channel,
                       json.dumps({"order": payloads[1]}).encode(), "orders/updated")
    assert response.status_code == 200 and response.json()["code"] == "quarantined"
    assert len(open_conflicts(channel.id)) == len(POISONS) + 4


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="a deferred constraint trigger is PostgreSQL's")
def test_a_page_that_fails_at_its_commit_is_imported_order_by_order(sandbox, sandbox_channels):
    """What no savepoint catches — here a real deferred constraint trigger refusing one order
    when the page commits — costs that order alone: the page is imported again one order per
    transaction, the order is quarantined, the figures are what was stored."""
    _state, root = sandbox
    channel = sandbox_channels["woocommerce"]
    ids = control(root, "orders", {"channel": "woocommerce", "count": 8})["created"]
    refused = ids[3]
    with db.engine.begin() as conn:
        conn.execute(text(f"""
            CREATE FUNCTION test_refuse_at_commit() RETURNS trigger AS $$
            BEGIN
                IF NEW.external_id = '{refused}' THEN
                    RAISE EXCEPTION 'order % refused at commit', NEW.external_id;
                END IF;
                RETURN NULL;
            END $$ LANGUAGE plpgsql"""))
        conn.execute(text("CREATE CONSTRAINT TRIGGER test_refuse_at_commit AFTER INSERT ON orders "
                          "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                          "EXECUTE FUNCTION test_refuse_at_commit()"))
    try:
        run = pull_orders.run(channel.code)
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER test_refuse_at_commit ON orders"))
            conn.execute(text("DROP FUNCTION test_refuse_at_commit()"))
    assert (run.status, run.fetched, run.created, run.conflicts) == ("partial", 8, 7, 1), \
        run.error_message
    assert run.cursor_after and order_count(channel.id) == 7
    [conflict] = open_conflicts(channel.id)
    assert conflict.external_id == refused and "refused at commit" in conflict.error
    assert conflict.raw_payload["id"] == int(refused)
