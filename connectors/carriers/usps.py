"""USPS (its OAuth REST APIs v3, CARRIERS.md): shipment options (rates), domestic and
international labels, cancel, SCAN forms, and Tracking 3.2 (a list of numbers a call).

Credentials: ``client_id``, ``client_secret``, and for labels the payer's ``crid`` and ``mid``
(a ``manifest_mid`` when it differs) and the EPS ``account_number``: a label needs a payment
authorization token (``POST /payments/v3/payment-authorization``), kept like an OAuth token.
USPS has no lookup of a label by our reference: a purchase whose answer is lost cannot be
recovered (the shipment waits for a person, DESIGN.md "Outbox").
"""
from __future__ import annotations

import base64
from datetime import date, datetime, timezone
from decimal import ROUND_UP, Decimal
from typing import Any, Iterable, Optional

from .base import (Account, Address, CarrierNotFound, CarrierPermanent, Label, Rate, ShipmentRequest,
                   TrackingEvent, TrackingUpdate, finish, merge, join_location)
from .common import TokenCache, call, money, parse_offset, purchase_session, session, with_fresh_token

CARRIER = "usps"
TRACK_BATCH = 35  # Tracking 3.2: a list of up to 35 numbers a call
PAYMENT_SECONDS = 28800.0  # a payment authorization token lives 8 hours
KG_PER_LB = Decimal("0.45359237")
CM_PER_IN = Decimal("2.54")
SERVICES = {"USPS_GROUND_ADVANTAGE": "USPS Ground Advantage", "PRIORITY_MAIL": "Priority Mail",
            "PRIORITY_MAIL_EXPRESS": "Priority Mail Express",
            "PRIORITY_MAIL_INTERNATIONAL": "Priority Mail International",
            "PRIORITY_MAIL_EXPRESS_INTERNATIONAL": "Priority Mail Express International",
            "FIRST-CLASS_PACKAGE_INTERNATIONAL_SERVICE": "First-Class Package International"}
# event code -> (ours, problem); the status category is read when a code is not here
CODES = {
    "GX": ("pre_transit", None), "MA": ("pre_transit", None),  # Shipping label created / pre-shipment info
    "03": ("in_transit", None), "OA": ("in_transit", None), "10": ("in_transit", None),
    "L1": ("in_transit", None), "T1": ("in_transit", None), "U1": ("in_transit", None),
    "07": ("in_transit", None),  # Arrived at Post Office
    "OF": ("out_for_delivery", None), "59": ("out_for_delivery", None),
    "01": ("delivered", None),
    "02": ("failed_attempt", "failed_attempt"),  # Notice Left (No Authorized Recipient Available)
    "52": ("available_for_pickup", None),  # Available for Pickup
    "04": ("exception", "address"), "21": ("exception", "address"),  # Refused / No such number
    "DX": ("exception", "delay"),  # Delayed
    "53": ("exception", "damage"),  # Damaged
    "09": ("returned_to_sender", "returned"), "31": ("returned_to_sender", "returned"),
    "CA": ("cancelled", None),  # Label cancelled
}
CATEGORIES = {"Pre-Shipment": "pre_transit", "Accepted": "in_transit", "In Transit": "in_transit",
              "Out for Delivery": "out_for_delivery", "Delivered": "delivered", "Alert": "exception",
              "Available for Pickup": "available_for_pickup", "Delivery Attempt": "failed_attempt",
              "Return to Sender": "returned_to_sender"}

_tokens = TokenCache()


def connect(account: Account) -> "USPS":
    return USPS(account)


# --- pure parsing ---------------------------------------------------------------------------

def error_of(body: Any) -> tuple[Optional[str], str]:
    """(code, message) of a USPS error ``{"error": {"code", "message", "errors": [...]}}``."""
    error = body.get("error") or {}
    detail = (error.get("errors") or [{}])[0]
    return str(error.get("code") or detail.get("code") or ""), detail.get("detail") or error.get("message", "")


def _when(event: dict) -> Optional[datetime]:
    """``GMTTimestamp`` when given; else the local ``eventTimestamp`` with ``GMTOffset``
    (a local time without either is read as UTC)."""
    gmt = event.get("GMTTimestamp")
    for text, zone in ((gmt, timezone.utc), (event.get("eventTimestamp"), parse_offset(event.get("GMTOffset")))):
        if not text:
            continue
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            continue
        return (value if value.tzinfo else value.replace(tzinfo=zone or timezone.utc)).astimezone(timezone.utc)
    return None


def _event(event: dict) -> Optional[TrackingEvent]:
    at = _when(event)
    if at is None:
        return None
    code = str(event.get("eventCode") or "")
    status, problem = CODES.get(code, (CATEGORIES.get(event.get("eventCategory") or "", "unknown"), None))
    return TrackingEvent(occurred_at=at, status=status, carrier_code=code, problem=problem,
                         description=(event.get("eventType") or "").strip(),
                         location=join_location(event.get("eventCity"), event.get("eventState"),
                                                event.get("eventCountry") or None))


def _update(result: dict) -> TrackingUpdate:
    update = TrackingUpdate(tracking_number=result["trackingNumber"], status="unknown")
    if result.get("error"):
        return update
    for raw in result.get("trackingEvents") or []:
        event = _event(raw)
        if event is not None:
            update.events.append(event)
    expected = result.get("expectedDeliveryTimeStamp") or result.get("expectedDeliveryDate")
    if expected:
        update.estimated_delivery = _when({"eventTimestamp": expected})
    return finish(update)


def parse_tracking(raw: Any) -> list[TrackingUpdate]:
    """A Tracking 3.2 answer (a list, one result per number asked; a repeat merged) or one
    3.0-shaped result object."""
    if isinstance(raw, dict) and "error" in raw and "trackingNumber" not in raw:
        code, message = error_of(raw)
        raise (CarrierNotFound if code == "404" else CarrierPermanent)(f"usps: {message}", carrier=CARRIER, code=code)
    results = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else None
    if results is None:
        raise CarrierPermanent("usps: a tracking answer must be JSON", carrier=CARRIER)
    updates: dict[str, TrackingUpdate] = {}
    for result in results:
        if not isinstance(result, dict) or not result.get("trackingNumber"):
            continue
        update = _update(result)
        merge(updates, update)
    return list(updates.values())


# --- requests -------------------------------------------------------------------------------

def _lb(kg: Decimal) -> float:
    return float((kg / KG_PER_LB).quantize(Decimal("0.01"), ROUND_UP))


def _inches(cm: Decimal) -> float:
    return float((cm / CM_PER_IN).quantize(Decimal("0.1"), ROUND_UP))


def _address(address: Address) -> dict:
    first, _, last = address.name.partition(" ")
    out = {"firstName": first[:50], "lastName": last[:50], "streetAddress": address.street1,
           "secondaryAddress": address.street2 or "", "city": address.city, "phone": address.phone or "",
           "email": address.email or "", "firm": address.company or ""}
    if address.country.upper() == "US":
        out.update({"state": address.region or "", "ZIPCode": address.postcode[:5]})
    else:
        out.update({"province": address.region or "", "postalCode": address.postcode,
                    "country": address.country, "countryISOAlpha2Code": address.country})
    return out


def _package(request: ShipmentRequest, mail_class: str) -> dict:
    package = request.packages[0]  # USPS: one label per package
    weight = sum((p.weight_kg for p in request.packages), Decimal("0"))
    return {"mailClass": mail_class, "rateIndicator": "SP", "weightUOM": "lb", "weight": _lb(weight),
            "dimensionsUOM": "in", "length": _inches(package.length_cm), "width": _inches(package.width_cm),
            "height": _inches(package.height_cm), "processingCategory": "MACHINABLE",
            "mailingDate": date.today().isoformat(), "destinationEntryFacilityType": "NONE",
            "customerReference": [{"referenceNumber": request.reference, "printReferenceNumber": True}]}


def _customs_form(request: ShipmentRequest) -> dict:
    return {"contentType": "MERCHANDISE", "restrictionType": "NONE", "AESITN": "NO EEI 30.37(a)",
            "contents": [{"itemDescription": line.description[:30], "itemQuantity": line.quantity,
                          "itemValue": float(line.value / max(1, line.quantity)), "itemTotalValue": float(line.value),
                          "weightUOM": "lb", "itemWeight": _lb(line.weight_kg / max(1, line.quantity)),
                          "itemTotalWeight": _lb(line.weight_kg), "HSTariffNumber": line.hs_code.replace(".", ""),
                          "countryofOrigin": line.origin_country, "itemCategory": "MERCHANDISE"}
                         for line in request.customs]}



class USPS:
    def __init__(self, account: Account):
        self.account = account
        self.base = account.base_url.rstrip("/")
        self.http = session(account)
        self._key = f"{self.base}|{account.credentials.get('client_id')}"
        # a payment token is the payer's (CRID, MID): one per payer, not per API key
        self._payment_key = f"{self._key}|{account.credentials.get('crid')}|{account.credentials.get('mid')}"

    # -- auth ----------------------------------------------------------------------------------
    def _fetch_token(self) -> tuple[str, float]:
        creds = self.account.credentials
        body = call(self.http, "POST", f"{self.base}/oauth2/v3/token", carrier=CARRIER, errors=error_of,
                    json={"grant_type": "client_credentials", "client_id": creds.get("client_id", ""),
                          "client_secret": creds.get("client_secret", "")})
        return body["access_token"], float(body.get("expires_in") or 0)

    def _fetch_payment(self) -> tuple[str, float]:
        creds = self.account.credentials
        if not creds.get("crid") or not creds.get("mid"):
            raise CarrierPermanent("usps: labels need the payer's CRID and MID on the carrier account",
                                   carrier=CARRIER, code="payment_account")
        role = {"CRID": creds["crid"], "MID": creds["mid"], "manifestMID": creds.get("manifest_mid") or creds["mid"]}
        body = call(self.http, "POST", f"{self.base}/payments/v3/payment-authorization", carrier=CARRIER,
                    errors=error_of, headers=self._headers(), json={"roles": [
                        {"roleName": "PAYER", **role, "accountType": "EPS",
                         "accountNumber": self.account.account_number or ""},
                        {"roleName": "LABEL_OWNER", **role}]})
        return body["paymentAuthorizationToken"], PAYMENT_SECONDS

    def _headers(self, payment: bool = False) -> dict:
        headers = {"Authorization": f"Bearer {_tokens.get(self._key, self._fetch_token, self.account.time_scale)}"}
        if payment:
            headers["X-Payment-Authorization-Token"] = _tokens.get(self._payment_key, self._fetch_payment,
                                                                   self.account.time_scale)
        return headers

    def _call(self, method: str, path: str, *, purchase: bool = False, payment: bool = False, **kwargs) -> Any:
        http = purchase_session(self.account) if purchase else self.http
        extra = kwargs.pop("headers", {})

        def forget():
            _tokens.forget(self._key)
            _tokens.forget(self._payment_key)

        return with_fresh_token(
            lambda: call(http, method, f"{self.base}{path}", carrier=CARRIER, purchase=purchase, errors=error_of,
                         headers={**self._headers(payment), **extra}, **kwargs), forget)

    # -- rates, labels, cancel, SCAN form ------------------------------------------------------------
    def rates(self, request: ShipmentRequest) -> list[Rate]:
        package = _package(request, "ALL")
        body = {"pricingOptions": [{"priceType": "COMMERCIAL"}], "originZIPCode": request.ship_from.postcode[:5],
                "packageDescription": {k: package[k] for k in ("weight", "length", "width", "height", "mailClass",
                                                               "mailingDate")}}
        if request.international:
            body["destinationCountryCode"] = request.ship_to.country
        else:
            body["destinationZIPCode"] = request.ship_to.postcode[:5]
        answer = self._call("POST", "/shipments/v3/options/search", json=body)
        rates = []
        for pricing in answer.get("pricingOptions") or []:
            for option in pricing.get("shippingOptions") or []:
                code = option.get("mailClass", "")
                best = min(option.get("rateOptions") or [], key=lambda r: r.get("totalBasePrice") or 0, default=None)
                if best is None:
                    continue
                days = str((best.get("commitment") or {}).get("name") or "").split(" ")[0]
                rates.append(Rate(carrier=CARRIER, service=code, service_name=SERVICES.get(code, code),
                                  amount=money(best.get("totalBasePrice")) or Decimal("0"), currency="USD",
                                  days=int(days) if days.isdigit() else None))
        return sorted(rates, key=lambda r: r.amount)

    def buy_label(self, request: ShipmentRequest, rate: Rate) -> Label:
        request.require_customs(CARRIER)
        image = {"imageType": "ZPL203DPI" if request.label_format == "ZPL" else "PDF", "labelType": "4X6LABEL"}
        body = {"imageInfo": image, "toAddress": _address(request.ship_to), "fromAddress": _address(request.ship_from),
                "packageDescription": _package(request, rate.service)}
        path = "/labels/v3/label"
        if request.international:
            path, body["customsForm"] = "/international-labels/v3/international-label", _customs_form(request)
        answer = self._call("POST", path, purchase=True, payment=True, json=body,
                            headers={"Accept": "application/vnd.usps.labels+json"})
        meta = answer.get("labelMetadata") or answer
        number = meta.get("trackingNumber") or meta.get("internationalTrackingNumber")
        if not number or not answer.get("labelImage"):
            raise CarrierPermanent("usps: the answer holds no label", carrier=CARRIER, code="no_label")
        return Label(carrier=CARRIER, service=rate.service, tracking_number=number, format=request.label_format,
                     data=base64.b64decode(answer["labelImage"]), cost=money(meta.get("postage")) or rate.amount,
                     currency="USD", carrier_shipment_id=number, package_tracking_numbers=(number,))

    def void(self, label: Label) -> None:
        try:
            self._call("DELETE", f"/labels/v3/label/{label.tracking_number}", payment=True)
        except CarrierNotFound:
            raise CarrierPermanent(f"usps: label {label.tracking_number} unknown: nothing to cancel",
                                   carrier=CARRIER, code="not_found") from None

    def scan_form(self, numbers: list[str], ship_from: Address, mailing_date: str) -> dict:
        """A SCAN form (PS Form 5630) for these labels: one scan at acceptance for all. Sent
        once (USPS has no lookup of a form: a lost answer is ``CarrierOutcomeUnknown``)."""
        answer = self._call("POST", "/scan-forms/v3/scan-form", purchase=True, headers={"Accept": "application/vnd.usps.labels+json"},
                            json={"form": "5630", "imageType": "PDF", "labelType": "8.5x11LABEL",
                                  "mailingDate": mailing_date, "overwriteMailingDate": False,
                                  "entryFacilityZIPCode": ship_from.postcode[:5],
                                  "destinationEntryFacilityType": "NONE",
                                  "shipment": {"trackingNumbers": numbers}, "fromAddress": _address(ship_from)})
        meta = answer.get("SCANFormMetadata") or {}
        return {"reference": meta.get("SCANFormNumber") or meta.get("trackingNumber") or "",
                "documents": [base64.b64decode(answer["SCANFormImage"])] if answer.get("SCANFormImage") else [],
                "numbers": numbers}

    # -- tracking 3.2 -----------------------------------------------------------------------------
    def track(self, numbers: Iterable[str]) -> list[TrackingUpdate]:
        numbers, updates = list(numbers), []
        for start in range(0, len(numbers), TRACK_BATCH):
            chunk = numbers[start:start + TRACK_BATCH]
            answer = self._call("POST", "/tracking/v3r2/tracking",
                                json=[{"trackingNumber": n} for n in chunk])
            updates += parse_tracking(answer)
        return updates
