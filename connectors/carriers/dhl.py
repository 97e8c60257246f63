"""DHL: the MyDHL API (Express) for rates and labels, the Unified Shipment Tracking API for
tracking every DHL division (CARRIERS.md).

Credentials: ``username``, ``password`` (MyDHL, HTTP Basic) and ``api_key`` (Unified Tracking,
header ``DHL-API-Key``); the Express account number is the account's ``account_number``.
MyDHL sits under the account's base URL (``/mydhlapi/...``: https://express.api.dhl.com), the
tracking API under its tracking URL (``/track/shipments``: https://api-eu.dhl.com), the base URL
when none is set.
DHL cannot void a label (an unused one is not billed): ``void`` only marks it with us. It has
no lookup of a label by our reference either: a purchase whose answer is lost waits for a
person. The tracking API has a daily quota and answers 429 past it (the session waits out
Retry-After, then the pass moves on and asks again later).
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable, Optional

from .base import (Account, Address, CarrierNotFound, CarrierPermanent, Label, Rate, ShipmentRequest,
                   TrackingEvent, TrackingUpdate, finish, merge)
from .common import call, iso_utc, money, purchase_session, session

CARRIER = "dhl"
TRACK_BATCH = 1  # Unified Tracking: one number a call
SERVICES = {"P": "DHL Express Worldwide", "D": "DHL Express Worldwide (documents)", "N": "DHL Express Domestic",
            "T": "DHL Express 12:00", "Y": "DHL Express 12:00", "K": "DHL Express 9:00",
            "U": "DHL Express Worldwide (EU)", "H": "DHL Economy Select", "W": "DHL Economy Select"}
# the Unified API's statusCode -> ours; a failure says what went wrong in its words (PROBLEMS)
STATUS_CODES = {"pre-transit": "pre_transit", "transit": "in_transit", "delivered": "delivered",
                "failure": "exception", "unknown": "unknown"}
# Express event titles (``status``) that say more than the statusCode -> (ours, problem)
CODES = {
    "WITH DELIVERY COURIER": ("out_for_delivery", None),
    "CUSTOMER NOT AVAILABLE OR BUSINESS CLOSED": ("failed_attempt", "failed_attempt"),
    "INCORRECT OR INCOMPLETE ADDRESS": ("exception", "address"),
    "SHIPMENT DAMAGED": ("exception", "damage"),
    "SHIPMENT ON HOLD": ("exception", "delay"),
    "DELAYED DUE TO WEATHER": ("exception", "delay"),
    "RETURNED TO SHIPPER": ("returned_to_sender", "returned"),
    "AWAITING COLLECTION AT SERVICE POINT": ("available_for_pickup", None),
}
PROBLEM_OF_STATUS = {"exception": "delay", "returned_to_sender": "returned"}


def connect(account: Account) -> "DHL":
    return DHL(account)


# --- pure parsing ---------------------------------------------------------------------------

def error_of(body: Any) -> tuple[Optional[str], str]:
    """(code, message) of a DHL problem body ``{"title", "status", "detail"}``."""
    return str(body.get("status") or body.get("title") or ""), body.get("detail") or body.get("title") or ""



def _event(raw: dict) -> Optional[TrackingEvent]:
    at = iso_utc(raw.get("timestamp"))
    if at is None:
        return None
    title = (raw.get("status") or "").strip().upper()
    if title in CODES:
        status, problem = CODES[title]
    else:
        status = STATUS_CODES.get(raw.get("statusCode") or "", "unknown")
        problem = PROBLEM_OF_STATUS.get(status)
    place = ((raw.get("location") or {}).get("address") or {}).get("addressLocality")
    return TrackingEvent(occurred_at=at, status=status, carrier_code=(title or raw.get("statusCode") or "")[:32],
        description=(raw.get("description") or raw.get("status") or "").strip(),
        location=place or None, problem=problem)


def _shipment_updates(shipment: dict) -> list[TrackingUpdate]:
    update = TrackingUpdate(tracking_number=str(shipment["id"]), status="unknown")
    for raw in shipment.get("events") or []:
        event = _event(raw)
        if event is not None:
            update.events.append(event)
    update.estimated_delivery = iso_utc(shipment.get("estimatedTimeOfDelivery"))
    finish(update)
    # an Express shipment of several pieces: each piece (our package numbers) follows it
    pieces = [str(p) for p in ((shipment.get("details") or {}).get("pieceIds") or []) if str(p) != update.tracking_number]
    return [update] + [TrackingUpdate(p, update.status, update.delivered_at, update.estimated_delivery,
                                      list(update.events)) for p in pieces]


def parse_tracking(raw: Any) -> list[TrackingUpdate]:
    """A Unified Tracking answer ``{"shipments": [...]}`` (a number in several shipments or
    divisions merged into one update); a 404 problem body raises ``CarrierNotFound``."""
    if not isinstance(raw, dict):
        raise CarrierPermanent("dhl: a tracking answer must be a JSON object", carrier=CARRIER)
    if "shipments" not in raw:
        code, message = error_of(raw)
        raise (CarrierNotFound if code == "404" else CarrierPermanent)(f"dhl: {message}", carrier=CARRIER, code=code)
    updates: dict[str, TrackingUpdate] = {}
    for shipment in raw.get("shipments") or []:
        if not shipment.get("id"):
            continue
        for update in _shipment_updates(shipment):
            merge(updates, update)
    return list(updates.values())


# --- requests -------------------------------------------------------------------------------

def _party(address: Address) -> dict:
    return {"postalAddress": {"postalCode": address.postcode, "cityName": address.city,
                              "countryCode": address.country, "addressLine1": address.street1,
                              "addressLine2": address.street2 or "", "provinceCode": address.region or ""},
            "contactInformation": {"fullName": address.name, "companyName": address.company or address.name,
                                   "phone": address.phone or "0000000000", "email": address.email or ""}}


def _export(request: ShipmentRequest) -> dict:
    return {"lineItems": [{"number": n, "description": line.description[:70], "quantity": {
                "value": line.quantity, "unitOfMeasurement": "PCS"},
                "price": float(line.value / max(1, line.quantity)),
                "commodityCodes": [{"typeCode": "outbound", "value": line.hs_code}],
                "manufacturerCountry": line.origin_country, "exportReasonType": "permanent",
                "weight": {"netValue": float(line.weight_kg), "grossValue": float(line.weight_kg)}}
                          for n, line in enumerate(request.customs, start=1)],
            "invoice": {"number": request.reference, "date": datetime.now(timezone.utc).date().isoformat()},
            "exportReason": "sale"}



def _planned() -> str:
    when = datetime.now(timezone.utc) + timedelta(hours=1)
    return when.strftime("%Y-%m-%dT%H:%M:%S GMT+00:00")


class DHL:
    def __init__(self, account: Account):
        self.account = account
        self.base = account.base_url.rstrip("/")
        self.tracking_base = (account.tracking_url or account.base_url).rstrip("/")
        self.http = session(account)
        creds = account.credentials
        self.auth = (creds.get("username", ""), creds.get("password", ""))

    def _express(self, method: str, path: str, *, purchase: bool = False, **kwargs) -> Any:
        http = purchase_session(self.account) if purchase else self.http
        return call(http, method, f"{self.base}/mydhlapi{path}", carrier=CARRIER, purchase=purchase,
                    errors=error_of, auth=self.auth, **kwargs)

    def rates(self, request: ShipmentRequest) -> list[Rate]:
        package = request.packages[0]
        weight = sum((p.weight_kg for p in request.packages), Decimal("0"))
        answer = self._express("GET", "/rates", params={
            "accountNumber": self.account.account_number or "", "originCountryCode": request.ship_from.country,
            "originCityName": request.ship_from.city, "originPostalCode": request.ship_from.postcode,
            "destinationCountryCode": request.ship_to.country, "destinationCityName": request.ship_to.city,
            "destinationPostalCode": request.ship_to.postcode, "weight": str(weight),
            "length": str(package.length_cm), "width": str(package.width_cm), "height": str(package.height_cm),
            "plannedShippingDate": datetime.now(timezone.utc).date().isoformat(),
            "isCustomsDeclarable": "true" if request.international else "false", "unitOfMeasurement": "metric"})
        rates = []
        for product in answer.get("products") or []:
            price = next((p for p in product.get("totalPrice") or [] if p.get("currencyType") == "BILLC"),
                         (product.get("totalPrice") or [{}])[0])
            days = (product.get("deliveryCapabilities") or {}).get("totalTransitDays")
            code = product.get("productCode", "")
            rates.append(Rate(carrier=CARRIER, service=code,
                              service_name=product.get("productName") or SERVICES.get(code, code),
                              amount=money(price.get("price")) or Decimal("0"),
                              currency=price.get("priceCurrency") or "USD",
                              days=int(days) if str(days or "").isdigit() else None))
        return sorted(rates, key=lambda r: r.amount)

    def buy_label(self, request: ShipmentRequest, rate: Rate) -> Label:
        request.require_customs(CARRIER)
        content = {"packages": [{"weight": float(p.weight_kg), "dimensions": {
                        "length": float(p.length_cm), "width": float(p.width_cm), "height": float(p.height_cm)}}
                                for p in request.packages],
                   "isCustomsDeclarable": request.international, "description": "Merchandise",
                   "incoterm": "DAP", "unitOfMeasurement": "metric"}
        if request.international:
            content.update({"declaredValue": float(sum((c.value for c in request.customs), Decimal("0"))),
                            "declaredValueCurrency": request.customs[0].currency, "exportDeclaration": _export(request)})
        answer = self._express("POST", "/shipments", purchase=True, json={
            "plannedShippingDateAndTime": _planned(), "pickup": {"isRequested": False}, "productCode": rate.service,
            "accounts": [{"typeCode": "shipper", "number": self.account.account_number or ""}],
            "outputImageProperties": {"encodingFormat": "zpl" if request.label_format == "ZPL" else "pdf",
                                      "imageOptions": [{"typeCode": "label", "templateName": "ECOM26_84_001"}]},
            "customerReferences": [{"value": request.reference[:35], "typeCode": "CU"}],
            "customerDetails": {"shipperDetails": _party(request.ship_from),
                                "receiverDetails": _party(request.ship_to)},
            "content": content})
        labels = [base64.b64decode(d["content"]) for d in answer.get("documents") or []
                  if d.get("typeCode") == "label" and d.get("content")]
        number = answer.get("shipmentTrackingNumber")
        if not number or not labels:
            raise CarrierPermanent("dhl: the answer holds no label", carrier=CARRIER, code="no_label")
        charge = next(iter(answer.get("shipmentCharges") or []), {})
        return Label(carrier=CARRIER, service=rate.service, tracking_number=str(number), format=request.label_format,
                     data=b"".join(labels), cost=money(charge.get("price")) or rate.amount,
                     currency=charge.get("priceCurrency") or rate.currency, carrier_shipment_id=str(number),
                     package_tracking_numbers=tuple(str(p["trackingNumber"]) for p in answer.get("packages") or []))

    def void(self, label: Label) -> None:
        """DHL has no void: an unused label is not billed. Marked void with us only."""
        return None

    def track(self, numbers: Iterable[str]) -> list[TrackingUpdate]:
        updates = []
        for number in numbers:
            try:
                answer = call(self.http, "GET", f"{self.tracking_base}/track/shipments", carrier=CARRIER, errors=error_of,
                              params={"trackingNumber": number},
                              headers={"DHL-API-Key": self.account.credentials.get("api_key", "")})
                updates += parse_tracking(answer)
            except CarrierNotFound:
                updates.append(TrackingUpdate(tracking_number=number, status="unknown"))
        return updates
