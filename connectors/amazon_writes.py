"""Amazon SP-API write-back (mixed into ``AmazonConnector``).

- Fulfilment: Orders v0 ``confirmShipment`` (merchant-fulfilled orders only) with the
  package's carrier code and name, shipping method, tracking number and items; our key is
  the ``packageReferenceId``, found again among the order's packages (2026-01-01
  ``includedData=PACKAGES``). Amazon cannot undo a confirmation: ``cancel_fulfillment``
  refuses with that reason.
- Cancel: the ``POST_ORDER_ACKNOWLEDGEMENT_DATA`` feed (status ``Failure`` with a cancel
  reason per item); refund: ``POST_PAYMENT_ADJUSTMENT_DATA`` (our key as the
  ``MerchantAdjustmentItemID``, which Amazon takes once). A feed is a document uploaded to
  the URL ``createFeedDocument`` gives, then ``createFeed``; it is confirmed only by its
  processing report (``feed_result``): ``pending`` until Amazon has processed it.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Optional

from . import amazon_2026
from .errors import ChannelAuthError, ChannelError
from .http import make_session
from .writes import CancelPush, ChannelRefused, FulfillmentPush, RefundPush, WriteResult, carrier_name

FEEDS = "/feeds/2021-06-30"
ACK_FEED = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
ADJUSTMENT_FEED = "POST_PAYMENT_ADJUSTMENT_DATA"
XML = "text/xml; charset=UTF-8"
# Amazon's carrier codes (confirmShipment); any other carrier is "Other" with its name
CARRIER_CODES = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL"}
DUPLICATE_CODE = "DuplicateAdjustment"


def cancel_reason(reason: str) -> str:
    text = (reason or "").lower()
    if "stock" in text or "inventory" in text:
        return "NoInventory"
    if "address" in text:
        return "ShippingAddressUndeliverable"
    if "customer" in text or "buyer" in text:
        return "BuyerCanceled"
    return "GeneralAdjustment"


def _envelope(message_type: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element("AmazonEnvelope")
    header = ET.SubElement(root, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.01"
    ET.SubElement(header, "MerchantIdentifier").text = "WAYBILL"
    ET.SubElement(root, "MessageType").text = message_type
    message = ET.SubElement(root, "Message")
    ET.SubElement(message, "MessageID").text = "1"
    return root, message


def acknowledgement_feed(cancel: CancelPush, key: str) -> bytes:
    root, message = _envelope("OrderAcknowledgement")
    ack = ET.SubElement(message, "OrderAcknowledgement")
    ET.SubElement(ack, "AmazonOrderID").text = cancel.order_external_id
    ET.SubElement(ack, "MerchantOrderID").text = key
    ET.SubElement(ack, "StatusCode").text = "Failure"  # Failure = the seller cancels the order
    for line_id in cancel.line_ids:
        item = ET.SubElement(ack, "Item")
        ET.SubElement(item, "AmazonOrderItemCode").text = line_id
        ET.SubElement(item, "CancelReason").text = cancel_reason(cancel.reason)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def adjustment_feed(refund: RefundPush, key: str, item_ids: list[str]) -> bytes:
    """One adjusted item per refunded line (the first carries the amount and our key)."""
    root, message = _envelope("OrderAdjustment")
    adjustment = ET.SubElement(message, "OrderAdjustment")
    ET.SubElement(adjustment, "AmazonOrderID").text = refund.order_external_id
    lines = refund.lines or [None]
    for index, line in enumerate(lines):
        item = ET.SubElement(adjustment, "AdjustedItem")
        ET.SubElement(item, "AmazonOrderItemCode").text = line.external_id if line else item_ids[0]
        ET.SubElement(item, "MerchantAdjustmentItemID").text = key if index == 0 else f"{key}-{index}"
        ET.SubElement(item, "AdjustmentReason").text = "CustomerReturn" if refund.lines else "GeneralAdjustment"
        components = ET.SubElement(item, "ItemPriceAdjustments")
        parts = [("Principal", refund.amount - refund.shipping), ("Shipping", refund.shipping)] if index == 0 \
            else [("Principal", Decimal("0"))]
        for kind, value in parts:
            if value or kind == "Principal":
                component = ET.SubElement(components, "Component")
                ET.SubElement(component, "Type").text = kind
                ET.SubElement(component, "Amount", currency=refund.currency).text = str(value)
        if line:
            ET.SubElement(item, "QuantityCancelled").text = str(line.quantity)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def read_report(content: bytes) -> tuple[int, list[tuple[str, str]]]:
    """(messages with an error, [(result code, description)]) of a processing report."""
    root = ET.fromstring(content)
    report = root.find("Message/ProcessingReport")
    if report is None:
        raise ChannelError("amazon: the feed's result is not a processing report", channel="amazon")
    errors = int(report.findtext("ProcessingSummary/MessagesWithError") or 0)
    results = [(r.findtext("ResultMessageCode") or "", r.findtext("ResultDescription") or "")
               for r in report.findall("Result") if r.findtext("ResultCode") == "Error"]
    return errors, results


class AmazonWrites:
    """Needs ``base_url``, ``session``, ``tokens``, ``_call`` (AmazonConnector's)."""

    def _write(self, method: str, path: str, operation: str, body: dict, *, answers_json: bool = True):
        """One attempt (the outbox retries, looking first); an expired token is renewed once."""
        url = f"{self.base_url}{path}"
        for renew in (True, False):
            try:
                if not answers_json:  # confirmShipment answers 204, no body
                    return self.session._send(method, url, (), {"json": body}, operation=operation,
                                              parse_json=False, retries=0)[0]
                return self.session.request_json(method, url, json=body, operation=operation, retries=0)[0]
            except ChannelAuthError as exc:
                if exc.status != 403 or not renew:
                    raise
                self.tokens.invalidate()
            except ChannelError as exc:
                if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 409, 429):
                    raise ChannelRefused(f"amazon: {operation} refused: {exc.body or exc.message}",
                                         channel="amazon", status=exc.status, body=exc.body) from None
                raise
        return None

    def _order_2026(self, external_id: str) -> dict:
        return self._call(f"/orders/{amazon_2026.VERSION}/orders/{external_id}", "getOrder2026",
                          {"includedData": "PACKAGES,FULFILLMENT"})["order"]

    @staticmethod
    def _marketplace(order: dict) -> str:
        return (order.get("salesChannel") or {}).get("marketplaceId") or ""

    # -- fulfilments -------------------------------------------------------------------------
    def push_fulfillment(self, push: FulfillmentPush, key: str) -> WriteResult:
        order = self._order_2026(push.order_external_id)
        fulfilment = order.get("fulfillment") or {}
        if fulfilment.get("fulfilledBy") == "AMAZON":
            raise ChannelRefused("amazon: Amazon ships this order itself (FBA)", channel="amazon")
        if fulfilment.get("fulfillmentStatus") == "CANCELLED":
            raise ChannelRefused(f"amazon: order {push.order_external_id} is cancelled", channel="amazon")
        code = CARRIER_CODES.get((push.carrier or "").lower(), "Other")
        detail = {"packageReferenceId": key, "carrierCode": code, "carrierName": carrier_name(push.carrier),
                  "shippingMethod": push.service or "Standard", "trackingNumber": push.tracking_number or key,
                  "shipDate": push.shipped_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "orderItems": [{"orderItemId": line.external_id, "quantity": line.quantity} for line in push.lines]}
        self._write("POST", f"/orders/v0/orders/{push.order_external_id}/shipmentConfirmation", "confirmShipment",
                    {"marketplaceId": self._marketplace(order), "packageDetail": detail}, answers_json=False)
        return WriteResult(key)

    def find_fulfillment(self, push: FulfillmentPush, key: str) -> Optional[WriteResult]:
        packages = self._order_2026(push.order_external_id).get("packages") or []
        return WriteResult(key) if any(p.get("packageReferenceId") == key for p in packages) else None

    def push_tracking(self, order_external_id: str, remote_id: str, carrier, number, url,
                      notify: bool = False) -> WriteResult:
        raise ChannelRefused("amazon: a confirmed shipment's tracking number cannot be changed", channel="amazon")

    def cancel_fulfillment(self, order_external_id: str, remote_id: str) -> WriteResult:
        raise ChannelRefused("amazon: a shipment confirmation cannot be undone on Amazon", channel="amazon")

    # -- feeds -----------------------------------------------------------------------------------
    def submit_feed(self, feed_type: str, marketplace_id: str, content: bytes) -> str:
        document = self._write("POST", f"{FEEDS}/documents", "createFeedDocument", {"contentType": XML})
        upload = make_session("amazon-upload", max_retries=3, time_scale=self.time_scale)
        upload.request("PUT", document["url"], data=content, headers={"Content-Type": XML})
        feed = self._write("POST", f"{FEEDS}/feeds", "createFeed", {
            "feedType": feed_type, "marketplaceIds": [marketplace_id],
            "inputFeedDocumentId": document["feedDocumentId"]})
        return str(feed["feedId"])

    def feed_result(self, feed_id: str) -> WriteResult:
        """What Amazon made of a feed: pending until processed, then its processing report."""
        feed = self._call(f"{FEEDS}/feeds/{feed_id}", "getFeed")
        status = feed.get("processingStatus")
        if status in ("IN_QUEUE", "IN_PROGRESS"):
            return WriteResult(feed_id, "pending", f"Amazon is processing feed {feed_id} ({status})")
        if status != "DONE" or not feed.get("resultFeedDocumentId"):
            return WriteResult(feed_id, "failed", f"Amazon did not process feed {feed_id}: {status}")
        document = self._call(f"{FEEDS}/documents/{feed['resultFeedDocumentId']}", "getFeedDocument")
        report = make_session("amazon-upload", max_retries=3, time_scale=self.time_scale).get(document["url"])
        errors, results = read_report(report.content)
        if not errors:
            return WriteResult(feed_id)
        if all(code == DUPLICATE_CODE for code, _ in results):
            return WriteResult(feed_id, note="Amazon had already taken this adjustment (a repeat)")
        return WriteResult(feed_id, "failed", "; ".join(text for _, text in results) or "the feed had errors")

    def cancel_order(self, cancel: CancelPush, key: str) -> WriteResult:
        order = self._order_2026(cancel.order_external_id)
        status = (order.get("fulfillment") or {}).get("fulfillmentStatus")
        if status in ("SHIPPED", "PARTIALLY_SHIPPED"):
            raise ChannelRefused(f"amazon: order {cancel.order_external_id} has shipped units: it cannot be "
                                 "cancelled", channel="amazon")
        if not cancel.line_ids:
            cancel.line_ids = [item["orderItemId"] for item in order.get("orderItems") or []]
        feed_id = self.submit_feed(ACK_FEED, self._marketplace(order), acknowledgement_feed(cancel, key))
        return WriteResult(feed_id, "pending")

    def find_cancel(self, cancel: CancelPush, key: str) -> Optional[WriteResult]:
        order = self._order_2026(cancel.order_external_id)
        cancelled = (order.get("fulfillment") or {}).get("fulfillmentStatus") == "CANCELLED"
        return WriteResult(cancel.order_external_id) if cancelled else None

    def create_refund(self, refund: RefundPush, key: str) -> WriteResult:
        order = self._order_2026(refund.order_external_id)
        item_ids = [item["orderItemId"] for item in order.get("orderItems") or []]
        feed_id = self.submit_feed(ADJUSTMENT_FEED, self._marketplace(order), adjustment_feed(refund, key, item_ids))
        return WriteResult(feed_id, "pending")

    def find_refund(self, refund: RefundPush, key: str) -> Optional[WriteResult]:
        """Amazon shows no refunds to look up (Finances API events come days later): a repeat
        is sent again with the same ``MerchantAdjustmentItemID``, which Amazon takes once."""
        return None
