"""The carrier contract (DESIGN.md "Carriers"): what every carrier module takes and answers.

Each module (``manual``, ``ups``, ``easypost``) offers ``connect(account) -> client`` whose
client has ``rates(request)``, ``buy_label(request, rate)``, ``void(label)``, ``track(numbers)``
(and ``recover_label(reference)`` where the carrier can find a label an unanswered purchase
made), plus a pure module-level ``parse_tracking(raw)``: a tracking response or webhook body
exactly as the carrier sends it -> one ``TrackingUpdate`` per tracking number in it.

Each carrier's status codes map to ours in one table per module; every event keeps the
carrier's own code and words beside our status.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Optional

STATUSES = ("pre_transit", "in_transit", "out_for_delivery", "available_for_pickup", "delivered",
            "failed_attempt", "exception", "returned_to_sender", "cancelled", "unknown")
# A parcel in one of these will not move again by itself.
FINAL_STATUSES = frozenset({"delivered", "returned_to_sender", "cancelled"})
LABEL_FORMATS = ("PDF", "ZPL")
# Why a delivery needs a person (the delivery exceptions queue), set by each carrier's table.
PROBLEMS = ("failed_attempt", "address", "damage", "delay", "returned")


@dataclass(frozen=True)
class Account:
    """What a connector needs of a carrier account (plain data: no ORM object)."""
    code: str
    kind: str
    base_url: str
    credentials: dict
    account_number: Optional[str] = None
    tracking_url: Optional[str] = None  # the tracking API's root where it is not base_url (DHL)
    time_scale: float = 1.0
    timeout: tuple[float, float] = (5.0, 30.0)


@dataclass(frozen=True)
class Address:
    name: str
    street1: str
    city: str
    postcode: str
    country: str
    street2: Optional[str] = None
    region: Optional[str] = None
    phone: Optional[str] = None
    email: Optional[str] = None
    company: Optional[str] = None


@dataclass(frozen=True)
class Package:
    weight_kg: Decimal
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal


@dataclass(frozen=True)
class CustomsLine:
    """One line of a customs declaration (international shipments)."""
    description: str
    quantity: int
    value: Decimal  # of the whole line
    currency: str
    weight_kg: Decimal  # of the whole line
    hs_code: str
    origin_country: str
    sku: Optional[str] = None


@dataclass(frozen=True)
class ShipmentRequest:
    ship_from: Address
    ship_to: Address
    packages: tuple[Package, ...]
    reference: str  # ours, unique per purchase: the carrier keeps it (label recovery)
    label_format: str = "PDF"
    customs: tuple[CustomsLine, ...] = ()  # international shipments: sent with the label

    @property
    def international(self) -> bool:
        return self.ship_from.country.upper() != self.ship_to.country.upper()

    def require_customs(self, carrier: str) -> None:
        """Carriers that refuse an international label without a declaration: say so before
        anything is sent."""
        if self.international and not self.customs:
            raise CarrierPermanent(f"{carrier}: an international shipment needs customs lines",
                                   carrier=carrier, code="customs_required")


@dataclass(frozen=True)
class Rate:
    carrier: str
    service: str  # the carrier's service code
    service_name: str
    amount: Decimal
    currency: str
    days: Optional[int] = None
    rate_id: Optional[str] = None  # EasyPost: the rate to buy
    carrier_shipment_id: Optional[str] = None  # EasyPost: stored before buying


@dataclass(frozen=True)
class Label:
    carrier: str
    service: str
    tracking_number: str
    format: str
    data: bytes
    cost: Optional[Decimal]
    currency: Optional[str]
    carrier_shipment_id: Optional[str] = None
    package_tracking_numbers: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrackingEvent:
    occurred_at: datetime  # aware UTC
    status: str
    carrier_code: str
    description: str
    location: Optional[str] = None
    # what a person must look at (PROBLEMS), from the carrier's code, or None
    problem: Optional[str] = None


@dataclass
class TrackingUpdate:
    tracking_number: str
    status: str
    delivered_at: Optional[datetime] = None
    estimated_delivery: Optional[datetime] = None
    events: list[TrackingEvent] = field(default_factory=list)

    def latest(self) -> Optional[TrackingEvent]:
        """The event latest by time (not by its place in the answer; of two at the same
        time, the later in the sorted list)."""
        ranked = max(enumerate(self.events), key=lambda p: (p[1].occurred_at, p[0]), default=None)
        return ranked[1] if ranked else None


def finish(update: TrackingUpdate) -> TrackingUpdate:
    """Events sorted by time; the status is the latest event's when the carrier gave none."""
    update.events.sort(key=lambda e: e.occurred_at)
    latest = update.latest()
    if update.status == "unknown" and latest is not None:
        update.status = latest.status
    if update.delivered_at is None and update.status == "delivered" and latest is not None:
        update.delivered_at = latest.occurred_at
    return update


def merge(updates: dict[str, TrackingUpdate], update: TrackingUpdate) -> None:
    """Add ``update`` to ``updates`` by number: a number already there (an answer repeating it,
    or holding it in several shipments) becomes one update with the events of both."""
    seen = updates.get(update.tracking_number)
    if seen is not None:
        known = {(e.occurred_at, e.carrier_code) for e in seen.events}
        seen.events += [e for e in update.events if (e.occurred_at, e.carrier_code) not in known]
        seen.status = "unknown"
        seen.estimated_delivery = seen.estimated_delivery or update.estimated_delivery
        update = finish(seen)
    updates[update.tracking_number] = update


# --- errors ---------------------------------------------------------------------------------

class CarrierError(Exception):
    """Talking to a carrier failed. ``retryable``: the same request may pass later."""
    retryable = False

    def __init__(self, message: str, *, carrier: Optional[str] = None, status: Optional[int] = None,
                 code: Optional[str] = None, retry_after: Optional[float] = None):
        super().__init__(message)
        self.message, self.carrier, self.status, self.code = message, carrier, status, code
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class CarrierRetryable(CarrierError):
    """5xx, 429, a refused connection: nothing happened at the carrier; try again later."""
    retryable = True


class CarrierPermanent(CarrierError):
    """The carrier refused the request (bad address, unknown service, credentials): a person fixes it."""


class CarrierNotFound(CarrierPermanent):
    """The carrier does not know the object (tracking number, shipment)."""


class CarrierOutcomeUnknown(CarrierError):
    """The request may have been acted on (a timeout after sending, a broken answer): for a
    label, look for it before buying again (``recover_label``), never buy blindly."""
    retryable = True


def join_location(*parts: Optional[str]) -> Optional[str]:
    shown = ", ".join(p.strip() for p in parts if p and str(p).strip())
    return shown or None
