"""Refunds made in Waybill, created on the channel (``channel.refund``): Shopify
``suggestedRefund`` then ``refundCreate``, WooCommerce refunds with ``api_refund``, Amazon the
payment adjustment feed. A refund goes ``pending -> sent -> succeeded | failed`` (DESIGN.md
"Returns, refunds"): ``succeeded`` only once the channel confirms it, with the channel's
refund id; ``failed`` with the channel's reason. Every change publishes ``refund.changed``."""
from __future__ import annotations

from decimal import Decimal

from app.models import Refund
from app.services.core.actor import Actor
from app.services.orders.refunds import set_state
from app.services.core.outbox import Message, PermanentError, Sent
from connectors.writes import RefundPush, WriteLine

from .connection import confirmed_once, connector_for, own_session, own_transaction, waiting

TOPIC = "channel.refund"
ACTOR = Actor.job("channel_writeback")


def _record(refund_id: int, status: str, **kwargs) -> None:
    with own_transaction() as session:
        refund = session.get(Refund, refund_id, with_for_update=True)
        if refund.status != status or kwargs.get("external_id") not in (None, refund.external_id):
            set_state(session, refund, status, ACTOR, **kwargs)


def push_refund(message: Message) -> Sent:
    """``channel.refund``: create it once; a refund the channel has not confirmed is looked at again."""
    with own_session() as session:
        refund = session.get(Refund, message.payload["refund_id"])
        if refund is None:
            raise PermanentError(f"refund {message.payload['refund_id']} does not exist")
        if refund.status in ("succeeded", "failed"):
            return Sent(remote_id=refund.external_id, note=f"the refund is already {refund.status}")
        order = refund.order
        lines = {line.id: line for line in order.lines}
        request = RefundPush(order.external_id, refund.amount, refund.currency, refund.reason or "",
                             [WriteLine(str(lines[entry["line_id"]].external_id), int(entry["quantity"]),
                                        lines[entry["line_id"]].sku) for entry in refund.lines or []],
                             refund.shipping or Decimal("0"))
        connector = connector_for(order.channel)
        refund_id, state, remote_id = refund.id, refund.status, refund.external_id
    try:
        result = confirmed_once(
            message, connector, state=state, remote_id=remote_id, what="the refund",
            find=lambda key: connector.find_refund(request, key),
            create=lambda key: connector.create_refund(request, key),
            sent=lambda made: _record(refund_id, "sent", external_id=made))
    except PermanentError as exc:
        _record(refund_id, "failed", error=str(exc)[:2000])
        raise
    if result.state == "pending":
        raise waiting("the refund")
    _record(refund_id, "succeeded", external_id=result.remote_id)
    return Sent(remote_id=result.remote_id, note=result.note)
