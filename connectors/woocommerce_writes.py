"""WooCommerce write-back over REST v3 (mixed into ``WooCommerceConnector``).

- Fulfilment: a customer note with the carrier, tracking number and link (and the items of a
  partial shipment), carrying our key; the Shipment Tracking extension's
  ``_wc_shipment_tracking_items`` meta when the channel has the extension; status
  ``completed`` once everything has shipped. The note is found again by our key; the meta
  and status are set by an idempotent ``PUT`` that runs after the note, found or made.
- Cancel: status ``cancelled`` (WooCommerce itself refunds nothing: a paid order is refunded
  by a refund). Checked first: a ``completed`` order is not cancelled.
- Refund: ``POST orders/<id>/refunds`` with ``api_refund`` (the payment gateway pays it
  back), our key in the reason; checked first against the order's total less its refunds.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Optional

from .errors import ChannelError
from .writes import (CancelPush, ChannelRefused, FulfillmentPush, RefundPush, WriteResult, carrier_name,
                     with_key)

TRACKING_META = "_wc_shipment_tracking_items"


class WooCommerceWrites:
    """Needs ``session`` and ``_url(path)`` (WooCommerceConnector's)."""

    def _send(self, method: str, path: str, body: dict) -> dict:
        try:
            data, _ = self.session.request_json(method, self._url(path), json=body, retries=0)
        except ChannelError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 409, 429):
                raise ChannelRefused(f"woocommerce: {exc.body or exc.message}", channel="woocommerce",
                                     status=exc.status, body=exc.body) from None
            raise
        return data

    def _order_raw(self, external_id: str) -> dict:
        data, _ = self.session.get_json(self._url(f"orders/{external_id}"))
        return data

    def _notes(self, external_id: str) -> list:
        data, _ = self.session.get_json(self._url(f"orders/{external_id}/notes"))
        return data if isinstance(data, list) else []

    def _find_note(self, external_id: str, key: str) -> Optional[WriteResult]:
        found = next((n for n in self._notes(external_id) if key in (n.get("note") or "")), None)
        return WriteResult(str(found["id"])) if found else None

    # -- fulfilments -------------------------------------------------------------------------
    @staticmethod
    def shipped_note(push: FulfillmentPush, key: str) -> str:
        carrier = carrier_name(push.carrier)
        text = f"Your order has shipped with {carrier}"
        if push.tracking_number:
            text += f", tracking number {push.tracking_number}"
        if push.tracking_url:
            text += f": {push.tracking_url}"
        if not push.complete:
            items = ", ".join(f"{line.quantity} × {line.sku or line.external_id}" for line in push.lines)
            text += f" (this parcel: {items}; the rest follows)"
        return with_key(text + ".", key)

    def push_fulfillment(self, push: FulfillmentPush, key: str) -> WriteResult:
        note = self._send("POST", f"orders/{push.order_external_id}/notes",
                          {"note": self.shipped_note(push, key), "customer_note": True})
        return WriteResult(str(note["id"]))

    def find_fulfillment(self, push: FulfillmentPush, key: str) -> Optional[WriteResult]:
        return self._find_note(push.order_external_id, key)

    def complete_fulfillment(self, push: FulfillmentPush, key: str) -> None:
        """After the note: the tracking meta and ``completed`` (setting them again is harmless)."""
        body: dict = {}
        if push.tracking_meta and push.tracking_number:
            order = self._order_raw(push.order_external_id)
            items = next((m.get("value") for m in order.get("meta_data") or [] if m.get("key") == TRACKING_META),
                         None) or []
            if not any(item.get("tracking_id") == key for item in items):
                items = items + [{"tracking_id": key, "tracking_provider": carrier_name(push.carrier),
                                  "tracking_number": push.tracking_number, "tracking_link": push.tracking_url or "",
                                  "date_shipped": int(push.shipped_at.timestamp())}]
            body["meta_data"] = [{"key": TRACKING_META, "value": items}]
        if push.complete:
            body["status"] = "completed"
        if body:
            self._send("PUT", f"orders/{push.order_external_id}", body)

    def push_tracking(self, order_external_id: str, remote_id: str, carrier: Optional[str],
                      number: Optional[str], url: Optional[str], notify: bool = False, *,
                      key: str = "") -> WriteResult:
        text = f"The tracking number of your parcel with {carrier_name(carrier)} is now {number}"
        note = self._send("POST", f"orders/{order_external_id}/notes",
                          {"note": with_key(text + (f": {url}" if url else "") + ".", key), "customer_note": True})
        return WriteResult(str(note["id"]))

    def find_tracking(self, order_external_id: str, key: str) -> Optional[WriteResult]:
        return self._find_note(order_external_id, key)

    def cancel_fulfillment(self, order_external_id: str, remote_id: str) -> WriteResult:
        raise ChannelRefused("woocommerce: a shipped note cannot be taken back", channel="woocommerce")

    # -- cancellations -------------------------------------------------------------------------
    def cancel_order(self, cancel: CancelPush, key: str) -> WriteResult:
        order = self._order_raw(cancel.order_external_id)
        if order.get("status") == "completed":
            raise ChannelRefused(f"woocommerce: order {cancel.order_external_id} is completed (shipped): "
                                 "it cannot be cancelled", channel="woocommerce")
        data = self._send("PUT", f"orders/{cancel.order_external_id}", {"status": "cancelled"})
        return WriteResult(str(data["id"]), "done" if data.get("status") == "cancelled" else "pending")

    def find_cancel(self, cancel: CancelPush, key: str) -> Optional[WriteResult]:
        order = self._order_raw(cancel.order_external_id)
        return WriteResult(str(order["id"])) if order.get("status") == "cancelled" else None

    # -- refunds ---------------------------------------------------------------------------------
    def create_refund(self, refund: RefundPush, key: str) -> WriteResult:
        order = self._order_raw(refund.order_external_id)
        refunded = sum((-Decimal(str(r.get("total") or "0")) for r in order.get("refunds") or []), Decimal("0"))
        left = Decimal(str(order.get("total") or "0")) - refunded
        if refund.amount > left:
            raise ChannelRefused(f"woocommerce: {refund.amount} is more than the {left} left to refund",
                                 channel="woocommerce")
        body = {"amount": str(refund.amount), "reason": with_key(refund.reason, key), "api_refund": True,
                "line_items": [{"id": int(line.external_id), "quantity": line.quantity, "refund_total": "0"}
                               for line in refund.lines]}
        data = self._send("POST", f"orders/{refund.order_external_id}/refunds", body)
        return WriteResult(str(data["id"]))

    def find_refund(self, refund: RefundPush, key: str) -> Optional[WriteResult]:
        data, _ = self.session.get_json(self._url(f"orders/{refund.order_external_id}/refunds"))
        found = next((r for r in data or [] if key in (r.get("reason") or "")), None)
        return WriteResult(str(found["id"])) if found else None
