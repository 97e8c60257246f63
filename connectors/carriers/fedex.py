"""FedEx (its OAuth REST APIs, CARRIERS.md): rate quotes, ship (PDF or ZPLII), cancel, Ground
end-of-day close, and tracking up to 30 numbers a call.

Credentials: ``client_id``, ``client_secret`` (Ship, Rate) and ``track_client_id``,
``track_client_secret`` — FedEx issues the Track API its own project keys; without them the
shipping keys are used. The account number is the account's ``account_number``.
"""
from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any, Iterable, Optional

from .base import (Account, Address, CarrierNotFound, CarrierPermanent, Label, Rate, ShipmentRequest,
                   TrackingEvent, TrackingUpdate, finish, merge, join_location)
from .common import TokenCache, call, iso_utc, money, purchase_session, session, with_fresh_token

CARRIER = "fedex"
TRACK_BATCH = 30  # the Track API takes up to 30 numbers a call
SERVICES = {"FEDEX_GROUND": "FedEx Ground", "GROUND_HOME_DELIVERY": "FedEx Home Delivery",
            "FEDEX_EXPRESS_SAVER": "FedEx Express Saver", "FEDEX_2_DAY": "FedEx 2Day",
            "STANDARD_OVERNIGHT": "FedEx Standard Overnight", "PRIORITY_OVERNIGHT": "FedEx Priority Overnight",
            "INTERNATIONAL_ECONOMY": "FedEx International Economy",
            "INTERNATIONAL_PRIORITY": "FedEx International Priority"}
GROUND = ("FEDEX_GROUND", "GROUND_HOME_DELIVERY")
TRANSIT_DAYS = {"ONE_DAY": 1, "TWO_DAYS": 2, "THREE_DAYS": 3, "FOUR_DAYS": 4, "FIVE_DAYS": 5, "SIX_DAYS": 6,
                "SEVEN_DAYS": 7, "EIGHT_DAYS": 8, "NINE_DAYS": 9, "TEN_DAYS": 10}
# scan event type (derivedStatusCode when the type is missing) -> ours
CODES = {
    "OC": ("pre_transit", None),  # Shipment information sent to FedEx
    "PU": ("in_transit", None), "AR": ("in_transit", None), "DP": ("in_transit", None),
    "IT": ("in_transit", None), "AF": ("in_transit", None), "IN": ("in_transit", None),
    "OD": ("out_for_delivery", None),  # On FedEx vehicle for delivery
    "DL": ("delivered", None),
    "HL": ("available_for_pickup", None),  # Ready for pickup at a FedEx location
    "DY": ("exception", "delay"), "SE": ("exception", "delay"), "CD": ("exception", "delay"),
    "RS": ("returned_to_sender", "returned"),  # Returning package to shipper
    "CA": ("cancelled", None),  # Shipment cancelled by sender
}
# a delivery exception (DE) says what went wrong in its exceptionCode
EXCEPTIONS = {"08": ("failed_attempt", "failed_attempt"),  # Recipient not in
              "07": ("exception", "damage"),  # Package damaged
              "03": ("exception", "address"),  # Incorrect address
              "04": ("exception", "address")}  # Recipient moved
NOT_FOUND = ("TRACKING.TRACKINGNUMBER.NOTFOUND", "TRACKING.TRACKINGNUMBER.INVALID")

_tokens = TokenCache()


def connect(account: Account) -> "FedEx":
    return FedEx(account)


# --- pure parsing ---------------------------------------------------------------------------

def error_of(body: Any) -> tuple[Optional[str], str]:
    """(code, message) of a FedEx error body ``{"errors": [{"code", "message"}]}``."""
    first = (body.get("errors") or [{}])[0]
    return first.get("code"), first.get("message", "")



def _status(scan: dict) -> tuple[str, Optional[str]]:
    code = scan.get("eventType") or scan.get("derivedStatusCode") or ""
    if code == "DE":
        return EXCEPTIONS.get(scan.get("exceptionCode") or "", ("exception", "delay"))
    return CODES.get(code, ("unknown", None))


def _event(scan: dict) -> Optional[TrackingEvent]:
    at = iso_utc(scan.get("date"))
    if at is None:
        return None
    status, problem = _status(scan)
    place = scan.get("scanLocation") or {}
    words = scan.get("eventDescription") or ""
    if scan.get("exceptionDescription"):
        words = f"{words}: {scan['exceptionDescription']}" if words else scan["exceptionDescription"]
    return TrackingEvent(occurred_at=at, status=status, carrier_code=(scan.get("eventType") or "")[:32],
                         description=words.strip(), problem=problem,
                         location=join_location(place.get("city"), place.get("stateOrProvinceCode"),
                                                place.get("countryCode")))


def _result_update(number: str, result: dict) -> TrackingUpdate:
    update = TrackingUpdate(tracking_number=number, status="unknown")
    for scan in result.get("scanEvents") or []:
        event = _event(scan)
        if event is not None:
            update.events.append(event)
    for entry in result.get("dateAndTimes") or []:
        when = iso_utc(entry.get("dateTime"))
        if entry.get("type") == "ESTIMATED_DELIVERY" and when:
            update.estimated_delivery = when
        elif entry.get("type") == "ACTUAL_DELIVERY" and when:
            update.delivered_at = when
    return finish(update)


def parse_tracking(raw: Any) -> list[TrackingUpdate]:
    """A Track API answer: one update per number (a number FedEx does not know -> ``unknown``
    without events; a number repeated or in several results -> one update with all events)."""
    if not isinstance(raw, dict):
        raise CarrierPermanent("fedex: a tracking answer must be a JSON object", carrier=CARRIER)
    if raw.get("errors") and not raw.get("output"):
        code, message = error_of(raw)
        cls = CarrierNotFound if code in NOT_FOUND else CarrierPermanent
        raise cls(f"fedex: {message}", carrier=CARRIER, code=code)
    updates: dict[str, TrackingUpdate] = {}
    for complete in (raw.get("output") or {}).get("completeTrackResults") or []:
        for result in complete.get("trackResults") or []:
            number = ((result.get("trackingNumberInfo") or {}).get("trackingNumber")
                      or complete.get("trackingNumber"))
            if not number:
                continue
            update = _result_update(number, result) if not result.get("error") else TrackingUpdate(number, "unknown")
            merge(updates, update)
    return list(updates.values())


# --- requests -------------------------------------------------------------------------------

def _address(address: Address) -> dict:
    return {"streetLines": [line for line in (address.street1, address.street2) if line], "city": address.city,
            "stateOrProvinceCode": address.region or "", "postalCode": address.postcode,
            "countryCode": address.country}


def _party(address: Address) -> dict:
    return {"contact": {"personName": address.name[:70], "companyName": (address.company or "")[:35],
                        "phoneNumber": address.phone or "0000000000", "emailAddress": address.email or ""},
            "address": _address(address)}


def _packages(request: ShipmentRequest) -> list[dict]:
    return [{"sequenceNumber": n, "weight": {"units": "KG", "value": float(p.weight_kg)},
             "dimensions": {"length": int(p.length_cm + Decimal("0.99")), "width": int(p.width_cm + Decimal("0.99")),
                            "height": int(p.height_cm + Decimal("0.99")), "units": "CM"}}
            for n, p in enumerate(request.packages, start=1)]


def _customs(request: ShipmentRequest) -> Optional[dict]:
    if not request.international or not request.customs:
        return None
    currency = request.customs[0].currency
    total = sum((line.value for line in request.customs), Decimal("0"))
    return {"dutiesPayment": {"paymentType": "RECIPIENT"}, "isDocumentOnly": False,
            "totalCustomsValue": {"amount": float(total), "currency": currency},
            "commodities": [{"description": line.description[:450], "quantity": line.quantity,
                             "quantityUnits": "PCS", "countryOfManufacture": line.origin_country,
                             "harmonizedCode": line.hs_code, "weight": {"units": "KG", "value": float(line.weight_kg)},
                             "customsValue": {"amount": float(line.value), "currency": line.currency},
                             "unitPrice": {"amount": float(line.value / max(1, line.quantity)),
                                           "currency": line.currency}}
                            for line in request.customs]}



class FedEx:
    def __init__(self, account: Account):
        self.account = account
        self.base = account.base_url.rstrip("/")
        self.http = session(account)

    # -- auth: one token per key pair (shipping, tracking) ----------------------------------------
    def _keys(self, tracking: bool) -> tuple[str, str]:
        creds = self.account.credentials
        if tracking and creds.get("track_client_id"):
            return creds["track_client_id"], creds.get("track_client_secret", "")
        return creds.get("client_id", ""), creds.get("client_secret", "")

    def _headers(self, tracking: bool = False) -> dict:
        client_id, secret = self._keys(tracking)

        def fetch() -> tuple[str, float]:
            body = call(self.http, "POST", f"{self.base}/oauth/token", carrier=CARRIER, errors=error_of,
                        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
            return body["access_token"], float(body.get("expires_in") or 0)

        token = _tokens.get(f"{self.base}|{client_id}", fetch, self.account.time_scale)
        return {"Authorization": f"Bearer {token}", "X-locale": "en_US"}

    def _call(self, method: str, path: str, *, purchase: bool = False, tracking: bool = False, **kwargs) -> Any:
        http = purchase_session(self.account) if purchase else self.http
        return with_fresh_token(
            lambda: call(http, method, f"{self.base}{path}", carrier=CARRIER, purchase=purchase, errors=error_of,
                         headers=self._headers(tracking), **kwargs),
            lambda: _tokens.forget(f"{self.base}|{self._keys(tracking)[0]}"))

    def _account_number(self) -> dict:
        return {"value": self.account.account_number or ""}

    # -- rates, labels, cancel, close ---------------------------------------------------------------
    def rates(self, request: ShipmentRequest) -> list[Rate]:
        shipment = {"shipper": {"address": _address(request.ship_from)},
                    "recipient": {"address": _address(request.ship_to)},
                    "pickupType": "DROPOFF_AT_FEDEX_LOCATION", "rateRequestType": ["ACCOUNT"],
                    "requestedPackageLineItems": _packages(request)}
        customs = _customs(request)
        if customs:
            shipment["customsClearanceDetail"] = customs
        answer = self._call("POST", "/rate/v1/rates/quotes", json={
            "accountNumber": self._account_number(), "requestedShipment": shipment,
            "carrierCodes": ["FDXE", "FDXG"], "rateRequestControlParameters": {"returnTransitTimes": True}})
        rates = []
        for detail in (answer.get("output") or {}).get("rateReplyDetails") or []:
            rated = (detail.get("ratedShipmentDetails") or [{}])[0]
            transit = ((detail.get("commit") or {}).get("transitDays") or {}).get("minimumTransitTime")
            code = detail.get("serviceType", "")
            rates.append(Rate(carrier=CARRIER, service=code,
                              service_name=detail.get("serviceName") or SERVICES.get(code, code),
                              amount=money(rated.get("totalNetCharge")) or Decimal("0"),
                              currency=rated.get("currency", "USD"), days=TRANSIT_DAYS.get(transit or "")))
        return sorted(rates, key=lambda r: r.amount)

    def buy_label(self, request: ShipmentRequest, rate: Rate) -> Label:
        shipment = {
            "shipper": _party(request.ship_from), "recipients": [_party(request.ship_to)],
            "serviceType": rate.service, "packagingType": "YOUR_PACKAGING",
            "pickupType": "DROPOFF_AT_FEDEX_LOCATION", "totalPackageCount": len(request.packages),
            "shippingChargesPayment": {"paymentType": "SENDER"},
            "labelSpecification": {"imageType": "ZPLII" if request.label_format == "ZPL" else "PDF",
                                   "labelStockType": "STOCK_4X6" if request.label_format == "ZPL" else "PAPER_4X6"},
            "requestedPackageLineItems": [
                {**p, "customerReferences": [{"customerReferenceType": "CUSTOMER_REFERENCE",
                                              "value": request.reference}]} for p in _packages(request)]}
        customs = _customs(request)
        if customs:
            shipment["customsClearanceDetail"] = customs
        answer = self._call("POST", "/ship/v1/shipments", purchase=True, json={
            "labelResponseOptions": "LABEL", "mergeLabelDocOption": "LABELS_ONLY",
            "accountNumber": self._account_number(),
            "requestedShipment": shipment})
        done = ((answer.get("output") or {}).get("transactionShipments") or [{}])[0]
        pieces = done.get("pieceResponses") or []
        if not pieces:
            raise CarrierPermanent("fedex: the answer holds no label", carrier=CARRIER, code="no_label")
        # mergeLabelDocOption: several pieces come as one shipment document (one PDF, pages)
        merged = [d for d in done.get("shipmentDocuments") or [] if d.get("encodedLabel")]
        documents = [base64.b64decode(d["encodedLabel"]) for d in merged] or [
            base64.b64decode(d["encodedLabel"]) for p in pieces for d in p.get("packageDocuments") or []
            if d.get("encodedLabel")]
        charge = (((done.get("completedShipmentDetail") or {}).get("shipmentRating") or {})
                  .get("shipmentRateDetails") or [{}])[0]
        return Label(carrier=CARRIER, service=rate.service,
                     tracking_number=done.get("masterTrackingNumber") or pieces[0]["trackingNumber"],
                     format=request.label_format, data=b"".join(documents),
                     cost=money(charge.get("totalNetCharge")) if charge else rate.amount,
                     currency=charge.get("currency") or rate.currency,
                     carrier_shipment_id=done.get("masterTrackingNumber") or pieces[0]["trackingNumber"],
                     package_tracking_numbers=tuple(p["trackingNumber"] for p in pieces))

    def void(self, label: Label) -> None:
        answer = self._call("PUT", "/ship/v1/shipments/cancel", json={
            "accountNumber": self._account_number(), "trackingNumber": label.tracking_number,
            "deletionControl": "DELETE_ALL_PACKAGES", "senderCountryCode": "US"})
        if not (answer.get("output") or {}).get("cancelledShipment"):
            message = (answer.get("output") or {}).get("message") or "not cancelled"
            raise CarrierPermanent(f"fedex: {message}", carrier=CARRIER, code="not_cancelled")

    def close_ground(self, close_date: str) -> dict:
        """End of day for FedEx Ground: the manifest FedEx closes (its documents, decoded)."""
        answer = self._call("PUT", "/ship/v1/endofday/", json={
            "accountNumber": self._account_number(), "groundServiceCategory": "GROUND",
            "closeReqType": "GCCLOSE", "closeDate": close_date})
        output = answer.get("output") or {}
        documents = [base64.b64decode(part["document"]) for doc in output.get("closeDocuments") or []
                     for part in doc.get("parts") or [] if part.get("document")]
        return {"reference": output.get("closeConfirmation") or close_date, "documents": documents,
                "numbers": output.get("trackingNumbers") or []}

    # -- tracking --------------------------------------------------------------------------------
    def track(self, numbers: Iterable[str]) -> list[TrackingUpdate]:
        numbers, updates = list(numbers), []
        for start in range(0, len(numbers), TRACK_BATCH):
            chunk = numbers[start:start + TRACK_BATCH]
            answer = self._call("POST", "/track/v1/trackingnumbers", tracking=True, json={
                "includeDetailedScans": True,
                "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in chunk]})
            updates += parse_tracking(answer)
        return updates

