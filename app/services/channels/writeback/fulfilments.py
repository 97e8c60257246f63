"""Fulfilments with tracking, pushed to the channel once per shipment (DESIGN.md "Channel
write-back"): ``shipment.created`` queues a ``channel.fulfillment`` message with this
shipment's lines only (a partial shipment pushes its part); a new tracking number queues
``channel.tracking``; a label voided after its push cancels the channel's fulfilment
(Shopify ``fulfillmentCancel``) or, where the channel cannot undo it (Amazon), is refused
with that reason. Each push's state is a ``ChannelPush`` row: what the order page shows."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ChannelPush, Order, Shipment
from app.models.base import utcnow
from app.services.core import events, outbox, settings
from app.services.core.actor import Actor
from app.services.core.errors import Conflict
from app.services.core.outbox import Message, PermanentError, Sent
from connectors.writes import FulfillmentPush, WriteLine

from .connection import call, connector_for, group_key, once, own_session, own_transaction, pushed

TOPIC = "channel.fulfillment"
TRACKING_TOPIC = "channel.tracking"
ACTOR = Actor.job("channel_writeback")


# --- in the shipment's transaction ---------------------------------------------------------------

def shipment_created(session: Session, payload: dict) -> None:
    """``shipment.created``: record the push and queue it (nothing for orders not pushed)."""
    shipment = session.get(Shipment, payload["shipment_id"])
    if shipment is None or not pushed(shipment.order):
        return
    order = shipment.order
    session.flush()  # the shipment's lines may be new: by their order line ids
    lines = {line.id: line for line in order.lines}
    now = utcnow()
    push = ChannelPush(order_id=order.id, channel_id=order.channel_id, kind="fulfillment",
                       shipment_id=shipment.id, status="pending", tracking_number=shipment.tracking_number,
                       lines=[{"line_id": sl.order_line_id, "external_id": lines[sl.order_line_id].external_id,
                               "sku": lines[sl.order_line_id].sku, "quantity": sl.quantity}
                              for sl in shipment.lines],
                       created_at=now, updated_at=now)
    session.add(push)
    session.flush()
    push.outbox_id = outbox.enqueue(session, TOPIC, order.channel.code, {"push_id": push.id},
                                    dedupe_key=f"{TOPIC}:shipment:{shipment.id}", group_key=group_key(order),
                                    order_id=order.id)


def _push_of(session: Session, shipment_id: int) -> ChannelPush | None:
    return session.scalar(select(ChannelPush).where(ChannelPush.kind == "fulfillment",
                                                    ChannelPush.shipment_id == shipment_id)
                          .with_for_update())


def tracking_changed(session: Session, shipment_id: int, actor: Actor) -> int | None:
    """The shipment's tracking number changed: tell the channel (after its fulfilment, in
    the order's group). Call in the transaction that changed it."""
    push = _push_of(session, shipment_id)
    if push is None or push.status in ("failed", "cancelled"):
        return None
    shipment = session.get(Shipment, shipment_id)
    number = shipment.tracking_number
    if number == push.tracking_number and push.status == "confirmed":
        return None
    events.order_event(session, shipment.order, actor, "channel_tracking_queued",
                       f"New tracking number {number} queued for {shipment.order.channel.code}",
                       {"shipment_id": shipment_id, "tracking_number": number})
    return outbox.enqueue(session, TRACKING_TOPIC, shipment.order.channel.code,
                          {"push_id": push.id, "tracking_number": number},
                          dedupe_key=f"{TRACKING_TOPIC}:shipment:{shipment_id}:{number}",
                          group_key=group_key(shipment.order), order_id=shipment.order_id)


def void_pushed(session: Session, shipment_id: int, actor: Actor) -> int | None:
    """A label is being voided: cancel the channel's fulfilment of its shipment, or refuse
    (``Conflict``) where the channel cannot undo one (Amazon). Call in the void's transaction:
    a refusal rolls the void back."""
    push = _push_of(session, shipment_id)
    if push is None or push.status in ("failed", "cancelled"):
        return None
    channel = push.channel
    if channel.kind == "amazon":
        raise Conflict(f"Shipment {shipment_id} was confirmed to Amazon, which cannot undo a shipment "
                       "confirmation: the label cannot be voided")
    if channel.kind == "woocommerce":
        return None  # a customer note cannot be taken back; nothing to cancel
    events.order_event(session, push.order, actor, "channel_fulfillment_cancel_queued",
                       f"Fulfilment of shipment {shipment_id} to be cancelled on {channel.code}",
                       {"shipment_id": shipment_id})
    return outbox.enqueue(session, TOPIC, channel.code, {"push_id": push.id, "action": "cancel"},
                          dedupe_key=f"{TOPIC}:shipment:{shipment_id}:cancel", group_key=group_key(push.order),
                          order_id=push.order_id)


# --- the handlers (sender's worker threads) ----------------------------------------------------

def _request(session: Session, push: ChannelPush) -> FulfillmentPush:
    order: Order = push.order
    shipment: Shipment = push.shipment
    known = tuple(r for r in session.scalars(select(ChannelPush.remote_id).where(
        ChannelPush.order_id == order.id, ChannelPush.id != push.id, ChannelPush.remote_id.is_not(None))))
    complete = all(line.quantity_open == 0 for line in order.lines)
    wanted = settings.get_many(session, ["channel_notify_customer", "woocommerce_shipment_tracking"])
    return FulfillmentPush(
        order_external_id=order.external_id, shipped_at=shipment.shipped_at or shipment.created_at,
        lines=[WriteLine(str(line["external_id"]), int(line["quantity"]), line.get("sku"))
               for line in push.lines or []],
        carrier=shipment.carrier, service=shipment.service, tracking_number=shipment.tracking_number,
        notify_customer=bool(wanted["channel_notify_customer"]), complete=complete,
        tracking_meta=bool(wanted["woocommerce_shipment_tracking"]), known_ids=known)


def _record(push_id: int, *, status: str, remote_id: str | None = None, tracking: str | None = None,
            error: str | None = None, message: str, event: str) -> None:
    with own_transaction() as session:
        push = session.get(ChannelPush, push_id, with_for_update=True)
        push.status, push.error, push.updated_at = status, error, utcnow()
        if remote_id is not None:
            push.remote_id = remote_id
        if tracking is not None:
            push.tracking_number = tracking
        events.order_event(session, push.order, ACTOR, event, message,
                           {"push_id": push.id, "shipment_id": push.shipment_id, "remote_id": push.remote_id})


def _refused(push_id: int, what: str, exc: PermanentError) -> None:
    _record(push_id, status="failed", error=str(exc), event="channel_refused",
            message=f"The channel refused {what}: {exc}")


def push_fulfillment(message: Message) -> Sent:
    """``channel.fulfillment``: create the fulfilment once (or cancel it: ``action``)."""
    with own_session() as session:
        push = session.get(ChannelPush, message.payload["push_id"])
        if push is None:
            raise PermanentError(f"channel push {message.payload['push_id']} does not exist")
        if message.payload.get("action") == "cancel":
            return _cancel(push, message)
        request = _request(session, push)
        connector = connector_for(push.channel)
        push_id, shipment_id, tracking = push.id, push.shipment_id, request.tracking_number
    try:
        result = once(message, find=lambda key: connector.find_fulfillment(request, key),
                      create=lambda key: connector.push_fulfillment(request, key))
        if hasattr(connector, "complete_fulfillment"):  # WooCommerce: tracking meta, completed
            call(lambda: connector.complete_fulfillment(request, message.idempotency_key))
    except PermanentError as exc:
        _refused(push_id, f"the fulfilment of shipment {shipment_id}", exc)
        raise
    _record(push_id, status="confirmed", remote_id=result.remote_id, tracking=tracking,
            event="channel_fulfillment", message=f"Shipment {shipment_id} is fulfilled on the channel"
            + (f" (tracking {tracking})" if tracking else ""))
    return Sent(remote_id=result.remote_id, note=result.note)


def _cancel(push: ChannelPush, message: Message) -> Sent:
    connector = connector_for(push.channel)
    push_id, remote_id, external_id = push.id, push.remote_id, push.order.external_id
    try:
        if not remote_id:
            raise PermanentError("the fulfilment was never made on the channel: nothing to cancel")
        result = call(lambda: connector.cancel_fulfillment(external_id, remote_id))
    except PermanentError as exc:
        _record(push_id, status="confirmed", error=str(exc), event="channel_refused",
                message=f"The channel refused to cancel the fulfilment: {exc}")
        raise
    _record(push_id, status="cancelled", event="channel_fulfillment_cancelled",
            message="The fulfilment is cancelled on the channel (its label was voided)")
    return Sent(remote_id=result.remote_id, note=result.note)


def push_tracking(message: Message) -> Sent:
    """``channel.tracking``: the channel's fulfilment gets the new number (WooCommerce: a
    note, made once by our key)."""
    number = message.payload["tracking_number"]
    with own_session() as session:
        push = session.get(ChannelPush, message.payload["push_id"])
        if push is None or push.status in ("failed", "cancelled"):
            return Sent(note="the fulfilment is not on the channel: nothing to update")
        if not push.remote_id:
            raise PermanentError("the fulfilment has no channel id yet")
        shipment = push.shipment
        connector = connector_for(push.channel)
        push_id, remote_id, external_id, carrier = push.id, push.remote_id, push.order.external_id, shipment.carrier
        url = None
    try:
        if hasattr(connector, "find_tracking"):  # a note: made once by our key
            result = once(message, find=lambda key: connector.find_tracking(external_id, key),
                          create=lambda key: connector.push_tracking(external_id, remote_id, carrier, number,
                                                                      url, key=key))
        else:  # an update of the fulfilment: the same again is harmless
            result = call(lambda: connector.push_tracking(external_id, remote_id, carrier, number, url))
    except PermanentError as exc:
        _record(push_id, status="confirmed", error=str(exc), event="channel_refused",
                message=f"The channel refused the tracking number {number}: {exc}")
        raise
    _record(push_id, status="confirmed", tracking=number, event="channel_tracking",
            message=f"The channel has the tracking number {number}")
    return Sent(remote_id=result.remote_id)
