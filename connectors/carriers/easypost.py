"""EasyPost (an aggregator) through its official ``easypost`` SDK, ``api_base`` set to the
account's URL + ``/v2`` (the sandbox's ``/easypost/v2``): shipments with rates, buy, refund,
trackers, and the ``tracker.updated`` events it POSTs (HMAC-signed, ``X-Hmac-Signature``).

The SDK brings its own ``requests`` session (60 s timeout, 3 connection retries): the one
exception to "all HTTP through connectors/http.py" (CARRIERS.md). We set its timeout to ours
and its retries to none — a retried purchase could buy twice; our callers retry instead.
The label document is downloaded from ``postage_label.label_url`` on our own session.

One parcel per shipment (EasyPost's multi-parcel "orders" are not used yet). The shipment id
is known before ``/buy``: a purchase whose answer was lost is found by retrieving it.
"""
from __future__ import annotations

import hashlib
import hmac
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Optional

import easypost
import requests
from easypost import errors as ep_errors

from ..http import EnvironmentOnceSession
from ..errors import InvalidPayload
from ..parsing import parse_time
from .base import (Account, Address, CarrierError, CarrierNotFound, CarrierOutcomeUnknown, CarrierPermanent,
                   CarrierRetryable, Label, Rate, ShipmentRequest, TrackingEvent, TrackingUpdate, finish,
                   join_location)
from .common import session

CARRIER = "easypost"
TRACK_BATCH = 1  # a tracker per number

# EasyPost status -> ours
STATUSES = {"unknown": "unknown", "pre_transit": "pre_transit", "in_transit": "in_transit",
            "out_for_delivery": "out_for_delivery", "delivered": "delivered",
            "available_for_pickup": "available_for_pickup", "return_to_sender": "returned_to_sender",
            "failure": "exception", "cancelled": "cancelled", "error": "exception"}
# status_detail -> (our status, the problem a person looks at); wins over the status
DETAILS = {
    "delivery_exception": ("failed_attempt", "failed_attempt"),
    "address_correction": ("exception", "address"),
    "damaged": ("exception", "damage"),
    "delayed": ("exception", "delay"),
    "weather_delay": ("exception", "delay"),
    "return": ("returned_to_sender", "returned"),
    "refused": ("returned_to_sender", "returned"),
    "arrived_at_pickup_location": ("available_for_pickup", None),
    "label_created": ("pre_transit", None),
}
PROBLEM_OF_STATUS = {"return_to_sender": "returned", "failure": "delay", "error": "delay"}
GRAMS_PER_OUNCE = Decimal("28.349523125")
CM_PER_INCH = Decimal("2.54")


def connect(account: Account) -> "EasyPost":
    return EasyPost(account)


# --- pure parsing ---------------------------------------------------------------------------

def verify_signature(body: bytes, header: Optional[str], secret: str) -> bool:
    """EasyPost's webhook HMAC: ``X-Hmac-Signature: hmac-sha256-hex=<hex>`` over the raw body
    with the webhook secret (NFKD-normalised, as the SDK's ``validate_webhook`` does)."""
    if not header or not secret:
        return False
    key = unicodedata.normalize("NFKD", secret).encode()
    expected = "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def _status(status: Optional[str], detail: Optional[str]) -> tuple[str, Optional[str]]:
    if detail in DETAILS:
        return DETAILS[detail]
    return STATUSES.get(status or "unknown", "unknown"), PROBLEM_OF_STATUS.get(status or "")


def _time(value: Any):
    try:
        return parse_time(value, naive_is_utc=True)
    except InvalidPayload:
        return None


def _tracker_update(tracker: dict) -> TrackingUpdate:
    status, _ = _status(tracker.get("status"), None)
    update = TrackingUpdate(tracking_number=tracker["tracking_code"], status=status,
                            estimated_delivery=_time(tracker.get("est_delivery_date")))
    for detail in tracker.get("tracking_details") or []:
        at = _time(detail.get("datetime"))
        if at is None:
            continue
        ours, problem = _status(detail.get("status"), detail.get("status_detail"))
        where = detail.get("tracking_location") or {}
        update.events.append(TrackingEvent(
            occurred_at=at, status=ours,
            carrier_code=detail.get("carrier_code") or detail.get("status_detail") or detail.get("status") or "",
            description=(detail.get("message") or detail.get("description") or "").strip(),
            location=join_location(where.get("city"), where.get("state"), where.get("country")),
            problem=problem))
    update.status = "unknown" if update.events else update.status
    return finish(update)


def parse_tracking(raw: Any) -> list[TrackingUpdate]:
    """A Tracker, a list of trackers (``{"trackers": [...]}``) or a ``tracker.updated`` Event
    -> one update per tracking code. A tracker EasyPost cannot follow yet (status
    ``unknown``, no details) is an update without events; an error body raises."""
    if not isinstance(raw, dict):
        raise CarrierPermanent("easypost: a tracking answer must be a JSON object", carrier=CARRIER)
    if "error" in raw:
        error = raw["error"] or {}
        code = error.get("code", "")
        cls = CarrierNotFound if "NOT_FOUND" in code else CarrierPermanent
        raise cls(f"easypost: {error.get('message', code)}", carrier=CARRIER, code=code)
    if raw.get("object") == "Event":
        raw = raw.get("result") or {}
    trackers = raw.get("trackers") if "trackers" in raw else [raw]
    updates: dict[str, TrackingUpdate] = {}
    for tracker in trackers:
        if tracker.get("tracking_code"):
            updates[tracker["tracking_code"]] = _tracker_update(tracker)
    return list(updates.values())


# --- requests -------------------------------------------------------------------------------

def _address(address: Address) -> dict:
    return {"name": address.name, "company": address.company, "street1": address.street1,
            "street2": address.street2, "city": address.city, "state": address.region,
            "zip": address.postcode, "country": address.country, "phone": address.phone,
            "email": address.email}


def _money(value: Any) -> Optional[Decimal]:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError):
        return None


def _sdk_error(exc: Exception, *, purchase: bool) -> CarrierError:
    status = getattr(exc, "http_status", None)
    message = f"easypost: {getattr(exc, 'message', None) or exc}"
    if isinstance(exc, (ep_errors.TimeoutError, ep_errors.HttpError, ep_errors.JsonError)) or (
            status is not None and status >= 500):
        cls = CarrierOutcomeUnknown if purchase else CarrierRetryable
        return cls(message, carrier=CARRIER, status=status)
    if status == 429:
        return CarrierRetryable(message, carrier=CARRIER, status=status)
    if status == 404:
        return CarrierNotFound(message, carrier=CARRIER, status=status)
    return CarrierPermanent(message, carrier=CARRIER, status=status)


class EasyPost:
    def __init__(self, account: Account):
        self.account = account
        self.base = account.base_url.rstrip("/")
        self.client = easypost.EasyPostClient(account.credentials.get("api_key", ""),
                                              api_base=f"{self.base}/v2", timeout=account.timeout)
        # the SDK's own session, but reading the environment once (connectors.http)
        self.client._requests_session = EnvironmentOnceSession()
        adapter = requests.adapters.HTTPAdapter(max_retries=0)  # see the module's note
        self.client._requests_session.mount(self.base, adapter)
        self.http = session(account)

    def _sdk(self, fn: Callable[[], Any], *, purchase: bool = False) -> Any:
        try:
            return fn()
        except ep_errors.EasyPostError as exc:
            raise _sdk_error(exc, purchase=purchase) from None

    def rates(self, request: ShipmentRequest) -> list[Rate]:
        if len(request.packages) != 1:
            raise CarrierPermanent("easypost: one package per shipment", carrier=CARRIER, code="packages")
        package = request.packages[0]
        shipment = self._sdk(lambda: self.client.shipment.create(
            from_address=_address(request.ship_from), to_address=_address(request.ship_to),
            parcel={"length": float(package.length_cm / CM_PER_INCH), "width": float(package.width_cm / CM_PER_INCH),
                    "height": float(package.height_cm / CM_PER_INCH),
                    "weight": float(package.weight_kg * 1000 / GRAMS_PER_OUNCE)},
            reference=request.reference,
            options={"label_format": "ZPL" if request.label_format == "ZPL" else "PDF", "label_size": "4x6"}))
        rates = [Rate(carrier=CARRIER, service=f"{r.carrier}:{r.service}", service_name=f"{r.carrier} {r.service}",
                      amount=_money(r.rate) or Decimal("0"), currency=r.currency,
                      days=getattr(r, "delivery_days", None), rate_id=r.id, carrier_shipment_id=shipment.id)
                 for r in shipment.rates]
        return sorted(rates, key=lambda r: r.amount)

    def _label(self, shipment: Any, label_format: str) -> Label:
        postage = shipment.postage_label
        url = (getattr(postage, "label_zpl_url", None) if label_format == "ZPL"
               else getattr(postage, "label_pdf_url", None)) or postage.label_url
        response = self.http.request("GET", url)
        selected = shipment.selected_rate
        return Label(carrier=CARRIER, service=f"{selected.carrier}:{selected.service}",
                     tracking_number=shipment.tracking_code, format=label_format, data=response.content,
                     cost=_money(selected.rate), currency=selected.currency, carrier_shipment_id=shipment.id,
                     package_tracking_numbers=(shipment.tracking_code,))

    def buy_label(self, request: ShipmentRequest, rate: Rate) -> Label:
        if not rate.carrier_shipment_id or not rate.rate_id:
            raise CarrierPermanent("easypost: buy a rate from rates() (it names the shipment)", carrier=CARRIER)
        shipment = self._sdk(lambda: self.client.shipment.buy(rate.carrier_shipment_id, rate={"id": rate.rate_id}),
                             purchase=True)
        return self._label(shipment, request.label_format)

    def recover_label(self, carrier_shipment_id: str, label_format: str = "PDF") -> Optional[Label]:
        """The label of a shipment whose purchase went unanswered, or None when it was not bought."""
        shipment = self._sdk(lambda: self.client.shipment.retrieve(carrier_shipment_id))
        if not getattr(shipment, "tracking_code", None) or not getattr(shipment, "postage_label", None):
            return None
        return self._label(shipment, label_format)

    def void(self, label: Label) -> None:
        shipment = self._sdk(lambda: self.client.shipment.refund(label.carrier_shipment_id))
        if getattr(shipment, "refund_status", None) == "rejected":
            raise CarrierPermanent("easypost: the refund was rejected", carrier=CARRIER, code="rejected")

    def track(self, numbers: Iterable[str], carrier: Optional[str] = None) -> list[TrackingUpdate]:
        updates = []
        for number in numbers:
            tracker = self._sdk(lambda: self.client.tracker.create(tracking_code=number, carrier=carrier)
                                if carrier else self.client.tracker.create(tracking_code=number))
            updates += parse_tracking(tracker.to_dict())
        return updates
