"""What the channel knows of an order, for the order page: each pushed fulfilment and its
state, the cancel and the refunds' sync state, and — only while a message of the order is
pending, sending, uncertain or dead — "not synced to channel" with the outbox's last error
(a person retries it from there)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ChannelPush, OutboxMessage, Refund

from .cancels import TOPIC as CANCEL_TOPIC
from .fulfilments import TOPIC as FULFILLMENT_TOPIC, TRACKING_TOPIC
from .refunds import TOPIC as REFUND_TOPIC

TOPICS = (FULFILLMENT_TOPIC, TRACKING_TOPIC, CANCEL_TOPIC, REFUND_TOPIC)
UNSYNCED = ("pending", "sending", "uncertain", "dead")


@dataclass
class ChannelView:
    fulfilments: list[ChannelPush] = field(default_factory=list)
    cancel: ChannelPush | None = None
    refunds: list[Refund] = field(default_factory=list)
    unsynced: list[OutboxMessage] = field(default_factory=list)  # not synced yet (or dead)

    @property
    def synced(self) -> bool:
        return not self.unsynced

    @property
    def anything(self) -> bool:
        return bool(self.fulfilments or self.cancel or self.refunds or self.unsynced)


def channel_view(session: Session, order_id: int) -> ChannelView:
    pushes = session.scalars(select(ChannelPush).where(ChannelPush.order_id == order_id)
                             .order_by(ChannelPush.id)).all()
    return ChannelView(
        fulfilments=[p for p in pushes if p.kind == "fulfillment"],
        cancel=next((p for p in pushes if p.kind == "cancel"), None),
        refunds=list(session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))),
        unsynced=list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.order_id == order_id, OutboxMessage.topic.in_(TOPICS),
            OutboxMessage.status.in_(UNSYNCED)).order_by(OutboxMessage.id))))
