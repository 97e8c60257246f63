"""UPS (its OAuth REST APIs, CARRIERS.md): Shop rating, ship (GIF → PDF 4x6, or ZPL), label
recovery, void, tracking, Track Alert subscriptions and the events Track Alert POSTs.

Credentials: ``client_id``, ``client_secret``; the account number (``ShipperNumber``) is the
account's ``account_number``. Track Alert POSTs carry the ``credential`` we gave when
subscribing (the account's ``webhook_credential``).
"""
from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Optional

from . import documents
from .base import (Account, Address, CarrierNotFound, CarrierPermanent, Label, Rate, ShipmentRequest,
                   TrackingEvent, TrackingUpdate, finish, join_location)
from .common import TokenCache, call, parse_offset, purchase_session, session

CARRIER = "ups"
VERSION = "v2409"
TRACK_BATCH = 1  # the details API answers one number a call
SUBSCRIBE_BATCH = 100  # Track Alert: up to 100 numbers a subscription call
SERVICES = {"01": "UPS Next Day Air", "02": "UPS 2nd Day Air", "03": "UPS Ground",
            "12": "UPS 3 Day Select", "13": "UPS Next Day Air Saver", "14": "UPS Next Day Air Early",
            "59": "UPS 2nd Day Air A.M.", "65": "UPS Worldwide Saver", "07": "UPS Worldwide Express",
            "08": "UPS Worldwide Expedited", "11": "UPS Standard"}

# UPS status type -> ours; a code of its own wins over its type (CODES).
TYPES = {"M": "pre_transit", "P": "in_transit", "I": "in_transit", "O": "out_for_delivery",
         "D": "delivered", "X": "exception", "RS": "returned_to_sender", "MV": "cancelled",
         "NA": "unknown", "DO": "in_transit", "DD": "in_transit", "W": "in_transit"}
# code -> (our status, the problem a person looks at, or None)
CODES = {
    "MP": ("pre_transit", None),  # Shipper created a label, UPS has not received the package yet
    "OT": ("out_for_delivery", None),  # Out For Delivery Today
    "FS": ("delivered", None),  # Delivered
    "48": ("failed_attempt", "failed_attempt"),  # receiver not available; second attempt
    "UA": ("exception", "address"),  # The address is incomplete or incorrect
    "DM": ("exception", "damage"),  # The package was damaged
    "WD": ("exception", "delay"),  # Weather delay / running late
    "RS": ("returned_to_sender", "returned"),  # Returned to the sender
    "ZP": ("available_for_pickup", None),  # At a UPS Access Point for pickup
}
PROBLEM_OF_TYPE = {"X": "delay", "RS": "returned"}

_tokens = TokenCache()


def connect(account: Account) -> "UPS":
    return UPS(account)


# --- pure parsing ---------------------------------------------------------------------------

def error_of(body: Any) -> tuple[Optional[str], str]:
    """(code, message) of a UPS error body ``{"response": {"errors": [...]}}``."""
    first = (body.get("response") or {}).get("errors", [{}])[0]
    return first.get("code"), first.get("message", "")


def _when(date: Optional[str], time_: Optional[str], offset: Optional[str] = None) -> Optional[datetime]:
    """'20260105' + '143000' or '14:30:00' (+ an offset like '-05:00') -> aware UTC."""
    if not date or len(date) != 8:
        return None
    clock = (time_ or "000000").replace(":", "").ljust(6, "0")[:6]
    try:
        local = datetime.strptime(date + clock, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    # a local time without an offset is read as UTC: the least wrong guess, kept visible
    return local.replace(tzinfo=parse_offset(offset) or timezone.utc).astimezone(timezone.utc)


def _status(status: dict) -> tuple[str, Optional[str]]:
    code, kind = status.get("code") or "", status.get("type") or ""
    if code in CODES:
        return CODES[code]
    ours = TYPES.get(kind, "unknown")
    return ours, PROBLEM_OF_TYPE.get(kind) if ours in ("exception", "returned_to_sender") else None


def _event(activity: dict) -> Optional[TrackingEvent]:
    # gmtDate/gmtTime are UTC; date/time are local, with gmtOffset when given
    at = (_when(activity.get("gmtDate"), activity.get("gmtTime"), "+00:00")
          or _when(activity.get("date"), activity.get("time"), activity.get("gmtOffset")))
    if at is None:
        return None
    status = activity.get("status") or {}
    ours, problem = _status(status)
    address = (activity.get("location") or {}).get("address") or {}
    return TrackingEvent(occurred_at=at, status=ours, carrier_code=status.get("code") or status.get("type") or "",
                         description=(status.get("description") or "").strip(),
                         location=join_location(address.get("city"), address.get("stateProvince"),
                                                address.get("countryCode") or address.get("country")),
                         problem=problem)


def _package_update(package: dict) -> TrackingUpdate:
    update = TrackingUpdate(tracking_number=package["trackingNumber"], status="unknown")
    for activity in package.get("activity") or []:
        event = _event(activity)
        if event is not None:
            update.events.append(event)
    for entry in package.get("deliveryDate") or []:
        when = _when(entry.get("date"), None)
        if entry.get("type") in ("SDD", "RDD") and when:
            update.estimated_delivery = when
    return finish(update)


def _alert_update(body: dict) -> TrackingUpdate:
    """A Track Alert POST: one activity of one package."""
    status = body.get("activityStatus") or {}
    ours, problem = _status(status)
    at = (_when(body.get("gmtActivityDate"), body.get("gmtActivityTime"), "+00:00")
          or _when(body.get("localActivityDate"), body.get("localActivityTime"), body.get("gmtOffset")))
    update = TrackingUpdate(tracking_number=body["trackingNumber"], status="unknown")
    if at is not None:
        where = body.get("activityLocation") or {}
        update.events.append(TrackingEvent(
            occurred_at=at, status=ours, carrier_code=status.get("code") or status.get("type") or "",
            description=(status.get("description") or "").strip(),
            location=join_location(where.get("city"), where.get("stateProvince"), where.get("country")),
            problem=problem))
    return finish(update)


def parse_tracking(raw: Any) -> list[TrackingUpdate]:
    """A Track API answer (one update per package, several shipments or a repeated number
    merged), or a Track Alert event. Not found -> status ``unknown`` without events; an
    error body raises ``CarrierNotFound``/``CarrierPermanent``."""
    if not isinstance(raw, dict):
        raise CarrierPermanent("ups: a tracking answer must be a JSON object", carrier=CARRIER)
    if "response" in raw and "errors" in (raw.get("response") or {}):
        code, message = error_of(raw)
        cls = CarrierNotFound if code in ("TW0001", "TV1002") else CarrierPermanent
        raise cls(f"ups: {message}", carrier=CARRIER, code=code)
    if "trackingNumber" in raw and "activityStatus" in raw:
        return [_alert_update(raw)]
    updates: dict[str, TrackingUpdate] = {}
    for shipment in (raw.get("trackResponse") or {}).get("shipment") or []:
        packages = shipment.get("package") or []
        if not packages and shipment.get("inquiryNumber"):
            updates.setdefault(shipment["inquiryNumber"],
                               TrackingUpdate(tracking_number=shipment["inquiryNumber"], status="unknown"))
        for package in packages:
            update = _package_update(package)
            seen = updates.get(update.tracking_number)
            if seen is not None:  # the same number twice: one update with the events of both
                known = {(e.occurred_at, e.carrier_code) for e in seen.events}
                seen.events += [e for e in update.events if (e.occurred_at, e.carrier_code) not in known]
                seen.status = "unknown"
                update = finish(seen)
            updates[update.tracking_number] = update
    return list(updates.values())


# --- requests -------------------------------------------------------------------------------

def _address(address: Address) -> dict:
    lines = [line for line in (address.street1, address.street2) if line]
    return {"AddressLine": lines, "City": address.city, "StateProvinceCode": address.region or "",
            "PostalCode": address.postcode, "CountryCode": address.country}


def _party(address: Address, account_number: Optional[str] = None) -> dict:
    party = {"Name": (address.company or address.name)[:35], "AttentionName": address.name[:35],
             "Phone": {"Number": address.phone or ""}, "Address": _address(address)}
    if account_number:
        party["ShipperNumber"] = account_number
    return party


def _packages(request: ShipmentRequest, key: str) -> list[dict]:
    return [{key: {"Code": "02", "Description": "Package"},
             "Dimensions": {"UnitOfMeasurement": {"Code": "CM"}, "Length": str(p.length_cm),
                            "Width": str(p.width_cm), "Height": str(p.height_cm)},
             "PackageWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": str(p.weight_kg)}}
            for p in request.packages]


def _money(value: Any) -> Optional[Decimal]:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError):
        return None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else ([value] if value else [])


class UPS:
    def __init__(self, account: Account):
        self.account = account
        self.base = account.base_url.rstrip("/")
        self.http = session(account)

    # -- auth ----------------------------------------------------------------------------------
    def _fetch_token(self) -> tuple[str, float]:
        creds = self.account.credentials
        body = call(self.http, "POST", f"{self.base}/security/v1/oauth/token", carrier=CARRIER,
                    errors=error_of, data={"grant_type": "client_credentials"},
                    auth=(creds.get("client_id", ""), creds.get("client_secret", "")),
                    headers={"x-merchant-id": self.account.account_number or ""})
        return body["access_token"], float(body.get("expires_in") or 0)

    @property
    def _token_key(self) -> str:
        return f"{self.base}|{self.account.credentials.get('client_id')}"

    def _headers(self) -> dict:
        token = _tokens.get(self._token_key, self._fetch_token, self.account.time_scale)
        return {"Authorization": f"Bearer {token}", "transId": uuid.uuid4().hex[:32],
                "transactionSrc": "waybill"}

    def _call(self, method: str, path: str, *, purchase: bool = False, **kwargs) -> Any:
        http = purchase_session(self.account) if purchase else self.http
        for attempt in (1, 2):
            try:
                return call(http, method, f"{self.base}{path}", carrier=CARRIER, purchase=purchase,
                            errors=error_of, headers=self._headers(), **kwargs)
            except CarrierPermanent as exc:
                # a token refused before its time (revoked, the server restarted): a 401 was
                # not acted on, so one more try with a fresh token is safe, purchases included
                if exc.status != 401 or attempt == 2:
                    raise
                _tokens.forget(self._token_key)

    # -- rates, labels, voids ------------------------------------------------------------------
    def rates(self, request: ShipmentRequest) -> list[Rate]:
        body = {"RateRequest": {
            "Request": {"RequestOption": "Shop", "TransactionReference": {"CustomerContext": request.reference}},
            "Shipment": {"Shipper": _party(request.ship_from, self.account.account_number),
                         "ShipFrom": _party(request.ship_from), "ShipTo": _party(request.ship_to),
                         "Package": _packages(request, "PackagingType")}}}
        answer = self._call("POST", f"/api/rating/{VERSION}/Shop?additionalinfo=timeintransit", json=body)
        rates = []
        for rated in _list((answer.get("RateResponse") or {}).get("RatedShipment")):
            code = (rated.get("Service") or {}).get("Code", "")
            charges = rated.get("TotalCharges") or {}
            days = ((rated.get("TimeInTransit") or {}).get("ServiceSummary") or {}).get(
                "EstimatedArrival", {}).get("BusinessDaysInTransit") or (
                rated.get("GuaranteedDelivery") or {}).get("BusinessDaysInTransit")
            rates.append(Rate(carrier=CARRIER, service=code, service_name=SERVICES.get(code, f"UPS {code}"),
                              amount=_money(charges.get("MonetaryValue")) or Decimal("0"),
                              currency=charges.get("CurrencyCode", "USD"),
                              days=int(days) if str(days or "").isdigit() else None))
        return sorted(rates, key=lambda r: r.amount)

    def _label_spec(self, label_format: str) -> dict:
        code = "ZPL" if label_format == "ZPL" else "GIF"
        return {"LabelImageFormat": {"Code": code}, "LabelStockSize": {"Height": "6", "Width": "4"}}

    def buy_label(self, request: ShipmentRequest, rate: Rate) -> Label:
        body = {"ShipmentRequest": {
            "Request": {"RequestOption": "nonvalidate", "TransactionReference": {"CustomerContext": request.reference}},
            "Shipment": {
                "Description": "Merchandise", "Shipper": _party(request.ship_from, self.account.account_number),
                "ShipFrom": _party(request.ship_from), "ShipTo": _party(request.ship_to),
                "PaymentInformation": {"ShipmentCharge": [{"Type": "01", "BillShipper": {
                    "AccountNumber": self.account.account_number or ""}}]},
                "Service": {"Code": rate.service}, "ReferenceNumber": {"Value": request.reference},
                "Package": _packages(request, "Packaging")},
            "LabelSpecification": self._label_spec(request.label_format)}}
        answer = self._call("POST", f"/api/shipments/{VERSION}/ship", purchase=True, json=body)
        results = (answer.get("ShipmentResponse") or {}).get("ShipmentResults") or {}
        packages = _list(results.get("PackageResults"))
        charges = (results.get("ShipmentCharges") or {}).get("TotalCharges") or {}
        return Label(carrier=CARRIER, service=rate.service, tracking_number=packages[0]["TrackingNumber"],
                     format=request.label_format,
                     data=self._labels_document([p["ShippingLabel"]["GraphicImage"] for p in packages],
                                                request.label_format),
                     cost=_money(charges.get("MonetaryValue")), currency=charges.get("CurrencyCode"),
                     carrier_shipment_id=results.get("ShipmentIdentificationNumber"),
                     package_tracking_numbers=tuple(p["TrackingNumber"] for p in packages))

    @staticmethod
    def _labels_document(images: list[str], label_format: str) -> bytes:
        """ZPL documents one after the other; GIF images as a PDF, one 4x6 page each."""
        decoded = [base64.b64decode(i) for i in images]
        return b"".join(decoded) if label_format == "ZPL" else documents.images_to_pdf(decoded)

    def recover_label(self, reference: str, label_format: str = "PDF") -> Optional[Label]:
        """The label a purchase with our ``reference`` made, or None when UPS has none."""
        body = {"LabelRecoveryRequest": {
            "LabelSpecification": self._label_spec(label_format),
            "ReferenceValues": {"ReferenceNumber": {"Value": reference},
                                "ShipperNumber": self.account.account_number or ""}}}
        try:
            answer = self._call("POST", "/api/labels/v1/recovery", json=body)
        except CarrierNotFound:
            return None
        response = answer.get("LabelRecoveryResponse") or {}
        results = _list(response.get("LabelResults"))
        if not results:
            return None
        return Label(carrier=CARRIER, service=response.get("Service", {}).get("Code", ""),
                     tracking_number=results[0]["TrackingNumber"], format=label_format,
                     data=self._labels_document([r["LabelImage"]["GraphicImage"] for r in results], label_format),
                     cost=None, currency=None,
                     carrier_shipment_id=response.get("ShipmentIdentificationNumber"),
                     package_tracking_numbers=tuple(r["TrackingNumber"] for r in results))

    def void(self, label: Label) -> None:
        try:
            self._call("DELETE", f"/api/shipments/{VERSION}/void/cancel/{label.carrier_shipment_id}")
        except CarrierNotFound:
            raise CarrierPermanent(f"ups: shipment {label.carrier_shipment_id} unknown: nothing to void",
                                   carrier=CARRIER, code="not_found") from None

    # -- tracking --------------------------------------------------------------------------------
    def track(self, numbers: Iterable[str]) -> list[TrackingUpdate]:
        updates = []
        for number in numbers:
            try:
                answer = self._call("GET", f"/api/track/v1/details/{number}", params={"locale": "en_US"})
                updates += parse_tracking(answer)
            except CarrierNotFound:
                updates.append(TrackingUpdate(tracking_number=number, status="unknown"))
        return updates

    def subscribe(self, numbers: list[str], url: str, credential: str) -> list[str]:
        """Track Alert for these numbers (≤ 100 a call): UPS POSTs every new activity to ``url``."""
        valid = []
        for start in range(0, len(numbers), SUBSCRIBE_BATCH):
            answer = self._call("POST", "/api/track/v2/subscription/standard/package", json={
                "locale": "en_US", "countryCode": "US",
                "trackingNumberList": numbers[start:start + SUBSCRIBE_BATCH],
                "destination": {"url": url, "credentialType": "Bearer", "credential": credential}})
            valid += answer.get("validTrackingNumbers") or []
        return valid
