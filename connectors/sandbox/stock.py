"""The sandbox's stock writes and read-backs (issue 20), on the channels' real paths and limits.

- WooCommerce: ``POST /woocommerce/<shop>/wp-json/wc/v3/products/batch`` and
  ``.../products/<id>/variations/batch`` (``{"update": [{"id", "stock_quantity", ...}]}``, at most
  100 objects a call, per-item ``error`` objects); products and variations show ``stock_quantity``.
- Amazon: ``PATCH /amazon/<region>/listings/2021-08-01/items/<sellerId>/<sku>`` (patchListingsItem:
  ``productType`` and a JSON patch of ``/attributes/fulfillment_availability``; 5 requests a
  second, burst 5); ``searchListingsItems`` with ``includedData=fulfillmentAvailability`` shows it.
- Shopify: ``inventorySetQuantities`` and the ``location.inventoryLevels`` read-back live in
  shopify_graphql.py (the cost throttle), on ``state.shopify_inventory``.

What each channel shows is kept in ``state.channel_stock`` ({(channel, shop, key): quantity},
key: the WooCommerce product or variation id, the Amazon SKU); ``POST /_sandbox/stock`` changes a
figure behind Waybill's back (a sale on the channel, a person in the channel's admin), and
``GET /_sandbox/stock?channel=..&shop=..`` shows a channel's view.
"""
from __future__ import annotations

import json
import secrets
import time
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .shopify_graphql import gid, gid_number

WOO_BATCH_MAX = 100
# SP-API Listings Items 2021-08-01 usage plan (requests per second, burst)
LISTINGS_LIMITS = {"patchListingsItem": (5.0, 5), "getListingsItem": (5.0, 5)}
STOCK_OPERATIONS = {"amz_patch_listing": "patchListingsItem"}


def rules() -> list[Rule]:
    return [
        Rule("/_sandbox/stock", endpoint="ctl_stock", methods=["GET", "POST"]),
        Rule("/woocommerce/<shop>/wp-json/wc/v3/products/batch", endpoint="woo_products_batch", methods=["POST"]),
        Rule("/woocommerce/<shop>/wp-json/wc/v3/products/<int:pid>/variations/batch",
             endpoint="woo_variations_batch", methods=["POST"]),
        Rule("/amazon/<shop>/listings/2021-08-01/items/<seller_id>/<sku>", endpoint="amz_patch_listing",
             methods=["PATCH"]),
    ]


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status=status,
                    content_type="application/json; charset=utf-8")


def _woo_error(code: str, message: str, status: int = 400) -> Response:
    return _json({"code": code, "message": message, "data": {"status": status}}, status)


class StockEndpoints:
    """Mixed into ``SandboxApp`` (``self.state``)."""

    # -- what a channel shows --------------------------------------------------------------
    def woo_stock(self, shop: str, woo_id: int) -> dict:
        quantity = self.state.channel_stock.get(("woocommerce", shop, str(woo_id)))
        return {"stock_quantity": quantity, "stock_status": "instock" if (quantity or 0) > 0 else "outofstock"}

    def amazon_availability(self, shop: str, sku: str) -> list:
        quantity = self.state.channel_stock.get(("amazon", shop, sku))
        return [] if quantity is None else [{"fulfillmentChannelCode": "DEFAULT", "quantity": quantity}]

    # -- control -----------------------------------------------------------------------------
    def ctl_stock(self, request: Request) -> Response:
        state = self.state
        if request.method == "GET":
            channel, shop = request.args.get("channel", ""), request.args.get("shop", "")
            return _json(stock_view(state, channel, shop))
        body = json.loads(request.get_data(as_text=True) or "{}")
        set_stock(state, body["channel"], body["shop"], str(body["key"]), int(body["quantity"]),
                  body.get("location"))
        return _json({"ok": True})

    # -- WooCommerce ---------------------------------------------------------------------------
    def _woo_batch(self, request: Request, shop: str, objects: dict[int, dict]) -> Response:
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            return _woo_error("rest_invalid_json", "Invalid JSON body passed.")
        updates = body.get("update") or []
        if not isinstance(updates, list) or len(updates) + len(body.get("create") or []) \
                + len(body.get("delete") or []) > WOO_BATCH_MAX:
            return _woo_error("rest_request_entity_too_large",
                              f"Unable to accept more than {WOO_BATCH_MAX} items for this request.", 413)
        answers = []
        for entry in updates:
            woo_id = entry.get("id") if isinstance(entry, dict) else None
            if woo_id not in objects:
                answers.append({"id": woo_id or 0, "error": {"code": "woocommerce_rest_product_invalid_id",
                                                             "message": "Invalid ID.", "data": {"status": 400}}})
                continue
            quantity = entry.get("stock_quantity")
            if not isinstance(quantity, int) or isinstance(quantity, bool):
                answers.append({"id": woo_id, "error": {"code": "rest_invalid_param",
                                                        "message": "Invalid parameter(s): stock_quantity",
                                                        "data": {"status": 400}}})
                continue
            with self.state.lock:
                self.state.channel_stock[("woocommerce", shop, str(woo_id))] = quantity
            answers.append({"id": woo_id, "sku": objects[woo_id]["sku"], "manage_stock": True,
                            **self.woo_stock(shop, woo_id)})
        note_write(self.state, "woocommerce")
        return _json({"update": answers})

    def woo_products_batch(self, request: Request, shop: str) -> Response:
        simple = {p["woo_id"]: p["variants"][0] for p in self.state.channel_products("woocommerce", shop)
                  if len(p["variants"]) == 1}
        return self._woo_batch(request, shop, simple)

    def woo_variations_batch(self, request: Request, shop: str, pid: int) -> Response:
        found = next((p for p in self.state.channel_products("woocommerce", shop) if p["woo_id"] == pid), None)
        if found is None or len(found["variants"]) < 2:
            return _woo_error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        return self._woo_batch(request, shop, {v["woo_id"]: v for v in found["variants"]})

    # -- Amazon ----------------------------------------------------------------------------------
    def amz_patch_listing(self, request: Request, shop: str, seller_id: str, sku: str) -> Response:
        def invalid(message: str, status: int = 400) -> Response:
            return _json({"errors": [{"code": "InvalidInput", "message": message, "details": ""}]}, status)

        if not request.args.get("marketplaceIds"):
            return invalid("Missing required parameter: marketplaceIds")
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            return invalid("Invalid JSON body")
        known = {v["sku"]: p for p in self.state.channel_products("amazon", shop) for v in p["variants"]}
        if sku not in known:
            return _json({"errors": [{"code": "NotFound", "message": f"SKU {sku} not found", "details": ""}]}, 404)
        issues = []
        if body.get("productType") != known[sku]["product_type"]:
            issues.append({"code": "4000001", "severity": "ERROR", "attributeNames": ["productType"],
                           "message": f"productType {body.get('productType')!r} does not match the listing"})
        quantity = None
        for patch in body.get("patches") or []:
            if patch.get("path") == "/attributes/fulfillment_availability" and patch.get("op") in ("replace", "add"):
                value = (patch.get("value") or [{}])[0]
                quantity = value.get("quantity")
        if not isinstance(quantity, int) or quantity < 0:
            issues.append({"code": "90220", "severity": "ERROR", "attributeNames": ["fulfillment_availability"],
                           "message": "fulfillment_availability needs a quantity of 0 or more"})
        if issues:
            return _json({"sku": sku, "status": "INVALID", "submissionId": secrets.token_hex(8), "issues": issues})
        with self.state.lock:
            self.state.channel_stock[("amazon", shop, sku)] = quantity
        note_write(self.state, "amazon")
        return _json({"sku": sku, "status": "ACCEPTED", "submissionId": secrets.token_hex(8), "issues": []})


def note_write(state, channel: str) -> None:
    """Count a stock write call and remember when the channel's view last changed."""
    with state.lock:
        state.stock_writes[channel] = state.stock_writes.get(channel, 0) + 1
        state.stock_written_at[channel] = time.monotonic()


def set_stock(state, channel: str, shop: str, key: str, quantity: int, location=None) -> None:
    """A change on the channel that Waybill did not make (key: Shopify the inventory item gid
    or number, with ``location``; WooCommerce the product or variation id; Amazon the SKU)."""
    with state.lock:
        if channel == "shopify":
            item = gid_number(key, "InventoryItem") if str(key).startswith("gid://") else int(key)
            where = gid_number(location, "Location") if str(location).startswith("gid://") else int(location)
            state.shopify_inventory[(shop, item, where)] = quantity
        else:
            state.channel_stock[(channel, shop, str(key))] = quantity


def stock_view(state, channel: str, shop: str) -> dict:
    """{key: quantity} as the channel shows it (Shopify: {item gid: {location gid: quantity}})."""
    with state.lock:
        if channel == "shopify":
            view: dict = {}
            for (s, item, location), quantity in state.shopify_inventory.items():
                if s == shop:
                    view.setdefault(gid("InventoryItem", item), {})[gid("Location", location)] = quantity
            return view
        return {key: quantity for (c, s, key), quantity in state.channel_stock.items() if c == channel and s == shop}
