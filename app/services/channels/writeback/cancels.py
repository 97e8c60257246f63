"""A cancel in Waybill cancels the order on its channel (``order.cancelled`` -> a
``channel.cancel`` message): Shopify ``orderCancel`` with the reason, refund and restock
choices of the cancel; WooCommerce status ``cancelled``; Amazon the order acknowledgement
feed, confirmed by its processing report. A cancel that came from the channel (an import)
is not sent back. The state is a ``ChannelPush`` row of kind ``cancel``."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ChannelPush, Order
from app.models.base import utcnow
from app.services.core import events, outbox
from app.services.core.actor import Actor
from app.services.core.outbox import Message, PermanentError, Sent
from connectors.writes import CancelPush

from .connection import confirmed_once, connector_for, group_key, own_session, own_transaction, pushed, waiting

TOPIC = "channel.cancel"
ACTOR = Actor.job("channel_writeback")


def order_cancelled(session: Session, payload: dict) -> None:
    """``order.cancelled``: queue the channel's cancel (not for a cancel the channel made)."""
    actor = payload.get("actor")
    if actor is not None and str(getattr(actor, "label", actor)).startswith("channel:"):
        return
    order = session.get(Order, payload["order_id"])
    if order is None or not pushed(order):
        return
    exists = session.scalar(select(ChannelPush.id).where(ChannelPush.order_id == order.id,
                                                         ChannelPush.kind == "cancel"))
    if exists:
        return
    now = utcnow()
    choices = {"reason": payload.get("reason") or "cancelled", "refund": bool(payload.get("refund", True)),
               "restock": bool(payload.get("restock", True))}
    push = ChannelPush(order_id=order.id, channel_id=order.channel_id, kind="cancel", status="pending",
                       lines=[{"line_id": line.id, "external_id": line.external_id, "quantity": line.quantity}
                              for line in order.lines], created_at=now, updated_at=now)
    session.add(push)
    session.flush()
    push.outbox_id = outbox.enqueue(session, TOPIC, order.channel.code, {"push_id": push.id, **choices},
                                    dedupe_key=f"{TOPIC}:order:{order.id}", group_key=group_key(order),
                                    order_id=order.id)


def _record(push_id: int, status: str, message: str, *, remote_id=None, error=None) -> None:
    with own_transaction() as session:
        push = session.get(ChannelPush, push_id, with_for_update=True)
        push.status, push.updated_at = status, utcnow()
        push.error = error
        if remote_id is not None:
            push.remote_id = remote_id
        events.order_event(session, push.order, ACTOR,
                           {"confirmed": "channel_cancelled", "failed": "channel_refused"}.get(status, "channel_cancel"),
                           message, {"push_id": push.id, "remote_id": push.remote_id})


def push_cancel(message: Message) -> Sent:
    """``channel.cancel``: cancel once; an accepted, unconfirmed cancel is looked at again."""
    with own_session() as session:
        push = session.get(ChannelPush, message.payload["push_id"])
        if push is None:
            raise PermanentError(f"channel push {message.payload['push_id']} does not exist")
        request = CancelPush(push.order.external_id, message.payload.get("reason") or "cancelled",
                             line_ids=[str(line["external_id"]) for line in push.lines or [] if line["external_id"]],
                             refund=message.payload.get("refund", True),
                             restock=message.payload.get("restock", True))
        connector = connector_for(push.channel)
        push_id, state, remote_id = push.id, push.status, push.remote_id
    try:
        result = confirmed_once(
            message, connector, state=state, remote_id=remote_id, what="the cancel",
            find=lambda key: connector.find_cancel(request, key),
            create=lambda key: connector.cancel_order(request, key),
            sent=lambda made: _record(push_id, "sent", "The channel accepted the cancel; waiting for its "
                                      "confirmation", remote_id=made))
    except PermanentError as exc:
        _record(push_id, "failed", f"The channel refused the cancel: {exc}", error=str(exc))
        raise
    if result.state == "pending":
        raise waiting("the cancel")
    _record(push_id, "confirmed", "The order is cancelled on the channel", remote_id=result.remote_id)
    return Sent(remote_id=result.remote_id, note=result.note)
