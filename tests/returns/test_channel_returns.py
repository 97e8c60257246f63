"""Returns read from a channel that runs its own (tests/sync/test_amazon_returns.py reads them
over HTTP from the sandbox): Amazon's reason codes mapped to ours (others kept as a note),
units capped at what was shipped and is not back, one return per RMA however often it is read,
an FBA order's returns left to Amazon, and no mail of ours (the channel tells its customer)."""
from __future__ import annotations

from sqlalchemy import select

from app.models import OutboxMessage, Return
from app.services.core.actor import Actor
from app.services.returns import actions as returns, channel_returns
from connectors.amazon_returns import ChannelReturnItem, parse_returns_report


def _item(order, sku, quantity=1, reason="APPAREL_TOO_LARGE", rma="DRMA1", status="Approved"):
    return ChannelReturnItem(order.external_id, rma, None, status, sku, quantity, reason, "1ZBACK", "UPS")


def _return_mails(session, order_id):
    session.expire_all()
    return [k for k in session.scalars(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.topic == "notify.customer", OutboxMessage.order_id == order_id)) if "return" in k]


def test_channel_returns_mapped_capped_once_and_not_mailed(session, shipped, actor):
    channel = Actor.channel("shop")
    items = [_item(shipped.order, "SKU-A", 5), _item(shipped.order, "SKU-C", rma="DRMA2"),
             _item(shipped.order, "SKU-B", 1, reason="WEIRD_CODE", rma="DRMA3", status="Pending")]
    summary = channel_returns.import_returns(session, shipped.channel, items, channel)
    assert summary.created == ["DRMA1", "DRMA3"]
    assert summary.skipped == [f"DRMA2: nothing of order {shipped.order.order_number} is left to return"]
    ret = session.scalar(select(Return).where(Return.rma_number == "DRMA1"))
    assert [(rl.line.sku, rl.quantity, rl.reason_code) for rl in ret.lines] == [("SKU-A", 2, "too_large")]  # capped
    assert (ret.status, ret.source, ret.label_tracking, ret.created_by) == ("authorized", "channel", "1ZBACK",
                                                                            "channel:shop")
    pending = session.scalar(select(Return).where(Return.rma_number == "DRMA3"))
    assert pending.status == "requested"  # the channel has not authorized it yet
    assert [(rl.reason_code, rl.note) for rl in pending.lines] == [("other", "WEIRD_CODE (the channel's reason)")]
    assert _return_mails(session, shipped.order_id) == []  # the channel tells its customer
    again = channel_returns.import_returns(session, shipped.channel, items, channel)
    assert (again.created, again.known) == ([], 2)
    assert len(session.scalars(select(Return)).all()) == 2
    # (a return of ours on the same order is mailed as before)
    returns.reject(session, pending.id, "not ours to take", actor("support"))
    ours = returns.create_return(session, shipped.order_id, {shipped.b.id: 1}, "changed_mind", actor("support"))
    returns.authorize(session, ours.id, actor("support"))
    assert _return_mails(session, shipped.order_id) != []


def test_reason_codes_and_the_report_file():
    assert [channel_returns.reason_code(c) for c in ("APPAREL_TOO_SMALL", "CR-DEFECTIVE", "NOT_AS_DESCRIBED",
                                                     "CR-MISSED_ESTIMATED_DELIVERY", "CR-UNWANTED_ITEM", "")] == [
        "too_small", "defective", "not_as_described", "late", "changed_mind", "other"]
    report = ("Order ID\tReturn request date\tReturn request status\tAmazon RMA ID\tMerchant SKU\t"
              "Return quantity\tReturn Reason\tTracking ID\tReturn carrier\n"
              "111-1\t2026-12-01T10:00:00Z\tApproved\tDX1RMA\tSKU-A\t2\tAPPAREL_TOO_SMALL\t1ZX\tUPS\n"
              "111-1\tnot a date\tApproved\t\tSKU-B\t1\tDEFECTIVE\t\t\n").encode()
    [item] = parse_returns_report(report)
    assert (item.order_external_id, item.rma_id, item.sku, item.quantity, item.tracking_number) == (
        "111-1", "DX1RMA", "SKU-A", 2, "1ZX")
    assert item.requested_at.isoformat() == "2026-12-01T10:00:00+00:00"
