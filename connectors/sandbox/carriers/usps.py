"""USPS in the carrier sandbox: OAuth (JSON body), payment authorization (CRID, MID) whose token
every label call needs, shipment options priced in pounds and inches, domestic and international
labels (the latter refused without a customs form whose lines carry an HS number and origin),
cancel, SCAN forms, and Tracking 3.2 in USPS's shape (a list in, a list out, events newest first,
local times without offset beside a GMT one — now and then only the local one —, an error entry
for a number it does not know)."""
from __future__ import annotations

import base64
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Optional

from werkzeug.wrappers import Request, Response

from . import CarrierSandbox, json_response, labels, register
from .parcels import SimParcel, Step, billable_kg, new_parcel, price, zone

TOKEN_SECONDS = 28799
KG_PER_LB, CM_PER_IN = Decimal("0.45359237"), Decimal("2.54")
SERVICES = {"USPS_GROUND_ADVANTAGE": ("5.40", "1.80", None), "PRIORITY_MAIL": ("8.90", "2.30", 2),
            "PRIORITY_MAIL_EXPRESS": ("27.50", "4.00", 1)}
INTERNATIONAL = {"PRIORITY_MAIL_INTERNATIONAL": ("32.00", "5.20", 7),
                 "PRIORITY_MAIL_EXPRESS_INTERNATIONAL": ("48.00", "6.90", 4)}
# step kind -> (eventCode, eventType, eventCategory)
EVENTS = {"label": ("GX", "Shipping Label Created, USPS Awaiting Item", "Pre-Shipment"),
          "pickup": ("03", "USPS picked up item", "Accepted"),
          "depart": ("L1", "Departed USPS Regional Facility", "In Transit"),
          "arrive": ("10", "Arrived at USPS Regional Destination Facility", "In Transit"),
          "out": ("OF", "Out for Delivery", "Out for Delivery"),
          "delivered": ("01", "Delivered, In/At Mailbox", "Delivered"),
          "failed_attempt": ("02", "Notice Left (No Authorized Recipient Available)", "Delivery Attempt"),
          "address": ("21", "No Such Number", "Alert"),
          "delay": ("DX", "Delayed due to Weather", "Alert"),
          "returned": ("09", "Return to Sender Processed", "Return to Sender"),
          "voided": ("CA", "Label Cancelled", "Pre-Shipment")}
LOCAL = timezone(timedelta(hours=-5))


def _place(address: dict) -> dict:
    return {"city": address.get("city", ""), "region": address.get("state") or address.get("province") or "",
            "country": address.get("countryISOAlpha2Code") or "US",
            "postcode": str(address.get("ZIPCode") or address.get("postalCode") or "")}


def _kg(package: dict) -> Decimal:
    dims = [Decimal(str(package.get(k) or 0)) * CM_PER_IN for k in ("length", "width", "height")]
    return billable_kg([(Decimal(str(package.get("weight") or 0)) * KG_PER_LB, *dims)])


@register
class USPSSandbox(CarrierSandbox):
    name = "usps"
    prefix = "/usps"

    def routes(self):
        return [("/oauth2/v3/token", "token", ["POST"]),
                ("/payments/v3/payment-authorization", "payment", ["POST"]),
                ("/shipments/v3/options/search", "options", ["POST"]),
                ("/labels/v3/label", "label", ["POST"]),
                ("/international-labels/v3/international-label", "international_label", ["POST"]),
                ("/labels/v3/label/<number>", "cancel", ["DELETE"]),
                ("/scan-forms/v3/scan-form", "scan_form", ["POST"]),
                ("/tracking/v3r2/tracking", "track", ["POST"])]

    def error(self, status: int, code: str, message: str) -> Response:
        return json_response({"apiVersion": "v3", "error": {"code": str(status), "message": message,
                                                            "errors": [{"code": code, "detail": message}]}}, status)

    def authenticate(self, request: Request, handler: str) -> Optional[Response]:
        if handler == "token":
            return None
        if self.bearer_scope(request) != "api":
            return self.error(401, "invalid_token", "Unauthorized: the access token is missing or expired")
        if handler in ("label", "international_label", "cancel"):
            payment = request.headers.get("X-Payment-Authorization-Token", "")
            with self.state.lock:
                ok = self.state.token_scopes.get(payment) == "payment"
            if not ok:
                return self.error(401, "payment_authorization", "A valid payment authorization token is required")
        return None

    def token(self, request: Request) -> Response:
        body = request.get_json(silent=True) or request.form
        if (body.get("client_id"), body.get("client_secret")) != (self.credentials["client_id"],
                                                                  self.credentials["client_secret"]):
            return self.error(401, "invalid_client", "Client authentication failed")
        return json_response({"access_token": self.issue_token("api", TOKEN_SECONDS), "token_type": "Bearer",
                              "issued_at": 0, "expires_in": TOKEN_SECONDS, "status": "approved",
                              "scope": "addresses tracking labels payments prices scan-forms"})

    def payment(self, request: Request) -> Response:
        roles = request.get_json().get("roles") or []
        payer = next((r for r in roles if r.get("roleName") == "PAYER"), {})
        if (payer.get("CRID"), payer.get("MID")) != (self.credentials["crid"], self.credentials["mid"]):
            return self.error(400, "invalid_payer", "The payer's CRID and MID do not match an EPS account")
        return json_response({"paymentAuthorizationToken": self.issue_token("payment", 28800), "roles": roles})

    def _quotes(self, package: dict, origin: str, destination: str, country: str) -> list[tuple[str, Decimal, int]]:
        domestic = country in ("", "US")
        zone_ = zone(origin, destination, domestic)
        kg = _kg(package)
        return [(code, price(base, per_kg, kg, zone_), days or 1 + zone_ // 2)
                for code, (base, per_kg, days) in (SERVICES if domestic else INTERNATIONAL).items()]

    def options(self, request: Request) -> Response:
        body = request.get_json()
        package = body["packageDescription"]
        quotes = self._quotes(package, body.get("originZIPCode", ""), body.get("destinationZIPCode", ""),
                              body.get("destinationCountryCode", ""))
        options = [{"mailClass": code, "rateOptions": [{
            "commitment": {"name": f"{days} Days", "scheduleDeliveryDate": ""}, "totalBasePrice": float(amount),
            "rates": [{"description": code.replace("_", " ").title(), "price": float(amount), "mailClass": code,
                       "SKU": f"D{code[:3]}XXXXC00000", "priceType": "COMMERCIAL"}]}]}
                   for code, amount, days in quotes]
        return json_response({"originZIPCode": body.get("originZIPCode"), "pricingOptions": [
            {"priceType": "COMMERCIAL", "shippingOptions": options}]})

    def _buy(self, request: Request, international: bool) -> Response:
        body = request.get_json()
        package = body["packageDescription"]
        origin, destination = _place(body.get("fromAddress") or {}), _place(body.get("toAddress") or {})
        if international:
            contents = (body.get("customsForm") or {}).get("contents") or []
            if not contents or any(not c.get("HSTariffNumber") or not c.get("countryofOrigin") for c in contents):
                return self.error(400, "customs_form", "customsForm.contents need HSTariffNumber and countryofOrigin")
        quotes = self._quotes(package, origin["postcode"], destination["postcode"],
                              destination["country"] if international else "US")
        quote = next((q for q in quotes if q[0] == package.get("mailClass")), None)
        if quote is None:
            return self.error(400, "invalid_mail_class", f"mailClass {package.get('mailClass')!r} is not available")
        seq = self.state.next_id()
        number = f"LX{seq:09d}US" if international else f"9205{seq:018d}"
        image = (body.get("imageInfo") or {}).get("imageType", "PDF")
        reference = next((r.get("referenceNumber") for r in package.get("customerReference") or []), None)
        new_parcel(self.state, "usps", [number], service=quote[0], service_name=quote[0], reference=reference,
                   days=quote[2], cost=quote[1], currency="USD", origin=origin, destination=destination,
                   label_format="ZPL" if image.startswith("ZPL") else "PDF",
                   data={"seq": seq, "customs": body.get("customsForm")})
        document = (labels.zpl if image.startswith("ZPL") else labels.pdf)(number, [f"USPS {quote[0]}"])
        meta = {"labelAddress": body.get("toAddress"), "routingInformation": "420" + destination["postcode"],
                "trackingNumber": number, "postage": float(quote[1]), "SKU": "DPXX0XXXXX07200",
                "zone": "0" + str(zone(origin["postcode"], destination["postcode"], not international))}
        if international:
            meta["internationalTrackingNumber"] = number
        return json_response({"labelMetadata": meta, "labelImage": base64.b64encode(document).decode()})

    def label(self, request: Request) -> Response:
        return self._buy(request, international=False)

    def international_label(self, request: Request) -> Response:
        return self._buy(request, international=True)

    def cancel(self, request: Request, number: str) -> Response:
        parcel = self.state.parcels.get(number)
        if parcel is None or parcel.carrier != "usps":
            return self.error(404, "not_found", f"Label {number} not found")
        if not self.state.void(parcel):
            return self.error(400, "not_cancellable", "The label has already been scanned or cancelled")
        return json_response({"trackingNumber": number, "status": "CANCELED"})

    def scan_form(self, request: Request) -> Response:
        body = request.get_json()
        numbers = (body.get("shipment") or {}).get("trackingNumbers") or []
        unknown = [n for n in numbers if getattr(self.state.parcels.get(n), "carrier", None) != "usps"] \
            if numbers else ["(none)"]
        if unknown:
            return self.error(400, "invalid_tracking_numbers", f"Not USPS labels of this account: {unknown[:5]}")
        with self.state.lock:
            reference = f"9475{self.state.next_id():018d}"
            self.state.manifests.append({"carrier": "usps", "reference": reference, "numbers": numbers})
        document = labels.pdf(reference, ["PS FORM 5630 - SCAN FORM", f"{len(numbers)} PACKAGES",
                                          body.get("mailingDate", "")])
        return json_response({"SCANFormMetadata": {"SCANFormNumber": reference, "trackingNumbers": numbers},
                              "SCANFormImage": base64.b64encode(document).decode()})

    def _event(self, step: Step, n: int) -> dict:
        code, words, category = EVENTS[step.kind]
        event = {"eventType": words, "eventCode": code, "eventCategory": category,
                 "eventTimestamp": step.at.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M:%S"), "GMTOffset": "-05:00",
                 "eventCity": step.city.upper(), "eventState": step.region, "eventZIP": "",
                 "eventCountry": "" if step.country == "US" else step.country}
        if n % 3:  # now and then USPS leaves the GMT time out
            event["GMTTimestamp"] = step.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return event

    def _result(self, parcel: SimParcel, number: str) -> dict:
        now = self.now()
        events = [self._event(s, n) for n, s in enumerate(parcel.visible(now))][::-1]
        planned = parcel.estimate(now)
        return {"trackingNumber": number, "mailClass": parcel.service,
                "statusCategory": events[0]["eventCategory"] if events else "",
                "status": events[0]["eventType"] if events else "", "trackingEvents": events,
                "expectedDeliveryTimeStamp": planned.astimezone(LOCAL).isoformat()
                if planned else None}

    def track(self, request: Request) -> Response:
        asked = [str(i.get("trackingNumber") or "") for i in request.get_json() or []]
        if not asked or len(asked) > 35:
            return self.error(400, "invalid_request", "Give 1 to 35 tracking numbers")
        results = []
        for number in asked:
            parcel = self.state.parcels.get(number)
            if parcel is None or parcel.carrier != "usps":
                results.append({"trackingNumber": number, "error": {
                    "code": "404", "message": "The tracking number may be incorrect or the status update is "
                                              "not yet available."}})
            else:
                results.append(self._result(parcel, number))
        return json_response(results)
