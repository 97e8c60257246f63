"""Stock write-back: ``push_inventory(items)`` and ``read_inventory()`` of each channel connector,
mixed into ShopifyConnector, WooCommerceConnector and AmazonConnector (DESIGN.md "Channel
write-back"; called only by the ``channel.inventory`` outbox handler and the drift job).

Each sends in the largest batches its channel allows and paces itself by the channel's limits
through the connector's session (Retry-After wins):
- Shopify: GraphQL ``inventorySetQuantities``, up to 250 quantities a call; items whose
  per-location quantity we last pushed carry it as ``compareQuantity`` (a figure changed on
  Shopify since is reported ``stale`` — drift — instead of being overwritten), the others go in
  a call with ``ignoreCompareQuantity``. Read back per location (``location.inventoryLevels``).
- WooCommerce: ``products/batch`` for simple products and ``products/<id>/variations/batch``
  per parent, 100 objects a call; read back from the product and variation lists.
- Amazon: Listings Items ``patchListingsItem`` (``fulfillment_availability``), one SKU a call,
  with the listing's ``productType``; read back with ``searchListingsItems``.

A push answers per item (``StockPushResult``): pushed, refused (cannot pass: a permanent error),
stale (Shopify), or ``retry`` (the channel could not be reached or kept throttling after the
session's retries: everything not yet sent gets that error).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .errors import ChannelAuthError, ChannelError
from .parsing import text

SHOPIFY_SET_MAX = 250
WOO_BATCH_MAX = 100


@dataclass(frozen=True)
class StockItem:
    ref: str  # the caller's key for the answer (a listing id)
    quantity: int
    external_key: str
    external_id: Optional[str] = None
    external_variant_id: Optional[str] = None
    inventory_item_id: Optional[str] = None
    sku: Optional[str] = None
    product_type: Optional[str] = None
    locations: Optional[dict] = None  # Shopify: {location gid: quantity}
    compare: Optional[dict] = None  # Shopify: {location gid: quantity we last pushed there}


@dataclass
class StockPushResult:
    pushed: list = field(default_factory=list)
    refused: dict = field(default_factory=dict)  # ref -> reason (will not pass as it is)
    stale: dict = field(default_factory=dict)  # ref -> reason (the channel's figure moved)
    retry: dict = field(default_factory=dict)  # ref -> ChannelError (try again later)
    calls: int = 0

    def give_up(self, items: Iterable[StockItem], error: ChannelError) -> None:
        for item in items:
            self.retry[item.ref] = error


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- Shopify ---------------------------------------------------------------------------------

SET_QUANTITIES = """mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}"""
LEVELS_QUERY = """query Levels($id: ID!, $after: String) {
  location(id: $id) {
    inventoryLevels(first: 250, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { item { id } quantities(names: ["available"]) { name quantity } }
    }
  }
}"""


class ShopifyStock:
    def push_inventory(self, items: list[StockItem]) -> StockPushResult:
        result = StockPushResult()
        compared = [i for i in items if i.compare is not None]
        ignored = [i for i in items if i.compare is None]
        for group, ignore in ((compared, False), (ignored, True)):
            entries = [(item, location, quantity) for item in group
                       for location, quantity in (item.locations or {}).items()]
            for start in range(0, len(entries), SHOPIFY_SET_MAX):
                try:
                    self._set_quantities(entries[start:start + SHOPIFY_SET_MAX], ignore, result)
                except ChannelError as exc:  # the rest (and the other group) are not answered
                    result.give_up([item for item, _, _ in entries[start:]], exc)
                    return result
        return result

    def _set_quantities(self, entries: list, ignore: bool, result: StockPushResult) -> None:
        """One call; Shopify refuses the whole call on any error: drop the items it names and
        send the rest again."""
        while entries:
            quantities = [{"inventoryItemId": item.inventory_item_id, "locationId": location, "quantity": quantity,
                           **({} if ignore else {"compareQuantity": int((item.compare or {}).get(location, 0))})}
                          for item, location, quantity in entries]
            result.calls += 1
            data = self.graphql(SET_QUANTITIES, {"input": {
                "name": "available", "reason": "correction", "ignoreCompareQuantity": ignore,
                "referenceDocumentUri": f"gid://waybill/StockPush/{uuid.uuid4()}", "quantities": quantities}})
            errors = (data.get("inventorySetQuantities") or {}).get("userErrors") or []
            if not errors:
                result.pushed.extend(dict.fromkeys(item.ref for item, _, _ in entries))
                return
            bad = set()
            for error in errors:
                where = error.get("field") or []
                index = int(where[2]) if len(where) > 2 and str(where[2]).isdigit() else None
                if index is None or index >= len(entries):  # the call as a whole: nothing passes
                    for item, _, _ in entries:
                        result.refused[item.ref] = error.get("message") or "refused"
                    return
                item = entries[index][0]
                bucket = result.stale if error.get("code") == "COMPARE_QUANTITY_STALE" else result.refused
                bucket[item.ref] = f"{error.get('code')}: {error.get('message')}"
                bad.add(item.ref)
            entries = [entry for entry in entries if entry[0].ref not in bad]

    def read_inventory(self, location_ids: Iterable[str]) -> dict:
        """{(inventory item gid, location gid): available} at the given locations."""
        shown = {}
        for location in location_ids:
            after = None
            while True:
                data = self.graphql(LEVELS_QUERY, {"id": location, "after": after})
                levels = (data.get("location") or {}).get("inventoryLevels")
                if levels is None:
                    break
                for node in levels["nodes"]:
                    available = next((q["quantity"] for q in node["quantities"] if q["name"] == "available"), 0)
                    shown[(node["item"]["id"], location)] = available
                if not levels["pageInfo"]["hasNextPage"]:
                    break
                after = levels["pageInfo"]["endCursor"]
        return shown


# --- WooCommerce -----------------------------------------------------------------------------

class WooCommerceStock:
    def push_inventory(self, items: list[StockItem]) -> StockPushResult:
        result = StockPushResult()
        calls: list[tuple[str, list[StockItem]]] = []
        simple = [i for i in items if not i.external_variant_id]
        calls += [("products/batch", chunk) for chunk in _chunks(simple, WOO_BATCH_MAX)]
        by_parent: dict[str, list[StockItem]] = {}
        for item in items:
            if item.external_variant_id:
                by_parent.setdefault(item.external_id, []).append(item)
        for parent, group in by_parent.items():
            calls += [(f"products/{parent}/variations/batch", chunk) for chunk in _chunks(group, WOO_BATCH_MAX)]
        for index, (path, chunk) in enumerate(calls):
            try:
                self._batch(path, chunk, result)
            except ChannelError as exc:
                result.give_up([i for _, c in calls[index:] for i in c], exc)
                return result
        return result

    def _batch(self, path: str, chunk: list[StockItem], result: StockPushResult) -> None:
        ids = {int(item.external_variant_id or item.external_id): item for item in chunk}
        body = {"update": [{"id": woo_id, "manage_stock": True, "stock_quantity": item.quantity}
                           for woo_id, item in ids.items()]}
        result.calls += 1
        data, _ = self.session.request_json("POST", self._url(path), json=body)
        answered = set()
        for answer in (data or {}).get("update") or []:
            item = ids.get(answer.get("id"))
            if item is None:
                continue
            answered.add(item.ref)
            if answer.get("error"):
                result.refused[item.ref] = text((answer["error"] or {}).get("message")) or "refused"
            else:
                result.pushed.append(item.ref)
        for item in chunk:
            if item.ref not in answered:
                result.refused[item.ref] = "WooCommerce did not answer for this item"

    def read_inventory(self) -> dict:
        """{listing external key: stock_quantity} ("<product>" or "<product>/<variation>")."""
        shown = {}
        for product in self._all_pages("products"):
            if product.get("type") == "variable":
                for variation in self._all_pages(f"products/{product['id']}/variations"):
                    shown[f"{product['id']}/{variation['id']}"] = variation.get("stock_quantity")
            else:
                shown[str(product["id"])] = product.get("stock_quantity")
        return shown


# --- Amazon ----------------------------------------------------------------------------------

class AmazonStock:
    """Paced by the session's ``patchListingsItem`` limiter (``http.SP_API_RATES``)."""

    def push_inventory(self, items: list[StockItem]) -> StockPushResult:
        result = StockPushResult()
        if not self.seller_id:
            for item in items:
                result.refused[item.ref] = "amazon: stock pushes need the seller id (credentials 'seller_id')"
            return result
        for index, item in enumerate(items):
            if not item.product_type:
                result.refused[item.ref] = "the listing has no productType: sync the listings first"
                continue
            try:
                answer = self._patch_availability(item)
            except ChannelError as exc:
                if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 409, 429):
                    result.refused[item.ref] = str(exc)
                    continue
                result.give_up(items[index:], exc)
                return result
            result.calls += 1
            if (answer or {}).get("status") == "ACCEPTED":
                result.pushed.append(item.ref)
            else:
                issues = "; ".join(text(i.get("message")) or "" for i in (answer or {}).get("issues") or [])
                result.refused[item.ref] = f"Amazon: {(answer or {}).get('status')}: {issues}"
        return result

    def _patch_availability(self, item: StockItem) -> dict:
        from urllib.parse import quote

        url = f"{self.base_url}/listings/2021-08-01/items/{self.seller_id}/{quote(item.sku or item.external_key, safe='')}"
        body = {"productType": item.product_type, "patches": [{
            "op": "replace", "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": int(item.quantity)}]}]}
        params = {"marketplaceIds": self.marketplace_ids[0], "issueLocale": "en_US"}
        try:
            return self.session.request_json("PATCH", url, params=params, json=body,
                                             operation="patchListingsItem")[0]
        except ChannelAuthError as exc:
            if exc.status != 403:
                raise
            self.tokens.invalidate()  # an expired access token: renew once
            return self.session.request_json("PATCH", url, params=params, json=body,
                                             operation="patchListingsItem")[0]

    def read_inventory(self) -> dict:
        """{seller SKU: quantity shown (DEFAULT fulfilment channel), None when never set}."""
        shown, token = {}, None
        while True:
            params = {"marketplaceIds": self.marketplace_ids[0], "pageSize": 20,
                      "includedData": "summaries,fulfillmentAvailability"}
            if token:
                params["pageToken"] = token
            data = self._call(f"/listings/2021-08-01/items/{self.seller_id}", "searchListingsItems", params)
            for entry in (data or {}).get("items") or []:
                availability = next((a for a in entry.get("fulfillmentAvailability") or []
                                     if a.get("fulfillmentChannelCode") == "DEFAULT"), None)
                shown[entry["sku"]] = availability.get("quantity") if availability else None
            token = ((data or {}).get("pagination") or {}).get("nextToken")
            if not token:
                return shown
