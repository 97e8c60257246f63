"""EasyPost in the carrier sandbox (``/easypost/v2``): shipments with rates (USPS services
priced by weight, dimensions and zone), buy, retrieve, refund, trackers in EasyPost's shape
(oldest first, times with "Z" or a local offset), webhooks (``tracker.updated`` events POSTed
with ``X-Hmac-Signature``), and the label files ``postage_label`` links to. The official SDK
talks to it (``api_base=<root>/easypost/v2``)."""
from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Optional

from werkzeug.wrappers import Request, Response

from . import CarrierSandbox, json_response, labels, register
from .parcels import SimParcel, Step, billable_kg, first_estimate, plan, price, zone

GRAMS_PER_OUNCE = Decimal("28.349523125")
CM_PER_INCH = Decimal("2.54")
# service -> (base, per kg, days or None for the zone's)
SERVICES = {"GroundAdvantage": ("5.20", "1.90", None), "Priority": ("8.70", "2.40", 2),
            "Express": ("28.00", "4.10", 1)}
# step kind -> (status, status_detail, message, carrier code)
DETAILS = {
    "label": ("pre_transit", "status_update", "Pre-Shipment Info Sent to USPS, USPS Awaiting Item", "MA"),
    "pickup": ("in_transit", "received_at_origin_facility", "Accepted at USPS Origin Facility", "OA"),
    "depart": ("in_transit", "departed_facility", "Departed USPS Regional Facility", "T1"),
    "arrive": ("in_transit", "arrived_at_destination", "Arrived at USPS Regional Destination Facility", "10"),
    "out": ("out_for_delivery", "out_for_delivery", "Out for Delivery", "OF"),
    "delivered": ("delivered", "arrived_at_destination", "Delivered, In/At Mailbox", "01"),
    "failed_attempt": ("failure", "delivery_exception", "Notice Left (No Authorized Recipient Available)", "02"),
    "address": ("failure", "address_correction", "Insufficient Address", "04"),
    "delay": ("in_transit", "weather_delay", "Delayed due to Weather", "DX"),
    "returned": ("return_to_sender", "return", "Return to Sender Processed", "09"),
    "voided": ("cancelled", "cancelled", "Shipment label voided", "CA"),
}
LOCAL = timezone(timedelta(hours=-5))


def _id(prefix: str, seq: int, salt: str = "") -> str:
    return f"{prefix}_{hashlib.sha1(f'{prefix}{seq}{salt}'.encode()).hexdigest()[:24]}"


def _place(address: dict) -> dict:
    return {"city": address.get("city") or "", "region": address.get("state") or "",
            "country": address.get("country") or "US", "postcode": str(address.get("zip") or "")}


@register
class EasyPostSandbox(CarrierSandbox):
    name = "easypost"
    prefix = "/easypost"

    def routes(self):
        return [("/v2/shipments", "create_shipment", ["POST"]),
                ("/v2/shipments/<sid>", "get_shipment", ["GET"]),
                ("/v2/shipments/<sid>/buy", "buy", ["POST"]),
                ("/v2/shipments/<sid>/refund", "refund", ["POST"]),
                ("/v2/trackers", "create_tracker", ["POST"]),
                ("/v2/webhooks", "create_webhook", ["POST"]),
                ("/files/<name>", "label_file", ["GET"])]

    def error(self, status: int, code: str, message: str) -> Response:
        return json_response({"error": {"code": code.upper(), "message": message, "errors": []}}, status)

    def authenticate(self, request: Request, handler: str) -> Optional[Response]:
        if handler == "label_file":
            return None  # label files are public links, as EasyPost's are
        auth = request.authorization
        header = request.headers.get("Authorization", "")
        key = header[7:] if header.startswith("Bearer ") else (auth.username if auth and auth.type == "basic" else "")
        if key != self.credentials["api_key"]:
            return self.error(401, "APIKEY.INACTIVE", "This api key is no longer active. Please use a different "
                                                      "api key or reactivate this key.")
        return None

    # -- shipments -------------------------------------------------------------------------------
    def create_shipment(self, request: Request) -> Response:
        body = request.get_json()["shipment"]
        parcel = body.get("parcel") or {}
        if not parcel.get("weight"):
            return self.error(422, "PARCEL.WEIGHT.MISSING", "Missing or invalid parcel weight")
        to, origin = _place(body.get("to_address") or {}), _place(body.get("from_address") or {})
        if not to["postcode"] or not to["city"]:
            return self.error(422, "ADDRESS.VERIFY.FAILURE", "Unable to verify address.")
        weight_kg = Decimal(str(parcel["weight"])) * GRAMS_PER_OUNCE / 1000
        dims = [Decimal(str(parcel.get(k) or 0)) * CM_PER_INCH for k in ("length", "width", "height")]
        kg = billable_kg([(weight_kg, *dims)])
        zone_ = zone(origin["postcode"], to["postcode"], origin["country"] == to["country"])
        seq = self.state.next_id()
        sid = _id("shp", seq)
        rates = [{"id": _id("rate", seq, service), "object": "Rate", "mode": "test", "service": service,
                  "carrier": "USPS", "rate": str(price(base, per_kg, kg, zone_)), "currency": "USD",
                  "delivery_days": days or 1 + zone_ // 2, "shipment_id": sid, "carrier_account_id": "ca_sandbox_usps"}
                 for service, (base, per_kg, days) in SERVICES.items()]
        shipment = {"id": sid, "object": "Shipment", "mode": "test", "reference": body.get("reference"),
                    "status": "unknown", "tracking_code": None, "to_address": body.get("to_address"),
                    "from_address": body.get("from_address"), "parcel": parcel, "rates": rates,
                    "options": body.get("options") or {}, "selected_rate": None, "postage_label": None,
                    "refund_status": None, "tracker": None, "created_at": self.now().isoformat()}
        with self.state.lock:
            self.state.unbought[sid] = shipment
        return json_response(shipment, 201)

    def _shipment(self, sid: str) -> Optional[dict]:
        with self.state.lock:
            shipment = self.state.unbought.get(sid)
            parcel = self.state.shipments.get(sid)
        if shipment is None:
            return None
        if parcel is not None:
            shipment = dict(shipment, refund_status=parcel.refund_status, tracker=self._tracker(parcel.tracking_number))
        return shipment

    def get_shipment(self, request: Request, sid: str) -> Response:
        shipment = self._shipment(sid)
        return json_response(shipment) if shipment else self.error(404, "NOT_FOUND", "The requested resource could not be found.")

    def buy(self, request: Request, sid: str) -> Response:
        shipment = self._shipment(sid)
        if shipment is None:
            return self.error(404, "NOT_FOUND", "The requested resource could not be found.")
        if shipment["tracking_code"]:
            return self.error(422, "SHIPMENT.POSTAGE.EXISTS", "Postage already exists for this shipment.")
        rate_id = (request.get_json().get("rate") or {}).get("id")
        rate = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
        if rate is None:
            return self.error(422, "SHIPMENT.RATE.INVALID", "The rate is not one of this shipment's rates.")
        seq = self.state.next_id()
        number = f"9400{seq:018d}"
        created = self.now()
        to, origin = _place(shipment["to_address"] or {}), _place(shipment["from_address"] or {})
        outcome = self.state.outcome()
        label_format = (shipment["options"].get("label_format") or "PNG").upper()
        parcel = SimParcel(carrier="easypost", tracking_number=number, shipment_id=sid, service=rate["service"],
                           reference=shipment["reference"], created_at=created,
                           steps=plan(created, rate["delivery_days"], outcome, origin, to), pieces=[number],
                           cost=Decimal(rate["rate"]), currency="USD", label_format=label_format,
                           data={"outcome": outcome, "seq": seq, "to": to,
                                 "first_estimate": first_estimate(created, rate["delivery_days"])})
        root = request.host_url.rstrip("/") + self.prefix + "/files/"
        postage = {"object": "PostageLabel", "id": _id("pl", seq), "label_size": "4x6",
                   "label_file_type": "application/zpl" if label_format == "ZPL" else "application/pdf",
                   "label_url": f"{root}{sid}.{'zpl' if label_format == 'ZPL' else 'pdf'}",
                   "label_pdf_url": f"{root}{sid}.pdf", "label_zpl_url": f"{root}{sid}.zpl"}
        with self.state.lock:
            shipment.update(tracking_code=number, selected_rate=rate, postage_label=postage, status="unknown")
            self.state.unbought[sid] = shipment
        self.state.add(parcel)
        return json_response(self._shipment(sid))

    def refund(self, request: Request, sid: str) -> Response:
        parcel = self.state.shipments.get(sid)
        if parcel is None:
            return self.error(404, "NOT_FOUND", "The requested resource could not be found.")
        if parcel.refund_status is None:
            parcel.refund_status = "submitted" if self.state.void(parcel) else "rejected"
        return json_response(self._shipment(sid))

    def label_file(self, request: Request, name: str) -> Response:
        sid, _, ext = name.rpartition(".")
        parcel = self.state.shipments.get(sid)
        if parcel is None or ext not in ("pdf", "zpl"):
            return Response("Not Found", 404)
        lines = [f"USPS {parcel.service}", f"SHIP TO: {parcel.data['to']['city']} {parcel.data['to']['postcode']}",
                 f"REF: {parcel.reference or ''}"]
        if ext == "zpl":
            return Response(labels.zpl(parcel.tracking_number, lines), content_type="application/zpl")
        return Response(labels.pdf(parcel.tracking_number, lines), content_type="application/pdf")

    # -- trackers --------------------------------------------------------------------------------
    def _detail(self, step: Step, n: int) -> dict:
        status, detail, message, code = DETAILS[step.kind]
        at = step.at if n % 2 == 0 else step.at.astimezone(LOCAL)  # "Z" or a local offset
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if n % 2 == 0 else at.strftime("%z")[:3] + ":" + at.strftime("%z")[3:])
        return {"object": "TrackingDetail", "message": message, "description": "", "status": status,
                "status_detail": detail, "datetime": stamp, "source": "USPS", "carrier_code": code,
                "tracking_location": {"object": "TrackingLocation", "city": step.city or None,
                                      "state": step.region or None, "country": step.country or None, "zip": None}}

    def _tracker(self, number: str) -> dict:
        parcel = self.state.parcels.get(number)
        tracker = {"id": "trk_" + hashlib.sha1(number.encode()).hexdigest()[:24], "object": "Tracker", "mode": "test",
                   "tracking_code": number, "status": "unknown", "status_detail": "unknown", "carrier": "USPS",
                   "tracking_details": [], "est_delivery_date": None, "shipment_id": None, "signed_by": None,
                   "weight": None, "public_url": None, "fees": [], "carrier_detail": None,
                   "created_at": self.now().isoformat(), "updated_at": self.now().isoformat()}
        if parcel is None or parcel.carrier != "easypost":
            return tracker
        details = [self._detail(s, n) for n, s in enumerate(parcel.visible(self.now()))]
        planned = parcel.estimate(self.now())
        tracker.update(tracking_details=details, shipment_id=parcel.shipment_id,
                       status=details[-1]["status"] if details else "unknown",
                       status_detail=details[-1]["status_detail"] if details else "unknown",
                       est_delivery_date=planned.strftime("%Y-%m-%dT00:00:00Z") if planned else None)
        return tracker

    def create_tracker(self, request: Request) -> Response:
        body = request.get_json().get("tracker") or {}
        if not body.get("tracking_code"):
            return self.error(422, "TRACKER.TRACKING_CODE.INVALID", "Invalid tracking code.")
        return json_response(self._tracker(str(body["tracking_code"])))

    # -- webhooks --------------------------------------------------------------------------------
    def create_webhook(self, request: Request) -> Response:
        body = request.get_json().get("webhook") or {}
        if not body.get("url"):
            return self.error(422, "WEBHOOK.URL.INVALID", "Invalid webhook URL.")
        webhook = {"id": _id("hook", self.state.next_id()), "object": "Webhook", "mode": "test", "url": body["url"],
                   "webhook_secret": body.get("webhook_secret") or ""}
        with self.state.lock:
            self.state.easypost_webhooks.append(webhook)
        return json_response({k: v for k, v in webhook.items() if k != "webhook_secret"}, 201)

    def webhooks(self, parcel: SimParcel, steps: list[Step]) -> list[tuple[str, dict, bytes]]:
        tracker = self._tracker(parcel.tracking_number)
        event = {"id": _id("evt", self.state.next_id()), "object": "Event", "mode": "test",
                 "description": "tracker.updated", "previous_attributes": {}, "result": tracker,
                 "status": "pending", "created_at": self.now().isoformat()}
        body = json.dumps(event).encode()
        out = []
        for hook in self.state.easypost_webhooks:
            key = unicodedata.normalize("NFKD", hook["webhook_secret"]).encode()
            signature = "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            out.append((hook["url"], {"X-Hmac-Signature": signature}, body))
        return out
