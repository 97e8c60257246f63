"""UPS in the carrier sandbox: OAuth (client credentials, tokens that expire), Shop rating,
ship (GIF or ZPL labels), label recovery by reference or tracking number, void, tracking
details in UPS's shape (newest first, local times with offsets, some with GMT fields, a
multi-piece shipment as one package entry per piece, now and then two entries swapped) and
Track Alert subscriptions whose events are POSTed with the subscription's credential."""
from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Optional

from werkzeug.wrappers import Request, Response

from . import CarrierSandbox, json_response, labels, register
from .parcels import SimParcel, Step, billable_kg, first_estimate, plan, price, zone

TOKEN_SECONDS = 14399  # nominal
# code -> (name, base, per kg, business days or None for the zone's ground days)
SERVICES = {"03": ("UPS Ground", "9.50", "1.10", None), "12": ("UPS 3 Day Select", "14.00", "1.60", 3),
            "02": ("UPS 2nd Day Air", "19.00", "2.20", 2), "13": ("UPS Next Day Air Saver", "29.00", "3.10", 1),
            "01": ("UPS Next Day Air", "34.00", "3.60", 1)}
INTERNATIONAL = {"11": ("UPS Standard", "24.00", "4.00", 6), "65": ("UPS Worldwide Saver", "48.00", "7.50", 3),
                 "07": ("UPS Worldwide Express", "62.00", "8.20", 2)}
# step kind -> (status type, code, description)
ACTIVITY = {
    "label": ("M", "MP", "Shipper created a label, UPS has not received the package yet."),
    "pickup": ("P", "PU", "Pickup Scan"),
    "depart": ("I", "DP", "Departed from Facility"),
    "arrive": ("I", "AR", "Arrived at Facility"),
    "out": ("I", "OT", "Out For Delivery Today"),
    "delivered": ("D", "FS", "DELIVERED"),
    "failed_attempt": ("X", "48", "The receiver was not available for delivery. We'll make a second attempt "
                                  "the next business day."),
    "address": ("X", "UA", "The address is incomplete or incorrect. We're attempting to update this address."),
    "delay": ("X", "WD", "Severe weather conditions have delayed delivery."),
    "returned": ("RS", "RS", "The package was returned to the sender."),
    "voided": ("MV", "MV", "Shipment information voided."),
}
LOCAL_OFFSET = timedelta(hours=-5)  # every facility keeps Eastern time in the sandbox


def _packages(shipment: dict, key: str) -> list[tuple[Decimal, Decimal, Decimal, Decimal]]:
    packages = shipment.get("Package") or []
    packages = packages if isinstance(packages, list) else [packages]
    if not packages:
        raise ValueError("Shipment.Package is required")
    out = []
    for package in packages:
        dims = package.get("Dimensions") or {}
        weight = Decimal(str((package.get("PackageWeight") or {}).get("Weight") or "0"))
        out.append((weight, Decimal(str(dims.get("Length") or 0)), Decimal(str(dims.get("Width") or 0)),
                    Decimal(str(dims.get("Height") or 0))))
    return out


def _place(party: dict) -> dict:
    address = (party or {}).get("Address") or {}
    return {"city": address.get("City", ""), "region": address.get("StateProvinceCode", ""),
            "country": address.get("CountryCode", ""), "postcode": address.get("PostalCode", "")}


@register
class UPSSandbox(CarrierSandbox):
    name = "ups"
    prefix = "/ups"

    def routes(self):
        return [("/security/v1/oauth/token", "token", ["POST"]),
                ("/api/rating/<version>/<option>", "rate", ["POST"]),
                ("/api/shipments/<version>/ship", "ship", ["POST"]),
                ("/api/shipments/<version>/void/cancel/<sid>", "void", ["DELETE"]),
                ("/api/labels/<version>/recovery", "recovery", ["POST"]),
                ("/api/track/v1/details/<number>", "track", ["GET"]),
                ("/api/track/v2/subscription/standard/package", "subscribe", ["POST"])]

    def error(self, status: int, code: str, message: str) -> Response:
        return json_response({"response": {"errors": [{"code": code, "message": message}]}}, status)

    def authenticate(self, request: Request, handler: str) -> Optional[Response]:
        if handler == "token":
            auth = request.authorization
            if not auth or (auth.username, auth.password) != (self.credentials["client_id"],
                                                              self.credentials["client_secret"]):
                return self.error(401, "10401", "ClientId is Invalid")
            return None
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self.state.lock:
            expires = self.state.tokens.get(token)
        if expires is None or time.monotonic() >= expires:
            return self.error(401, "250002", "Invalid Authentication Information.")
        return None

    # -- OAuth -----------------------------------------------------------------------------------
    def token(self, request: Request) -> Response:
        if request.form.get("grant_type") != "client_credentials":
            return self.error(400, "10400", "Invalid grant_type")
        token = secrets.token_urlsafe(32)
        with self.state.lock:
            self.state.tokens[token] = time.monotonic() + TOKEN_SECONDS * self.hub.sandbox.time_scale
        return json_response({"token_type": "Bearer", "issued_at": str(int(time.time() * 1000)),
                              "client_id": self.credentials["client_id"], "access_token": token,
                              "expires_in": str(TOKEN_SECONDS), "status": "approved"})

    # -- rating ----------------------------------------------------------------------------------
    def _quotes(self, shipment: dict) -> list[tuple[str, str, Decimal, int]]:
        origin, destination = _place(shipment.get("ShipFrom") or shipment.get("Shipper")), _place(shipment.get("ShipTo"))
        domestic = origin["country"] == destination["country"]
        zone_ = zone(origin["postcode"], destination["postcode"], domestic)
        kg = billable_kg(_packages(shipment, "PackagingType"))
        quotes = []
        for code, (name, base, per_kg, days) in (SERVICES if domestic else INTERNATIONAL).items():
            quotes.append((code, name, price(base, per_kg, kg, zone_), days or 1 + zone_ // 2))
        return quotes

    def rate(self, request: Request, version: str, option: str) -> Response:
        shipment = request.get_json()["RateRequest"]["Shipment"]
        quotes = self._quotes(shipment)
        if option.lower() != "shop":
            wanted = (shipment.get("Service") or {}).get("Code")
            quotes = [q for q in quotes if q[0] == wanted]
            if not quotes:
                return self.error(400, "111210", "The requested service is unavailable between the selected locations.")
        rated = [{"Service": {"Code": code, "Description": ""}, "RatedShipmentAlert": [],
                  "BillingWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "1.0"},
                  "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": str(amount)},
                  "GuaranteedDelivery": {"BusinessDaysInTransit": str(days)},
                  "TimeInTransit": {"ServiceSummary": {"Service": {"Description": name},
                                                       "EstimatedArrival": {"BusinessDaysInTransit": str(days)}}}}
                 for code, name, amount, days in quotes]
        return json_response({"RateResponse": {"Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
                                               "RatedShipment": rated}})

    # -- labels ----------------------------------------------------------------------------------
    def _document(self, parcel: SimParcel, number: str, image_format: str) -> str:
        lines = [f"UPS {parcel.data['service_name']}", f"SHIP TO: {parcel.data['to']['city']} "
                 f"{parcel.data['to']['postcode']} {parcel.data['to']['country']}", f"REF: {parcel.reference or ''}"]
        document = labels.zpl(number, lines) if image_format == "ZPL" else labels.gif(number, lines)
        return base64.b64encode(document).decode()

    def ship(self, request: Request, version: str) -> Response:
        body = request.get_json()["ShipmentRequest"]
        shipment = body["Shipment"]
        code = (shipment.get("Service") or {}).get("Code")
        quote = next((q for q in self._quotes(shipment) if q[0] == code), None)
        if quote is None:
            return self.error(400, "120114", f"Invalid or missing service code {code!r}")
        image_format = ((body.get("LabelSpecification") or {}).get("LabelImageFormat") or {}).get("Code", "GIF")
        if image_format not in ("GIF", "PNG", "ZPL"):
            return self.error(400, "120510", f"Invalid label image format {image_format!r}")
        count = len(_packages(shipment, "Packaging"))
        seq = self.state.next_id()
        account = (shipment.get("Shipper") or {}).get("ShipperNumber", "A1B2C3")[:6].upper().ljust(6, "0")
        numbers = [f"1Z{account}{code}{seq:06d}{n:02d}" for n in range(count)]
        created = self.now()
        origin, destination = _place(shipment.get("ShipFrom") or shipment.get("Shipper")), _place(shipment["ShipTo"])
        outcome = self.state.outcome()
        parcel = SimParcel(carrier="ups", tracking_number=numbers[0], shipment_id=numbers[0], service=code,
                           reference=(shipment.get("ReferenceNumber") or {}).get("Value"), created_at=created,
                           steps=plan(created, quote[3], outcome, origin, destination), pieces=numbers,
                           cost=quote[2], currency="USD", label_format=image_format,
                           data={"service_name": quote[1], "to": destination, "outcome": outcome, "seq": seq,
                                 "first_estimate": first_estimate(created, quote[3])})
        self.state.add(parcel)
        packages = [{"TrackingNumber": n, "ShippingLabel": {"ImageFormat": {"Code": image_format},
                                                              "GraphicImage": self._document(parcel, n, image_format)}}
                    for n in numbers]
        return json_response({"ShipmentResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "ShipmentResults": {
                "ShipmentCharges": {"TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": str(quote[2])}},
                "BillingWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "1.0"},
                "ShipmentIdentificationNumber": parcel.shipment_id,
                "PackageResults": packages[0] if count == 1 else packages}}})

    def recovery(self, request: Request, version: str) -> Response:
        body = request.get_json()["LabelRecoveryRequest"]
        number = body.get("TrackingNumber")
        reference = ((body.get("ReferenceValues") or {}).get("ReferenceNumber") or {}).get("Value")
        with self.state.lock:
            parcel = self.state.parcels.get(number or "") or next(
                (p for p in self.state.shipments.values() if reference and p.carrier == "ups"
                 and p.reference == reference and not p.voided), None)
        if parcel is None or parcel.voided:
            return self.error(404, "120001", "No label found for the given tracking or reference number")
        image_format = ((body.get("LabelSpecification") or {}).get("LabelImageFormat") or {}).get("Code", "GIF")
        results = [{"TrackingNumber": n, "LabelImage": {"LabelImageFormat": {"Code": image_format},
                                                         "GraphicImage": self._document(parcel, n, image_format)}}
                   for n in parcel.pieces]
        return json_response({"LabelRecoveryResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "ShipmentIdentificationNumber": parcel.shipment_id, "Service": {"Code": parcel.service},
            "LabelResults": results[0] if len(results) == 1 else results}})

    def void(self, request: Request, version: str, sid: str) -> Response:
        parcel = self.state.shipments.get(sid)
        if parcel is None or parcel.carrier != "ups":
            return self.error(404, "190102", "No shipment found within the allowed void period")
        if not self.state.void(parcel):
            return self.error(400, "190117", "The shipment has already been picked up or voided and cannot be voided.")
        return json_response({"VoidShipmentResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "SummaryResult": {"Status": {"Code": "1", "Description": "Voided"}}}})

    # -- tracking --------------------------------------------------------------------------------
    def _activity(self, step: Step, n: int) -> dict:
        kind, code, description = ACTIVITY[step.kind]
        local = step.at.astimezone(timezone(LOCAL_OFFSET))
        activity = {"location": {"address": {"city": step.city.upper(), "stateProvince": step.region,
                                             "postalCode": "", "country": step.country, "countryCode": step.country}},
                    "status": {"type": kind, "description": description, "code": code, "statusCode": "0" + code},
                    "date": local.strftime("%Y%m%d"), "time": local.strftime("%H%M%S"), "gmtOffset": "-05:00"}
        if n % 2 == 0:  # about half the activities also carry GMT fields
            activity.update({"gmtDate": step.at.strftime("%Y%m%d"), "gmtTime": step.at.strftime("%H:%M:%S")})
        return activity

    def _package(self, parcel: SimParcel, number: str) -> dict:
        visible = parcel.visible(self.now())
        activity = [self._activity(s, n) for n, s in enumerate(visible)][::-1]  # newest first, as UPS
        if parcel.data.get("seq", 0) % 2 and len(activity) > 2:
            activity[1], activity[2] = activity[2], activity[1]  # now and then out of order
        planned = parcel.estimate(self.now())
        package = {"trackingNumber": number, "packageCount": len(parcel.pieces), "activity": activity,
                   "currentStatus": activity[0]["status"] if activity else {}}
        if planned is not None:
            package["deliveryDate"] = [{"type": "SDD", "date": planned.strftime("%Y%m%d")}]
        return package

    def track(self, request: Request, number: str) -> Response:
        parcel = self.state.parcels.get(number)
        if parcel is None or parcel.carrier != "ups":
            return self.error(404, "TW0001", "Tracking Information Not Found")
        packages = [self._package(parcel, n) for n in parcel.pieces]
        return json_response({"trackResponse": {"shipment": [{"inquiryNumber": number, "package": packages}]}})

    def subscribe(self, request: Request) -> Response:
        body = request.get_json()
        destination = body.get("destination") or {}
        if not destination.get("url") or not destination.get("credential"):
            return self.error(400, "TA0001", "destination url and credential are required")
        valid, invalid = [], []
        for number in (body.get("trackingNumberList") or [])[:100]:
            (valid if number in self.state.parcels else invalid).append(number)
        with self.state.lock:
            for number in valid:
                self.state.ups_subscriptions[number] = (destination["url"], destination["credential"])
        return json_response({"validTrackingNumbers": valid, "invalidTrackingNumbers": invalid})

    def webhooks(self, parcel: SimParcel, steps: list[Step]) -> list[tuple[str, dict, bytes]]:
        out = []
        for number in parcel.pieces:
            subscription = self.state.ups_subscriptions.get(number)
            if subscription is None:
                continue
            url, credential = subscription
            for step in steps:
                kind, code, description = ACTIVITY[step.kind]
                local = step.at.astimezone(timezone(LOCAL_OFFSET))
                body = {"trackingNumber": number, "localActivityDate": local.strftime("%Y%m%d"),
                        "localActivityTime": local.strftime("%H%M%S"), "gmtActivityDate": step.at.strftime("%Y%m%d"),
                        "gmtActivityTime": step.at.strftime("%H%M%S"), "gmtOffset": "-05:00",
                        "activityLocation": {"city": step.city.upper(), "stateProvince": step.region,
                                             "postalCode": "", "country": step.country},
                        "activityStatus": {"type": kind, "code": code, "description": description},
                        "scheduledDeliveryDate": "", "actualDeliveryDate": "", "actualDeliveryTime": ""}
                out.append((url, {"credential": credential}, json.dumps(body).encode()))
        return out
