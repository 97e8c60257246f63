"""What returns do on events of other packages: the return parcel's tracking (fulfilment's
tracking of the label we bought) moves an authorized return to ``in_transit``."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Return
from app.services.core import domain_events
from app.services.returns import actions as returns

MOVING = ("in_transit", "out_for_delivery", "available_for_pickup", "delivered")


def parcel_tracked(session: Session, payload: dict) -> None:
    ret = session.get(Return, payload["return_id"])
    if ret is not None and ret.status == "authorized" and payload.get("status") in MOVING:
        returns.in_transit(session, ret.id, payload["actor"])


def register() -> None:
    domain_events.subscribe("return.parcel_tracked", parcel_tracked)
