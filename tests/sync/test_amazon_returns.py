"""Amazon runs the returns of its orders: Waybill reads them from the sandbox's Reports API
over real HTTP (createReport, getReport until DONE, getReportDocument, the tab-delimited
returns report) and records each RMA as a return the channel authorized, expected at the
warehouse; reading the report again records nothing twice."""
from __future__ import annotations

from sqlalchemy import func, select

from app.models import Return
from app.services.returns import actions as returns
from connectors.sandbox.reports import request_return
from jobs import pull_returns

from .writeback_support import import_order, quiet_risk_checks, ship, sim_order


def test_amazon_returns_are_read_as_return_requests_once(app, sandbox, sandbox_channels, session, actor):
    state, _root = sandbox
    quiet_risk_checks(session, actor("admin"))
    channel = sandbox_channels["amazon"]
    sim = sim_order(state, "amazon", min_lines=2)
    order = import_order(session, channel, sim)
    ship(session, order.id, actor("warehouse"))
    order_id = order.id
    first, second = sim.lines[0], sim.lines[1]
    rma = request_return(state, sim, first.sku, 1, reason="APPAREL_TOO_SMALL", tracking_number="1ZRETURN0001")
    request_return(state, sim, second.sku, 1, reason="CR-SWITCHEROO", rma_id=rma)
    other = sim_order(state, "amazon")  # an order Waybill never imported: skipped, said why
    request_return(state, other, other.lines[0].sku, 1)

    run = pull_returns.run(channel.code)
    assert run.status == "succeeded", run
    assert (run.fetched, run.created, run.conflicts) == (3, 1, 1)
    session.expire_all()
    ret = session.scalar(select(Return).where(Return.rma_number == rma))
    assert (ret.order_id, ret.source, ret.status, ret.created_by) == (order_id, "channel", "authorized",
                                                                     f"channel:{channel.code}")
    assert ret.label_tracking == "1ZRETURN0001" and ret.label_carrier == "channel:UPS"
    by_sku = {rl.line.sku: rl for rl in ret.lines}
    assert (by_sku[first.sku].quantity, by_sku[first.sku].reason_code) == (1, "too_small")
    assert by_sku[second.sku].reason_code == "wrong_item" and "CR-SWITCHEROO" in by_sku[second.sku].note
    again = app.test_cli_runner().invoke(args=["oms", "pull-returns", "--channel", channel.code])
    assert again.exit_code == 0, again.output  # the same report read again: nothing new
    assert "3 returned items, 0 new returns, 1 skipped" in again.output
    session.expire_all()
    assert session.scalar(select(func.count(Return.id)).where(Return.order_id == order_id)) == 1
    # the warehouse scans the parcel's tracking number (or Amazon's RMA) and receives it
    assert returns.find(session, "1ZRETURN0001").id == ret.id == returns.find(session, rma.lower()).id
    assert returns.receive_return(session, ret.id, actor("warehouse")).status == "received"
