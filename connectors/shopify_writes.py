"""Shopify write-back through the GraphQL Admin API (mixed into ``ShopifyConnector``).

- Fulfilment: the order's fulfillment orders, then ``fulfillmentCreate`` with this shipment's
  lines (mapped to fulfillment order line items), tracking company, number and URL and
  ``notifyCustomer``. Checked first: a line with fewer units left than we ship, or no open
  fulfillment order. Found again by its lines and tracking number among the order's
  fulfilments (Shopify keeps no reference on a fulfilment).
- ``fulfillmentTrackingInfoUpdate`` (a new number), ``fulfillmentCancel`` (a voided label).
- ``orderCancel`` (reason, refund to the original payment methods, restock); Shopify cancels
  in a job: the order's ``cancelledAt`` confirms it, and is what a second attempt looks for.
- Refund: ``suggestedRefund`` (the transaction to refund against and what is left to
  refund), then ``refundCreate`` with ``@idempotent(key:)`` (required from 2026-04) and our
  key in the note, which is what a second attempt looks for.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Optional

from .writes import (CancelPush, ChannelRefused, FulfillmentPush, RefundPush, WriteResult, carrier_name,
                     with_key)

FULFILLMENT_ORDERS = """query FulfillmentOrders($id: ID!) {
  order(id: $id) {
    id cancelledAt
    fulfillmentOrders(first: 5) { nodes { id status
      lineItems(first: 50) { nodes { id remainingQuantity lineItem { id } } } } }
  }
}"""
FULFILLMENTS = """query Fulfillments($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 50) { id status trackingInfo(first: 1) { company number url }
      fulfillmentLineItems(first: 50) { nodes { quantity lineItem { id } } } }
  }
}"""
FULFILLMENT_CREATE = """mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}"""
TRACKING_UPDATE = """mutation TrackingUpdate($id: ID!, $tracking: FulfillmentTrackingInput!, $notify: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking, notifyCustomer: $notify) {
    fulfillment { id status }
    userErrors { field message }
  }
}"""
FULFILLMENT_CANCEL = """mutation FulfillmentCancel($id: ID!) {
  fulfillmentCancel(id: $id) { fulfillment { id status } userErrors { field message } }
}"""
ORDER_STATE = """query OrderState($id: ID!) {
  order(id: $id) { id cancelledAt refunds(first: 50) { id note totalRefundedSet { shopMoney { amount } } } }
}"""
ORDER_CANCEL = """mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $refund: Boolean, $restock: Boolean!,
                            $notify: Boolean, $note: String) {
  orderCancel(orderId: $orderId, reason: $reason, refundMethod: {originalPaymentMethodsRefund: $refund},
              restock: $restock, notifyCustomer: $notify, staffNote: $note) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}"""
SUGGESTED_REFUND = """query SuggestedRefund($id: ID!, $lines: [RefundLineItemInput!], $shipping: Money,
                                      $full: Boolean) {
  order(id: $id) {
    suggestedRefund(refundLineItems: $lines, shippingAmount: $shipping, suggestFullRefund: $full) {
      maximumRefundableSet { shopMoney { amount } }
      suggestedTransactions { gateway parentTransaction { id } }
    }
  }
}"""
REFUND_CREATE = """mutation RefundCreate($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id }
    userErrors { field message }
  }
}"""
CANCEL_REASONS = ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER")


def _gid(kind: str, value: str) -> str:
    return value if str(value).startswith("gid://") else f"gid://shopify/{kind}/{value}"


def _number(gid: str) -> str:
    return str(gid).rsplit("/", 1)[-1]


def _refused(payload: dict, what: str) -> None:
    errors = (payload or {}).get("userErrors") or (payload or {}).get("orderCancelUserErrors") or []
    if errors:
        raise ChannelRefused(f"shopify: {what} refused: " + "; ".join(e["message"] for e in errors),
                             channel="shopify", status=422)


def cancel_reason(reason: str) -> str:
    """Our cancel reason as Shopify's enum: a reason that names one (``fraud``), else OTHER."""
    word = (reason or "").strip().split(":")[0].strip().upper()
    return word if word in CANCEL_REASONS else "OTHER"


class ShopifyWrites:
    """Needs ``graphql(query, variables)`` (ShopifyConnector's)."""

    def _write(self, query: str, variables: dict, root: str) -> dict:
        """A mutation, sent once (a retry is the outbox's, which looks first)."""
        return self.graphql(query, variables, max_waits=0, retries=0)[root]

    def _order(self, query: str, external_id: str) -> dict:
        order = self.graphql(query, {"id": _gid("Order", external_id)})["order"]
        if order is None:
            raise ChannelRefused(f"shopify: order {external_id} does not exist", channel="shopify", status=404)
        return order

    # -- fulfilments -------------------------------------------------------------------------
    def _fulfillment_lines(self, push: FulfillmentPush) -> list[dict]:
        """Our lines as ``lineItemsByFulfillmentOrder``, checked against what is left."""
        order = self._order(FULFILLMENT_ORDERS, push.order_external_id)
        if order["cancelledAt"]:
            raise ChannelRefused(f"shopify: order {push.order_external_id} is cancelled", channel="shopify")
        wanted = {_number(_gid("LineItem", line.external_id)): line.quantity for line in push.lines}
        groups: dict[str, list] = {}
        for fulfillment_order in order["fulfillmentOrders"]["nodes"]:
            if fulfillment_order["status"] not in ("OPEN", "IN_PROGRESS"):
                continue
            for item in fulfillment_order["lineItems"]["nodes"]:
                line = _number(item["lineItem"]["id"])
                take = min(wanted.get(line, 0), item["remainingQuantity"])
                if take > 0:
                    wanted[line] -= take
                    groups.setdefault(fulfillment_order["id"], []).append({"id": item["id"], "quantity": take})
        short = {line: units for line, units in wanted.items() if units > 0}
        if short:
            raise ChannelRefused(f"shopify: no open fulfillment order has these units left to fulfil: {short} "
                                 f"(line item: units)", channel="shopify")
        return [{"fulfillmentOrderId": fo, "fulfillmentOrderLineItems": items} for fo, items in groups.items()]

    def _tracking(self, push_or_carrier, number=None, url=None) -> dict:
        if isinstance(push_or_carrier, FulfillmentPush):
            push = push_or_carrier
            push_or_carrier, number, url = push.carrier, push.tracking_number, push.tracking_url
        tracking = {"company": carrier_name(push_or_carrier), "number": number}
        if url:
            tracking["url"] = url
        return tracking

    def push_fulfillment(self, push: FulfillmentPush, key: str) -> WriteResult:
        made = None
        for group in self._fulfillment_lines(push):  # one fulfilment per fulfillment order
            payload = self._write(FULFILLMENT_CREATE, {"fulfillment": {
                "lineItemsByFulfillmentOrder": [group], "notifyCustomer": push.notify_customer,
                "trackingInfo": self._tracking(push)}}, "fulfillmentCreate")
            _refused(payload, "fulfillmentCreate")
            made = made or payload["fulfillment"]["id"]
        return WriteResult(made)

    def find_fulfillment(self, push: FulfillmentPush, key: str) -> Optional[WriteResult]:
        """A live fulfilment with exactly our lines and tracking number, not another shipment's."""
        order = self._order(FULFILLMENTS, push.order_external_id)
        ours = sorted((_number(_gid("LineItem", line.external_id)), line.quantity) for line in push.lines)
        for fulfillment in order["fulfillments"]:
            if fulfillment["status"] == "CANCELLED" or fulfillment["id"] in push.known_ids:
                continue
            lines = sorted((_number(n["lineItem"]["id"]), n["quantity"])
                           for n in fulfillment["fulfillmentLineItems"]["nodes"])
            number = (fulfillment["trackingInfo"] or [{}])[0].get("number")
            if lines == ours and (number or None) == (push.tracking_number or None):
                return WriteResult(fulfillment["id"])
        return None

    def push_tracking(self, order_external_id: str, remote_id: str, carrier: Optional[str],
                      number: Optional[str], url: Optional[str], notify: bool = False) -> WriteResult:
        payload = self._write(TRACKING_UPDATE, {"id": remote_id, "tracking": self._tracking(carrier, number, url),
                                                "notify": notify}, "fulfillmentTrackingInfoUpdate")
        _refused(payload, "fulfillmentTrackingInfoUpdate")
        return WriteResult(payload["fulfillment"]["id"])

    def cancel_fulfillment(self, order_external_id: str, remote_id: str) -> WriteResult:
        payload = self._write(FULFILLMENT_CANCEL, {"id": remote_id}, "fulfillmentCancel")
        errors = payload.get("userErrors") or []
        if errors and "already cancelled" in errors[0]["message"]:
            return WriteResult(remote_id, note="already cancelled on Shopify")
        _refused(payload, "fulfillmentCancel")
        return WriteResult(payload["fulfillment"]["id"])

    # -- cancellations -------------------------------------------------------------------------
    def cancel_order(self, cancel: CancelPush, key: str) -> WriteResult:
        order_id = _gid("Order", cancel.order_external_id)
        payload = self._write(ORDER_CANCEL, {
            "orderId": order_id, "reason": cancel_reason(cancel.reason), "refund": cancel.refund,
            "restock": cancel.restock, "notify": cancel.notify_customer, "note": with_key(cancel.reason, key)},
            "orderCancel")
        _refused(payload, "orderCancel")
        confirmed = self.find_cancel(cancel, key)
        return confirmed or WriteResult(order_id, "pending", "Shopify's cancel job has not finished yet")

    def find_cancel(self, cancel: CancelPush, key: str) -> Optional[WriteResult]:
        order = self._order(ORDER_STATE, cancel.order_external_id)
        return WriteResult(order["id"]) if order["cancelledAt"] else None

    # -- refunds ---------------------------------------------------------------------------------
    def create_refund(self, refund: RefundPush, key: str) -> WriteResult:
        order_id = _gid("Order", refund.order_external_id)
        lines = [{"lineItemId": _gid("LineItem", line.external_id), "quantity": line.quantity,
                  "restockType": "NO_RESTOCK"} for line in refund.lines]
        # an amount alone (no lines, no shipping): the full suggestion names the payment to
        # refund against; the amount sent is ours either way
        suggested = self.graphql(SUGGESTED_REFUND, {"id": order_id, "lines": lines, "shipping": str(refund.shipping),
                                                    "full": not lines and not refund.shipping})["order"]
        if suggested is None:
            raise ChannelRefused(f"shopify: order {refund.order_external_id} does not exist", channel="shopify")
        suggestion = suggested["suggestedRefund"]
        left = Decimal(str(suggestion["maximumRefundableSet"]["shopMoney"]["amount"]))
        if refund.amount > left:
            raise ChannelRefused(f"shopify: {refund.amount} is more than the {left} left to refund",
                                 channel="shopify")
        transactions = suggestion["suggestedTransactions"]
        if not transactions:
            raise ChannelRefused("shopify: no payment to refund against", channel="shopify")
        parent = transactions[0]
        refund_input = {
            "orderId": order_id, "note": with_key(refund.reason, key), "notify": False,
            "refundLineItems": lines,
            "transactions": [{"orderId": order_id, "amount": str(refund.amount), "kind": "REFUND",
                              "gateway": parent["gateway"], "parentId": (parent["parentTransaction"] or {}).get("id")}],
        }
        if refund.shipping:
            refund_input["shipping"] = {"amount": str(refund.shipping)}
        payload = self._write(REFUND_CREATE, {"input": refund_input, "key": key}, "refundCreate")
        _refused(payload, "refundCreate")
        return WriteResult(_number(payload["refund"]["id"]))  # the REST id, as imports read it

    def find_refund(self, refund: RefundPush, key: str) -> Optional[WriteResult]:
        order = self._order(ORDER_STATE, refund.order_external_id)
        found = next((r for r in order["refunds"] if key in (r.get("note") or "")), None)
        return WriteResult(_number(found["id"])) if found else None
