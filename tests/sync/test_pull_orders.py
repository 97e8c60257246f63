"""Pulling orders from the sandbox over real HTTP: exactly once, right totals, faults
survived, bad payloads quarantined, cursors and sync runs recorded."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import Order, OrderEvent, SyncConflict, SyncRun
from jobs import pull_orders
from tests.conftest import is_postgres


def pull_until_clean(channel_code: str, attempts: int = 12):
    """Run pull_orders until a run succeeds (a failed run leaves the cursor where it was)."""
    runs = []
    for _ in range(attempts):
        run = pull_orders.run(channel_code)
        runs.append(run)
        if run.status != "failed":
            break
    return runs


def assert_exactly_once(session, state, kind: str, channel):
    remote = state.snapshot()["channels"][kind]
    remote_orders = {eid: o for shop in remote.values() for eid, o in shop["orders"].items()}
    rows = session.execute(select(Order.external_id, Order.total, Order.currency,
                                  Order.fulfilled_by_channel)
                           .where(Order.channel_id == channel.id)).all()
    local = {r.external_id: r for r in rows}
    assert len(rows) == len(local)  # no duplicate rows
    assert set(local) == set(remote_orders), f"{kind}: missing or extra orders"
    for external_id, summary in remote_orders.items():
        row = local[external_id]
        expected = None if summary["total"] is None else Decimal(summary["total"])
        assert row.total == expected, f"{kind} {external_id}: total {row.total} != {expected}"
        assert row.currency == summary["currency"]
    imported = session.execute(
        select(OrderEvent.order_id, func.count()).join(Order, Order.id == OrderEvent.order_id)
        .where(Order.channel_id == channel.id, OrderEvent.type == "imported")
        .group_by(OrderEvent.order_id)).all()
    assert all(count == 1 for _order, count in imported) and len(imported) == len(local)


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "amazon"])
def test_pull_imports_every_order_once_with_totals_and_moves_cursor(session, sandbox,
                                                                   sandbox_channels, kind):
    state, _root = sandbox
    state.create_orders(kind, 60)
    channel = sandbox_channels[kind]
    run = pull_orders.run(channel.code)
    assert run.status == "succeeded", run.error_message
    assert run.created == 60 and run.fetched == 60 and run.cursor_after
    assert_exactly_once(session, state, kind, channel)

    again = pull_orders.run(channel.code)  # nothing changed: nothing written
    assert again.created == 0 and again.updated == 0
    assert again.cursor_before == run.cursor_after

    state.update_orders(kind, count=5, action="cancel")
    state.create_orders(kind, 3)
    third = pull_orders.run(channel.code)
    assert third.created == 3 and third.updated >= 5
    assert session.scalar(select(func.count()).where(
        Order.channel_id == channel.id, Order.status == "cancelled")) >= 5


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "amazon"])
def test_faults_lose_and_duplicate_nothing(session, sandbox, sandbox_channels, kind):
    """20% injected faults (429, 500, 503, slow, truncated JSON, a page served twice)."""
    state, _root = sandbox
    count = 700 if is_postgres() else 150  # the heavy case on PostgreSQL
    state.create_orders(kind, count)
    state.set_faults(kind, {"429": 0.04, "500": 0.04, "503": 0.04, "slow": 0.02,
                            "truncated": 0.03, "duplicate": 0.03, "seed": 11, "slow_seconds": 0.05})
    runs = pull_until_clean(sandbox_channels[kind].code)
    assert runs[-1].status != "failed"
    assert_exactly_once(session, state, kind, sandbox_channels[kind])
    served = state.snapshot()["faults_served"][kind]
    assert sum(served.values()) > 0, "no fault was injected"
    print(f"{kind}: {count} orders exactly once after {len(runs)} run(s); faults served {served}")


def test_invalid_payloads_are_quarantined_and_the_rest_imported(session, sandbox, sandbox_channels):
    state, _root = sandbox
    created = state.create_orders("shopify", 20)
    bad = [o.external_id for o in created[:3]]
    state.update_orders("shopify", ids=bad, action="corrupt")
    run = pull_orders.run(sandbox_channels["shopify"].code)
    assert run.status == "partial" and run.conflicts == 3 and run.created == 17
    conflicts = session.scalars(select(SyncConflict).where(SyncConflict.kind == "invalid_payload")).all()
    assert sorted(c.external_id for c in conflicts) == sorted(bad)
    assert all(c.raw_payload and c.error for c in conflicts)
    assert session.scalar(select(func.count(Order.id))) == 17


def test_failed_run_keeps_cursor_and_is_recorded(session, sandbox, sandbox_channels):
    state, _root = sandbox
    state.create_orders("woocommerce", 10)
    pull_orders.run(sandbox_channels["woocommerce"].code)
    state.create_orders("woocommerce", 5)
    state.set_faults("woocommerce", {"500": 1.0})
    run = pull_orders.run(sandbox_channels["woocommerce"].code)
    assert run.status == "failed" and "500" in run.error_message
    assert run.cursor_after == run.cursor_before
    state.set_faults("woocommerce", {})
    run = pull_orders.run(sandbox_channels["woocommerce"].code)
    assert run.status == "succeeded" and run.created == 5
    runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
    assert [r.status for r in runs] == ["succeeded", "failed", "succeeded"]
