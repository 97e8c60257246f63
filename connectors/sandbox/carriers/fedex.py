"""FedEx in the carrier sandbox: OAuth (shipping keys and the separate tracking keys, each
token good only for its APIs), rate quotes, ship (PDF or ZPLII, several pieces merged into one
shipment document when asked), cancel, Ground end-of-day close, and tracking of up to 30 numbers
a call in FedEx's shape (scan events newest first, local times with offsets, a number it does not
know as an error inside the results, every piece of a multi-piece shipment as its own result)."""
from __future__ import annotations

import base64
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Optional

from werkzeug.wrappers import Request, Response

from . import CarrierSandbox, json_response, labels, register
from .parcels import SimParcel, Step, billable_kg, new_parcel, price, zone

TOKEN_SECONDS = 3599
# service -> (name, base, per kg, days or None for the zone's ground days)
SERVICES = {"FEDEX_GROUND": ("FedEx Ground", "9.10", "1.05", None),
            "FEDEX_EXPRESS_SAVER": ("FedEx Express Saver", "15.40", "1.70", 3),
            "FEDEX_2_DAY": ("FedEx 2Day", "18.20", "2.10", 2),
            "PRIORITY_OVERNIGHT": ("FedEx Priority Overnight", "36.50", "3.90", 1)}
INTERNATIONAL = {"INTERNATIONAL_ECONOMY": ("FedEx International Economy", "39.00", "6.10", 5),
                 "INTERNATIONAL_PRIORITY": ("FedEx International Priority", "55.00", "7.90", 3)}
DAYS = {1: "ONE_DAY", 2: "TWO_DAYS", 3: "THREE_DAYS", 4: "FOUR_DAYS", 5: "FIVE_DAYS", 6: "SIX_DAYS",
        7: "SEVEN_DAYS"}
# step kind -> (eventType, description, exceptionCode, exceptionDescription)
SCANS = {"label": ("OC", "Shipment information sent to FedEx", "", ""),
         "pickup": ("PU", "Picked up", "", ""), "depart": ("DP", "Departed FedEx location", "", ""),
         "arrive": ("AR", "Arrived at FedEx location", "", ""), "out": ("OD", "On FedEx vehicle for delivery", "", ""),
         "delivered": ("DL", "Delivered", "", ""),
         "failed_attempt": ("DE", "Delivery exception", "08", "Customer not available or business closed"),
         "address": ("DE", "Delivery exception", "03", "Incorrect address"),
         "delay": ("DY", "Delay", "", "Weather delay"),
         "returned": ("RS", "Returning package to shipper", "", ""),
         "voided": ("CA", "Shipment cancelled by sender", "", "")}
DERIVED = {"OC": "IN", "PU": "PU", "DP": "IT", "AR": "IT", "OD": "OD", "DL": "DL", "DE": "DE", "DY": "DE",
           "RS": "RS", "CA": "CA"}
LOCAL = timezone(timedelta(hours=-6))  # the sandbox's FedEx hubs keep Central time


def _place(party: dict) -> dict:
    address = (party or {}).get("address") or {}
    return {"city": address.get("city", ""), "region": address.get("stateOrProvinceCode", ""),
            "country": address.get("countryCode", ""), "postcode": address.get("postalCode", "")}


def _packages(shipment: dict) -> list[tuple[Decimal, Decimal, Decimal, Decimal]]:
    items = shipment.get("requestedPackageLineItems") or []
    if not items:
        raise ValueError("requestedPackageLineItems is required")
    return [(Decimal(str((p.get("weight") or {}).get("value") or 0)),
             *(Decimal(str((p.get("dimensions") or {}).get(k) or 0)) for k in ("length", "width", "height")))
            for p in items]


@register
class FedExSandbox(CarrierSandbox):
    name = "fedex"
    prefix = "/fedex"

    def routes(self):
        return [("/oauth/token", "token", ["POST"]), ("/rate/v1/rates/quotes", "rate", ["POST"]),
                ("/ship/v1/shipments", "ship", ["POST"]), ("/ship/v1/shipments/cancel", "cancel", ["PUT"]),
                ("/ship/v1/endofday/", "close", ["PUT"]), ("/track/v1/trackingnumbers", "track", ["POST"])]

    def error(self, status: int, code: str, message: str) -> Response:
        return json_response({"transactionId": "sandbox", "errors": [{"code": code.upper(), "message": message}]},
                             status)

    def authenticate(self, request: Request, handler: str) -> Optional[Response]:
        if handler == "token":
            return None
        scope = self.bearer_scope(request)
        wanted = "track" if handler == "track" else "ship"
        if scope is None:
            return self.error(401, "NOT.AUTHORIZED.ERROR", "Access token expired. Please modify your request "
                                                           "and try again.")
        if scope != wanted:
            return self.error(403, "FORBIDDEN.ERROR", "We could not authorize your credentials. Please check "
                                                      "your permissions and try again.")
        return None

    def token(self, request: Request) -> Response:
        form, creds = request.form, self.credentials
        pair = (form.get("client_id"), form.get("client_secret"))
        scope = {(creds["client_id"], creds["client_secret"]): "ship",
                 (creds["track_client_id"], creds["track_client_secret"]): "track"}.get(pair)
        if form.get("grant_type") != "client_credentials" or scope is None:
            return self.error(401, "NOT.AUTHORIZED.ERROR", "The given client credentials were not valid.")
        return json_response({"access_token": self.issue_token(scope, TOKEN_SECONDS), "token_type": "bearer",
                              "expires_in": TOKEN_SECONDS, "scope": "CXS"})

    def _quotes(self, shipment: dict) -> list[tuple[str, str, Decimal, int]]:
        origin, destination = _place(shipment.get("shipper")), _place(
            shipment.get("recipient") or (shipment.get("recipients") or [{}])[0])
        domestic = origin["country"] == destination["country"]
        zone_ = zone(origin["postcode"], destination["postcode"], domestic)
        kg = billable_kg(_packages(shipment))
        return [(code, name, price(base, per_kg, kg, zone_), days or 1 + zone_ // 2)
                for code, (name, base, per_kg, days) in (SERVICES if domestic else INTERNATIONAL).items()]

    def rate(self, request: Request) -> Response:
        shipment = request.get_json()["requestedShipment"]
        details = [{"serviceType": code, "serviceName": name, "packagingType": "YOUR_PACKAGING",
                    "commit": {"transitDays": {"minimumTransitTime": DAYS.get(days, "SEVEN_DAYS")}},
                    "ratedShipmentDetails": [{"rateType": "ACCOUNT", "totalNetCharge": float(amount),
                                              "totalBaseCharge": float(amount), "currency": "USD"}]}
                   for code, name, amount, days in self._quotes(shipment)]
        return json_response({"transactionId": "sandbox", "output": {"rateReplyDetails": details}})

    def ship(self, request: Request) -> Response:
        body = request.get_json()
        shipment = body["requestedShipment"]
        code = shipment.get("serviceType")
        quote = next((q for q in self._quotes(shipment) if q[0] == code), None)
        if quote is None:
            return self.error(400, "SERVICE.TYPE.INVALID", f"Invalid service type {code!r} for this route")
        destination = _place((shipment.get("recipients") or [{}])[0])
        origin = _place(shipment.get("shipper"))
        if origin["country"] != destination["country"] and not (
                shipment.get("customsClearanceDetail") or {}).get("commodities"):
            return self.error(400, "COMMODITIES.REQUIRED", "Commodity information is required for international")
        image = (shipment.get("labelSpecification") or {}).get("imageType", "PDF")
        if image not in ("PDF", "ZPLII", "PNG"):
            return self.error(400, "LABELSPECIFICATION.IMAGETYPE.INVALID", f"Invalid image type {image!r}")
        items = shipment.get("requestedPackageLineItems") or []
        seq = self.state.next_id()
        numbers = [f"79{seq:08d}{n:02d}" for n in range(len(items))]
        reference = next((r.get("value") for r in (items[0].get("customerReferences") or [])), None)
        parcel = new_parcel(self.state, "fedex", numbers, service=code, service_name=quote[1], reference=reference,
                            days=quote[3], cost=quote[2], currency="USD", origin=origin, destination=destination,
                            label_format="ZPL" if image == "ZPLII" else "PDF",
                            data={"seq": seq, "customs": shipment.get("customsClearanceDetail")})
        document = labels.zpl if image == "ZPLII" else labels.pdf
        docs = {n: base64.b64encode(document(n, [f"FEDEX {quote[1]}", f"TO {destination['city']}"])).decode()
                for n in numbers}
        pieces = [{"trackingNumber": n, "masterTrackingNumber": numbers[0], "packageSequenceNumber": i + 1,
                   "packageDocuments": [{"contentType": "LABEL", "docType": image, "encodedLabel": docs[n]}]}
                  for i, n in enumerate(numbers)]
        merged = []
        if body.get("mergeLabelDocOption") and len(numbers) > 1:
            whole = b"".join(base64.b64decode(docs[n]) for n in numbers) if image == "ZPLII" else \
                labels.pdf_pages(numbers, [f"FEDEX {quote[1]}"])
            merged = [{"contentType": "MERGED_LABEL_DOCUMENTS", "docType": image,
                       "encodedLabel": base64.b64encode(whole).decode()}]
        return json_response({"transactionId": "sandbox", "output": {"transactionShipments": [{
            "masterTrackingNumber": numbers[0], "serviceType": code, "shipDatestamp": parcel.created_at.date().isoformat(),
            "pieceResponses": pieces, "shipmentDocuments": merged,
            "completedShipmentDetail": {"shipmentRating": {"shipmentRateDetails": [
                {"rateType": "PAYOR_ACCOUNT_PACKAGE", "totalNetCharge": float(quote[2]), "currency": "USD"}]}}}]}})

    def cancel(self, request: Request) -> Response:
        number = request.get_json().get("trackingNumber", "")
        parcel = self.state.parcels.get(number)
        if parcel is None or parcel.carrier != "fedex":
            return self.error(404, "TRACKINGNUMBER.NOTFOUND", "Tracking number not found")
        if not self.state.void(parcel):
            return self.error(400, "SHIPMENT.CANCEL.NOTALLOWED", "Shipment already picked up or cancelled")
        return json_response({"transactionId": "sandbox", "output": {
            "cancelledShipment": True, "cancelledHistory": True, "message": "Shipment is successfully cancelled"}})

    def close(self, request: Request) -> Response:
        body = request.get_json()
        if body.get("closeReqType") != "GCCLOSE":
            return self.error(400, "CLOSEREQTYPE.INVALID", "closeReqType must be GCCLOSE")
        with self.state.lock:
            closed = {m for c in self.state.manifests if c["carrier"] == "fedex" for m in c["numbers"]}
            numbers = [p.tracking_number for p in self.state.shipments.values()
                       if p.carrier == "fedex" and p.service == "FEDEX_GROUND" and not p.voided
                       and p.tracking_number not in closed]
            reference = f"GC{self.state.next_id():08d}"
            self.state.manifests.append({"carrier": "fedex", "reference": reference, "numbers": numbers})
        report = f"FEDEX GROUND CLOSE {body.get('closeDate')} {reference}\n" + "\n".join(numbers)
        return json_response({"transactionId": "sandbox", "output": {
            "closeConfirmation": reference, "trackingNumbers": numbers,
            "closeDocuments": [{"type": "MANIFEST", "shippingDocumentDisposition": "RETURNED", "docType": "TEXT",
                                "parts": [{"documentPartSequenceNumber": 1,
                                           "document": base64.b64encode(report.encode()).decode()}]}]}})

    def _scan(self, step: Step) -> dict:
        kind, words, code, why = SCANS[step.kind]
        return {"date": step.at.astimezone(LOCAL).isoformat(), "eventType": kind, "eventDescription": words,
                "exceptionCode": code, "exceptionDescription": why, "derivedStatusCode": DERIVED[kind],
                "scanLocation": {"city": step.city.upper(), "stateOrProvinceCode": step.region,
                                 "countryCode": step.country, "residential": False}}

    def _result(self, parcel: SimParcel, number: str) -> dict:
        now = self.now()
        scans = [self._scan(s) for s in parcel.visible(now)][::-1]
        latest = scans[0] if scans else {}
        dates = []
        planned = parcel.estimate(now)
        if planned is not None:
            dates.append({"type": "ESTIMATED_DELIVERY", "dateTime": planned.astimezone(LOCAL).isoformat()})
        return {"trackingNumberInfo": {"trackingNumber": number, "carrierCode": "FDXG"},
                "latestStatusDetail": {"code": latest.get("derivedStatusCode", ""),
                                       "description": latest.get("eventDescription", "")},
                "dateAndTimes": dates, "scanEvents": scans,
                "packageDetails": {"count": len(parcel.pieces), "sequenceNumber": parcel.pieces.index(number) + 1}}

    def track(self, request: Request) -> Response:
        body = request.get_json()
        asked = [((i.get("trackingNumberInfo") or {}).get("trackingNumber") or "") for i in body.get("trackingInfo") or []]
        if not asked or len(asked) > 30:
            return self.error(400, "TRACKING.TRACKINGNUMBER.LIMIT", "Please provide 1 to 30 tracking numbers")
        results = []
        for number in asked:
            parcel = self.state.parcels.get(number)
            if parcel is None or parcel.carrier != "fedex":
                result = {"trackingNumberInfo": {"trackingNumber": number},
                          "error": {"code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                                    "message": "Tracking number cannot be found. Please correct the tracking "
                                               "number and try again."}}
            else:
                result = self._result(parcel, number)
            results.append({"trackingNumber": number, "trackResults": [result]})
        return json_response({"transactionId": "sandbox", "output": {"completeTrackResults": results}})
