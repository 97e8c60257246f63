"""What returns do on events of other packages: the return parcel's tracking (fulfilment's
tracking of the label we bought, polled or pushed like a shipment's) is told on the order's
timeline and moves an authorized return to ``in_transit``; once delivered, the return is
expected at receiving (it is ``received`` when the warehouse scans it)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Return
from app.services.core import domain_events, events
from app.services.returns import actions as returns

MOVING = ("in_transit", "out_for_delivery", "available_for_pickup", "delivered")
# what the return page and the timeline say of the parcel's status
PARCEL_TEXT = {"pre_transit": "label created, not picked up yet", "in_transit": "in transit",
               "out_for_delivery": "out for delivery to the warehouse", "delivered": "delivered to the warehouse",
               "available_for_pickup": "waiting at a pickup point", "failed_attempt": "a delivery attempt failed",
               "exception": "held up (a carrier exception)", "returned_to_sender": "sent back to the customer"}


def parcel_text(status: str | None) -> str:
    return PARCEL_TEXT.get(status or "", (status or "").replace("_", " "))


def parcel_tracked(session: Session, payload: dict) -> None:
    ret = session.get(Return, payload["return_id"])
    if ret is None:
        return
    status, actor = payload.get("status"), payload["actor"]
    events.order_event(session, ret.order, actor, "return_parcel", f"Return {ret.rma_number} parcel: "
                       f"{parcel_text(status)}", {"return_id": ret.id, "status": status,
                                                  "tracking_number": ret.label_tracking})
    if ret.status == "authorized" and status in MOVING:
        returns.in_transit(session, ret.id, actor)


def register() -> None:
    domain_events.subscribe("return.parcel_tracked", parcel_tracked)
