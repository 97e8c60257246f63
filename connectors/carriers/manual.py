"""The ``manual`` carrier: a tracking number typed by hand. No rates, no labels, no tracking."""
from __future__ import annotations

from typing import Any, Iterable

from .base import Account, CarrierPermanent, Label, Rate, ShipmentRequest, TrackingUpdate

CARRIER = "manual"
TRACK_BATCH = 0  # never polled


def connect(account: Account) -> "Manual":
    return Manual(account)


def parse_tracking(raw: Any) -> list[TrackingUpdate]:
    """Nothing is ever sent by a manual carrier: a list of typed numbers is all it knows."""
    numbers = raw.get("tracking_numbers", []) if isinstance(raw, dict) else []
    return [TrackingUpdate(tracking_number=str(n), status="unknown") for n in numbers]


class Manual:
    def __init__(self, account: Account):
        self.account = account

    def rates(self, request: ShipmentRequest) -> list[Rate]:
        return []

    def buy_label(self, request: ShipmentRequest, rate: Rate) -> Label:
        raise CarrierPermanent("manual: labels are not bought here; type the tracking number",
                               carrier=CARRIER, code="manual")

    def void(self, label: Label) -> None:
        return None  # nothing was bought: voiding only marks it with us

    def track(self, numbers: Iterable[str]) -> list[TrackingUpdate]:
        return [TrackingUpdate(tracking_number=n, status="unknown") for n in numbers]
