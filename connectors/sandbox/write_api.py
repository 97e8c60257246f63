"""The sandbox's write paths for WooCommerce REST and Amazon SP-API (Shopify writes are
GraphQL: shopify_orders_graphql.py). Mixed into ``SandboxApp``; each handler turns a request
into a ``writes`` call under the state lock and answers in the API's own shape.

WooCommerce: ``PUT orders/<id>`` (status, meta_data), ``GET|POST orders/<id>/notes``,
``POST orders/<id>/refunds`` (``api_refund``). Amazon: v0 ``confirmShipment``
(``POST /orders/v0/orders/<id>/shipmentConfirmation``, 204) and the Feeds API 2021-06-30:
``createFeedDocument`` (an upload URL on the sandbox, no auth, like S3's presigned one),
``createFeed``, ``getFeed``, ``getFeeds``, ``getFeedDocument``. A feed is processed at its
first ``getFeed`` (``IN_PROGRESS`` until then, so a client really waits for the processing
report): ``POST_ORDER_ACKNOWLEDGEMENT_DATA`` (a ``Failure`` status code cancels the order)
and ``POST_PAYMENT_ADJUSTMENT_DATA`` (a refund); the report says per message what failed.
"""
from __future__ import annotations

import json
import secrets
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from . import writes
from .state import SimOrder

FEEDS = "/amazon/<shop>/feeds/2021-06-30"
ORDER_ITEM = 60_000_000_000_000
WOO_LINE = 500


def rules() -> list[Rule]:
    """The write paths' URL rules (fresh ones for each app: a rule binds to one map)."""
    return [
        Rule("/woocommerce/<shop>/wp-json/wc/v3/orders/<oid>", endpoint="woo_order_update", methods=["PUT", "POST"]),
        Rule("/woocommerce/<shop>/wp-json/wc/v3/orders/<oid>/notes", endpoint="woo_notes", methods=["GET"]),
        Rule("/woocommerce/<shop>/wp-json/wc/v3/orders/<oid>/notes", endpoint="woo_note_create", methods=["POST"]),
        Rule("/woocommerce/<shop>/wp-json/wc/v3/orders/<oid>/refunds", endpoint="woo_refund_create",
             methods=["POST"]),
        Rule("/amazon/<shop>/orders/v0/orders/<oid>/shipmentConfirmation", endpoint="amz_confirm_shipment",
             methods=["POST"]),
        Rule(f"{FEEDS}/documents", endpoint="amz_create_feed_document", methods=["POST"]),
        Rule(f"{FEEDS}/documents/<doc_id>", endpoint="amz_get_feed_document", methods=["GET"]),
        Rule(f"{FEEDS}/feeds", endpoint="amz_create_feed", methods=["POST"]),
        Rule(f"{FEEDS}/feeds", endpoint="amz_get_feeds", methods=["GET"]),
        Rule(f"{FEEDS}/feeds/<feed_id>", endpoint="amz_get_feed", methods=["GET"]),
        Rule("/amazon/_documents/<doc_id>", endpoint="feed_document_bytes", methods=["GET", "PUT"]),
    ]


OPERATIONS = {
    "amz_confirm_shipment": "confirmShipment", "amz_create_feed_document": "createFeedDocument",
    "amz_get_feed_document": "getFeedDocument", "amz_create_feed": "createFeed", "amz_get_feeds": "getFeeds",
    "amz_get_feed": "getFeed",
}


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return None


class WriteApi:
    """Needs ``self.state`` and the module-level ``json_response`` of app.py (passed in)."""

    respond = None  # app.json_response, set by SandboxApp

    # -- WooCommerce ---------------------------------------------------------------------------
    def _woo_error(self, code: str, message: str, status: int = 400) -> Response:
        return self.respond({"code": code, "message": message, "data": {"status": status}}, status)

    def _woo_order_or_404(self, shop: str, oid: str) -> Optional[SimOrder]:
        return self.state.get_order("woocommerce", shop, oid)

    def woo_order_update(self, request: Request, shop: str, oid: str) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict):
            return self._woo_error("rest_invalid_json", "Invalid JSON body passed.")
        with self.state.lock:
            order = self._woo_order_or_404(shop, oid)
            if order is None:
                return self._woo_error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            status = body.get("status")
            try:
                if status == "cancelled" and not order.cancelled:
                    writes.cancel(self.state, order, "cancelled by the seller", refund=False)
                elif status == "completed":
                    if order.cancelled:
                        raise writes.Refused("woocommerce_rest_invalid_status", "a cancelled order cannot be completed")
                    order.status_override = "completed"
                    if not order.fulfilled:
                        order.fulfilled, order.fulfilled_at = True, self.state.clock.tick()
                elif status not in (None, "cancelled"):
                    order.status_override = str(status)
            except writes.Refused as refused:
                return self._woo_error("woocommerce_rest_cannot_edit", refused.message)
            for entry in body.get("meta_data") or []:
                order.meta = [m for m in order.meta if m["key"] != entry.get("key")] + [
                    {"id": len(order.meta) + 1, "key": entry.get("key"), "value": entry.get("value")}]
            order.updated_at = self.state.clock.tick()
            order.version += 1
            base_api = f"{request.host_url.rstrip('/')}/woocommerce/{shop}/wp-json/wc/v3"
            from . import render

            return self.respond(render.woo_order(order, base_api))

    def woo_notes(self, request: Request, shop: str, oid: str) -> Response:
        with self.state.lock:
            order = self._woo_order_or_404(shop, oid)
            if order is None:
                return self._woo_error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            return self.respond(list(reversed(order.notes)))  # newest first, as WooCommerce lists them

    def woo_note_create(self, request: Request, shop: str, oid: str) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict) or not str(body.get("note") or "").strip():
            return self._woo_error("rest_missing_callback_param", "Missing parameter(s): note")
        with self.state.lock:
            order = self._woo_order_or_404(shop, oid)
            if order is None:
                return self._woo_error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            now = self.state.clock.tick()
            note = {"id": 1000 + len(order.notes) + 1000 * order.seq, "author": "WooCommerce",
                    "date_created_gmt": now.strftime("%Y-%m-%dT%H:%M:%S"), "note": str(body["note"]),
                    "customer_note": bool(body.get("customer_note"))}
            order.notes.append(note)
            return self.respond(note, 201)

    def woo_refund_create(self, request: Request, shop: str, oid: str) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict):
            return self._woo_error("rest_invalid_json", "Invalid JSON body passed.")
        with self.state.lock:
            order = self._woo_order_or_404(shop, oid)
            if order is None:
                return self._woo_error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            try:
                amount = Decimal(str(body.get("amount") or "0"))
                lines = {int(item["id"]) - WOO_LINE: int(item.get("quantity") or 0)
                         for item in body.get("line_items") or [] if int(item.get("quantity") or 0)}
                if not body.get("api_refund", True):
                    raise writes.Refused("sandbox_manual_refund", "the sandbox only makes refunds through the gateway")
                made = writes.refund(self.state, order, amount, reason=str(body.get("reason") or ""), lines=lines,
                                     reference=str(body.get("reason") or "") or None)
            except (InvalidOperation, ValueError, KeyError, TypeError):
                return self._woo_error("woocommerce_rest_invalid_order_refund", "Invalid refund amount.")
            except writes.Refused as refused:
                return self._woo_error("woocommerce_rest_cannot_create_order_refund",
                                       f"Invalid refund amount: {refused.message}")
            from . import render

            return self.respond(render.woo_refunds(order)[-1] if made else {}, 201)

    # -- Amazon: confirmShipment -----------------------------------------------------------------
    def _amz_error(self, code: str, message: str, status: int = 400) -> Response:
        return self.respond({"errors": [{"code": code, "message": message, "details": ""}]}, status)

    def amz_confirm_shipment(self, request: Request, shop: str, oid: str) -> Response:
        body = _json_body(request)
        detail = (body or {}).get("packageDetail") if isinstance(body, dict) else None
        if not isinstance(detail, dict) or not body.get("marketplaceId"):
            return self._amz_error("InvalidInput", "marketplaceId and packageDetail are required")
        for field in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems"):
            if not detail.get(field):
                return self._amz_error("InvalidInput", f"packageDetail.{field} is required")
        with self.state.lock:
            order = self.state.get_order("amazon", shop, oid)
            if order is None:
                return self._amz_error("NotFound", f"Order {oid} not found", 404)
            if any(f["reference"] == str(detail["packageReferenceId"]) for f in order.fulfillments):
                return self._amz_error("InvalidInput", "packageReferenceId has already been confirmed")
            try:
                lines = {}
                for item in detail["orderItems"]:
                    line_id = int(item["orderItemId"]) - ORDER_ITEM
                    lines[line_id] = lines.get(line_id, 0) + int(item["quantity"])
                writes.fulfil(self.state, order, lines, company=str(detail.get("carrierName") or detail["carrierCode"]),
                              number=str(detail["trackingNumber"]), reference=str(detail["packageReferenceId"]))
            except (KeyError, ValueError, TypeError):
                return self._amz_error("InvalidInput", "orderItems need orderItemId and quantity")
            except writes.Refused as refused:
                return self._amz_error("InvalidInput", refused.message)
        return Response(status=204)

    # -- Amazon: Feeds API -------------------------------------------------------------------------
    def amz_create_feed_document(self, request: Request, shop: str) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict) or not body.get("contentType"):
            return self._amz_error("InvalidInput", "contentType is required")
        doc_id = f"amzn1.tortuga.4.eu.{secrets.token_hex(12)}"
        with self.state.lock:
            self.state.feed_documents[doc_id] = {"content_type": body["contentType"], "content": None}
        return self.respond({"feedDocumentId": doc_id, "url": f"{request.host_url}amazon/_documents/{doc_id}"},
                            201)

    def feed_document_bytes(self, request: Request, doc_id: str) -> Response:
        with self.state.lock:
            document = self.state.feed_documents.get(doc_id)
            if document is None:
                return Response(b"<Error><Code>NoSuchKey</Code></Error>", status=404, content_type="application/xml")
            if request.method == "PUT":
                document["content"] = request.get_data()
                return Response(status=200)
            return Response(document["content"] or b"", status=200, content_type=document["content_type"])

    def amz_get_feed_document(self, request: Request, shop: str, doc_id: str) -> Response:
        with self.state.lock:
            if doc_id not in self.state.feed_documents:
                return self._amz_error("NotFound", f"feed document {doc_id} not found", 404)
        return self.respond({"feedDocumentId": doc_id, "url": f"{request.host_url}amazon/_documents/{doc_id}"})

    def amz_create_feed(self, request: Request, shop: str) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict) or not body.get("feedType") or not body.get("inputFeedDocumentId"):
            return self._amz_error("InvalidInput", "feedType, marketplaceIds and inputFeedDocumentId are required")
        with self.state.lock:
            document = self.state.feed_documents.get(body["inputFeedDocumentId"])
            if document is None or document["content"] is None:
                return self._amz_error("InvalidInput", "the input feed document was not uploaded")
            feed_id = str(50_000_000_000 + len(self.state.feeds) + 1)
            self.state.feeds[feed_id] = {
                "feedId": feed_id, "feedType": body["feedType"], "marketplaceIds": body.get("marketplaceIds") or [],
                "createdTime": self.state.clock.now().isoformat().replace("+00:00", "Z"),
                "processingStatus": "IN_QUEUE", "inputFeedDocumentId": body["inputFeedDocumentId"], "shop": shop}
        return self.respond({"feedId": feed_id}, 202)

    def _feed_view(self, feed: dict) -> dict:
        return {k: v for k, v in feed.items() if k not in ("inputFeedDocumentId", "shop")}

    def amz_get_feeds(self, request: Request, shop: str) -> Response:
        types = {t for value in request.args.getlist("feedTypes") for t in value.split(",") if t}
        with self.state.lock:
            feeds = [self._feed_view(f) for f in self.state.feeds.values()
                     if f["shop"] == shop and (not types or f["feedType"] in types)]
        return self.respond({"feeds": feeds})

    def amz_get_feed(self, request: Request, shop: str, feed_id: str) -> Response:
        with self.state.lock:
            feed = self.state.feeds.get(feed_id)
            if feed is None or feed["shop"] != shop:
                return self._amz_error("NotFound", f"feed {feed_id} not found", 404)
            if feed["processingStatus"] == "IN_QUEUE":
                feed["processingStatus"] = "IN_PROGRESS"  # the next look finds it done
            elif feed["processingStatus"] == "IN_PROGRESS":
                self._process_feed(feed)
            view = dict(self._feed_view(feed), inputFeedDocumentId=feed["inputFeedDocumentId"])
        return self.respond(view)

    def _process_feed(self, feed: dict) -> None:
        content = self.state.feed_documents[feed["inputFeedDocumentId"]]["content"]
        results = []
        try:
            root = ET.fromstring(content)
            messages = root.findall("Message")
        except ET.ParseError as exc:
            feed["processingStatus"] = "FATAL"
            messages, results = [], [("0", "5001", f"the feed is not XML: {exc}")]
        for message in messages:
            message_id = message.findtext("MessageID") or "0"
            try:
                self._apply_message(feed, message)
                results.append((message_id, None, None))
            except writes.Refused as refused:
                results.append((message_id, refused.code, refused.message))
        report_id = f"amzn1.tortuga.4.eu.report.{secrets.token_hex(8)}"
        self.state.feed_documents[report_id] = {"content_type": "text/xml; charset=UTF-8",
                                                "content": _report(feed["feedId"], results)}
        if feed["processingStatus"] != "FATAL":
            feed["processingStatus"] = "DONE"
        feed["resultFeedDocumentId"] = report_id
        feed["processingEndTime"] = self.state.clock.now().isoformat().replace("+00:00", "Z")

    def _apply_message(self, feed: dict, message) -> None:
        if feed["feedType"] == "POST_ORDER_ACKNOWLEDGEMENT_DATA":
            ack = message.find("OrderAcknowledgement")
            order = self._feed_order(feed, ack)
            if (ack.findtext("StatusCode") or "") == "Failure":
                reason = ack.findtext("Item/CancelReason") or "GeneralAdjustment"
                writes.cancel(self.state, order, reason, refund=False)
            return
        if feed["feedType"] == "POST_PAYMENT_ADJUSTMENT_DATA":
            adjustment = message.find("OrderAdjustment")
            order = self._feed_order(feed, adjustment)
            amount, lines, reference = Decimal("0"), {}, None
            for item in adjustment.findall("AdjustedItem"):
                reference = reference or item.findtext("MerchantAdjustmentItemID")
                for component in item.findall("ItemPriceAdjustments/Component"):
                    amount += Decimal(component.findtext("Amount") or "0")
                quantity = int(item.findtext("QuantityCancelled") or 0)
                if quantity:
                    lines[int(item.findtext("AmazonOrderItemCode")) - ORDER_ITEM] = quantity
            if reference and any(r.reference == reference for r in order.refunds):
                raise writes.Refused("DuplicateAdjustment",
                                     f"MerchantAdjustmentItemID {reference} was already processed")
            writes.refund(self.state, order, amount, reason=adjustment.findtext("AdjustedItem/AdjustmentReason") or "",
                          lines=lines, reference=reference)
            return
        raise writes.Refused("UnsupportedFeed", f"the sandbox does not process {feed['feedType']}")

    def _feed_order(self, feed: dict, node) -> SimOrder:
        if node is None:
            raise writes.Refused("25", "the message has no order element")
        order = self.state.get_order("amazon", feed["shop"], node.findtext("AmazonOrderID") or "")
        if order is None:
            raise writes.Refused("18028", f"order {node.findtext('AmazonOrderID')} is not found")
        return order


def _report(feed_id: str, results: list[tuple[str, Optional[str], Optional[str]]]) -> bytes:
    root = ET.Element("AmazonEnvelope")
    header = ET.SubElement(root, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.02"
    ET.SubElement(root, "MessageType").text = "ProcessingReport"
    message = ET.SubElement(root, "Message")
    ET.SubElement(message, "MessageID").text = "1"
    report = ET.SubElement(message, "ProcessingReport")
    ET.SubElement(report, "DocumentTransactionID").text = feed_id
    ET.SubElement(report, "StatusCode").text = "Complete"
    summary = ET.SubElement(report, "ProcessingSummary")
    errors = [r for r in results if r[1] is not None]
    ET.SubElement(summary, "MessagesProcessed").text = str(len(results))
    ET.SubElement(summary, "MessagesSuccessful").text = str(len(results) - len(errors))
    ET.SubElement(summary, "MessagesWithError").text = str(len(errors))
    ET.SubElement(summary, "MessagesWithWarning").text = "0"
    for message_id, code, description in errors:
        result = ET.SubElement(report, "Result")
        ET.SubElement(result, "MessageID").text = message_id
        ET.SubElement(result, "ResultCode").text = "Error"
        ET.SubElement(result, "ResultMessageCode").text = code
        ET.SubElement(result, "ResultDescription").text = description
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
