"""Channel write-back (DESIGN.md "Channel write-back"): fulfilments with tracking
(``fulfilments``), cancellations (``cancels``) and refunds (``refunds``) sent to the order's
channel through the outbox, each exactly once — the connector looks for what an earlier
attempt made (our key) before creating — and what the channel knows of them (``status``).
The messages of an order share one group per channel, so a refund never overtakes the
fulfilment before it. ``register`` (at app start) subscribes to ``shipment.created`` and
``order.cancelled`` and registers the topics' handlers."""
from app.services.core import domain_events, outbox

from . import cancels, fulfilments, refunds, status

__all__ = ["cancels", "fulfilments", "refunds", "status", "register"]


def register() -> None:
    outbox.register(fulfilments.TOPIC, fulfilments.push_fulfillment)
    outbox.register(fulfilments.TRACKING_TOPIC, fulfilments.push_tracking)
    outbox.register(cancels.TOPIC, cancels.push_cancel)
    outbox.register(refunds.TOPIC, refunds.push_refund)
    domain_events.subscribe("shipment.created", fulfilments.shipment_created)
    domain_events.subscribe("order.cancelled", cancels.order_cancelled)
