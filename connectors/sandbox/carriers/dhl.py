"""DHL in the carrier sandbox: the MyDHL API (Basic auth; ``GET /mydhlapi/rates``, ``POST
/mydhlapi/shipments`` — international shipments refused without export line items carrying a
commodity code and manufacturer country; no void) and the Unified Shipment Tracking API
(``GET /track/shipments?trackingNumber=``, header ``DHL-API-Key``, a daily quota answered with
429 past it; events newest first, times in local time with an offset or, for some facilities,
none; a multi-piece Express shipment names its pieces in ``details.pieceIds``)."""
from __future__ import annotations

import base64
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Optional

from werkzeug.wrappers import Request, Response

from . import CarrierSandbox, json_response, labels, register
from .parcels import SimParcel, Step, billable_kg, new_parcel, price, zone

# product code -> (name, base, per kg, days)
PRODUCTS = {"N": ("EXPRESS DOMESTIC", "21.00", "2.60", 1), "P": ("EXPRESS WORLDWIDE", "44.00", "7.10", 3),
            "T": ("EXPRESS 12:00", "52.00", "7.90", 2)}
DOMESTIC = ("N",)
TRACK_QUOTA_PER_DAY = 50000  # calls a nominal day (the default plan is far smaller; the sandbox is kind)
# step kind -> (statusCode, status title, description)
EVENTS = {"label": ("pre-transit", "SHIPMENT INFORMATION RECEIVED", "Shipment information received"),
          "pickup": ("transit", "SHIPMENT PICKED UP", "Shipment picked up"),
          "depart": ("transit", "PROCESSED AT", "Processed at DHL facility"),
          "arrive": ("transit", "ARRIVED AT DELIVERY FACILITY", "Arrived at DHL Delivery Facility"),
          "out": ("transit", "WITH DELIVERY COURIER", "Shipment is out with courier for delivery"),
          "delivered": ("delivered", "DELIVERED", "Delivered"),
          "failed_attempt": ("failure", "CUSTOMER NOT AVAILABLE OR BUSINESS CLOSED",
                             "Customer not available or business closed"),
          "address": ("failure", "INCORRECT OR INCOMPLETE ADDRESS", "Incorrect or incomplete address"),
          "delay": ("transit", "DELAYED DUE TO WEATHER", "Delayed due to weather conditions"),
          "returned": ("failure", "RETURNED TO SHIPPER", "Returned to shipper"),
          "voided": ("unknown", "LABEL VOIDED", "Label voided by the shipper")}
LOCAL = timezone(timedelta(hours=1))


def _place(party: dict) -> dict:
    address = (party or {}).get("postalAddress") or {}
    return {"city": address.get("cityName", ""), "region": address.get("provinceCode", ""),
            "country": address.get("countryCode", ""), "postcode": address.get("postalCode", "")}


@register
class DHLSandbox(CarrierSandbox):
    name = "dhl"
    prefix = "/dhl"
    rate_limit = (10.0, 50)

    def routes(self):
        return [("/mydhlapi/rates", "rates", ["GET"]), ("/mydhlapi/shipments", "ship", ["POST"]),
                ("/track/shipments", "track", ["GET"])]

    def error(self, status: int, code: str, message: str) -> Response:
        return json_response({"instance": "/sandbox", "title": code, "status": status, "detail": message}, status,
                             headers={"Content-Type": "application/problem+json"})

    def authenticate(self, request: Request, handler: str) -> Optional[Response]:
        if handler == "track":
            if request.headers.get("DHL-API-Key") != self.credentials["api_key"]:
                return self.error(401, "Unauthorized", "Invalid API key")
            return None
        auth = request.authorization
        if not auth or (auth.username, auth.password) != (self.credentials["username"], self.credentials["password"]):
            return self.error(401, "Unauthorized", "Invalid Credentials")
        return None

    def _quotes(self, origin: dict, destination: dict, packages) -> list[tuple[str, str, Decimal, int]]:
        domestic = origin["country"] == destination["country"]
        zone_ = zone(origin["postcode"], destination["postcode"], domestic)
        kg = billable_kg(packages)
        return [(code, name, price(base, per_kg, kg, zone_), days + (0 if domestic else zone_ // 4))
                for code, (name, base, per_kg, days) in PRODUCTS.items() if (code in DOMESTIC) == domestic]

    def rates(self, request: Request) -> Response:
        args = request.args
        origin = {"country": args["originCountryCode"], "postcode": args.get("originPostalCode", "")}
        destination = {"country": args["destinationCountryCode"], "postcode": args.get("destinationPostalCode", "")}
        package = [(Decimal(args["weight"]), *(Decimal(args.get(k, "1")) for k in ("length", "width", "height")))]
        products = [{"productName": name, "productCode": code, "localProductCode": code, "networkTypeCode": "TD",
                     "isCustomerAgreement": False, "weight": {"unitOfMeasurement": "metric"},
                     "totalPrice": [{"currencyType": "BILLC", "priceCurrency": "USD", "price": float(amount)}],
                     "deliveryCapabilities": {"deliveryTypeCode": "QDDC", "totalTransitDays": str(days)}}
                    for code, name, amount, days in self._quotes(origin, destination, package)]
        return json_response({"products": products, "exchangeRates": []})

    def ship(self, request: Request) -> Response:
        body = request.get_json()
        content = body["content"]
        details = body["customerDetails"]
        origin, destination = _place(details["shipperDetails"]), _place(details["receiverDetails"])
        if origin["country"] != destination["country"]:
            items = (content.get("exportDeclaration") or {}).get("lineItems") or []
            if not content.get("isCustomsDeclarable") or not items or any(
                    not i.get("commodityCodes") or not i.get("manufacturerCountry") for i in items):
                return self.error(422, "Unprocessable Entity", "exportDeclaration.lineItems with commodityCodes and "
                                                               "manufacturerCountry are required")
        packages = [(Decimal(str(p["weight"])), *(Decimal(str((p.get("dimensions") or {}).get(k) or 1))
                                                  for k in ("length", "width", "height"))) for p in content["packages"]]
        quote = next((q for q in self._quotes(origin, destination, packages) if q[0] == body.get("productCode")), None)
        if quote is None:
            return self.error(400, "Bad Request", f"Product {body.get('productCode')!r} not available for this route")
        seq = self.state.next_id()
        number = f"{1000000000 + seq}"
        pieces = [f"JD0140{seq:08d}{n:02d}" for n in range(len(packages))]
        zpl = (body.get("outputImageProperties") or {}).get("encodingFormat") == "zpl"
        reference = next((r.get("value") for r in body.get("customerReferences") or []), None)
        new_parcel(self.state, "dhl", [number] + pieces, service=quote[0], service_name=quote[1], reference=reference,
                   days=quote[3], cost=quote[2], currency="USD", origin=origin, destination=destination,
                   label_format="ZPL" if zpl else "PDF", data={"seq": seq, "export": content.get("exportDeclaration")})
        document = (labels.zpl if zpl else labels.pdf)(number, [f"DHL {quote[1]}", f"TO {destination['city']}"])
        return json_response({
            "shipmentTrackingNumber": number, "trackingUrl": f"https://express.api.dhl.com/track?n={number}",
            "packages": [{"referenceNumber": n + 1, "trackingNumber": p} for n, p in enumerate(pieces)],
            "documents": [{"imageFormat": "ZPL" if zpl else "PDF", "content": base64.b64encode(document).decode(),
                           "typeCode": "label"}],
            "shipmentCharges": [{"currencyType": "BILLC", "priceCurrency": "USD", "price": float(quote[2])}]},
            status=201)

    # -- Unified Shipment Tracking ----------------------------------------------------------------
    def _event(self, step: Step, n: int) -> dict:
        code, title, words = EVENTS[step.kind]
        local = step.at.astimezone(LOCAL)
        return {"timestamp": local.isoformat() if n % 2 else local.strftime("%Y-%m-%dT%H:%M:%S"),
                "location": {"address": {"addressLocality": f"{step.city.upper()} - {step.country}"}},
                "statusCode": code, "status": title, "description": words}

    def _over_quota(self) -> bool:
        day = self.now().date().isoformat()
        with self.state.lock:
            if not self.hub.limits_on:
                return False
            used = self.state.quota.get(("dhl", day), 0) + 1
            self.state.quota[("dhl", day)] = used
        return used > TRACK_QUOTA_PER_DAY

    def track(self, request: Request) -> Response:
        if self._over_quota():
            response = self.error(429, "Too many requests", "Daily quota exceeded")
            response.headers["Retry-After"] = "60"
            return response
        number = request.args.get("trackingNumber", "")
        parcel: Optional[SimParcel] = self.state.parcels.get(number)
        if parcel is None or parcel.carrier != "dhl":
            return self.error(404, "No result found", "No shipment with given tracking number found.")
        now = self.now()
        visible = parcel.visible(now)
        events = [self._event(s, n) for n, s in enumerate(visible)][::-1]
        planned = parcel.estimate(now)
        shipment = {"id": parcel.tracking_number, "service": "express",
                    "origin": {"address": {"addressLocality": parcel.data["from"]["city"]}},
                    "destination": {"address": {"addressLocality": parcel.data["to"]["city"]}},
                    "status": events[0] if events else {}, "events": events,
                    "details": {"product": {"productName": parcel.data["service_name"]},
                                "totalNumberOfPieces": len(parcel.pieces) - 1, "pieceIds": parcel.pieces[1:]}}
        if planned is not None:
            shipment["estimatedTimeOfDelivery"] = planned.astimezone(LOCAL).isoformat()
        return json_response({"shipments": [shipment]})
