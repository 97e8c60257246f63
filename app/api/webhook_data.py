"""What an outbound webhook's ``data`` is: the object as this API shows it (its detail
schemas), registered with app/services/notify/webhooks.py at app start — the web layer
hands its representation down, so the services never import it."""
from __future__ import annotations

from app.models import Order, Refund, Return, Shipment, StockLevel
from app.services.notify import webhooks
from .schemas.fulfillment import ShipmentDetailSchema
from .schemas.inventory import StockLevelOutSchema
from .schemas.orders import OrderDetailSchema
from .schemas.returns import RefundOutSchema, ReturnDetailSchema


def register() -> None:
    webhooks.represent("order", lambda session, payload: OrderDetailSchema().dump(
        session.get(Order, payload["order_id"])))
    webhooks.represent("shipment", lambda session, payload: ShipmentDetailSchema().dump(
        session.get(Shipment, payload["shipment_id"])))
    webhooks.represent("stock", lambda session, payload: StockLevelOutSchema().dump(
        session.get(StockLevel, payload["stock_level_id"])))
    webhooks.represent("return", lambda session, payload: ReturnDetailSchema().dump(
        session.get(Return, payload["return_id"])))
    webhooks.represent("refund", lambda session, payload: {
        **RefundOutSchema().dump(session.get(Refund, payload["refund_id"])), "order_id": payload["order_id"]})
