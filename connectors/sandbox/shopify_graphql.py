"""The sandbox's Shopify GraphQL Admin API: ``POST /shopify/<shop>/admin/api/<version>/graphql.json``.

Queries are parsed and executed with graphql-core against the part of Shopify's Admin schema
Waybill uses (shop, products with their variants and inventory items, locations, and the
``inventorySetQuantities`` mutation stock pushes will use), and answered in Shopify's shapes:
connections with ``edges``/``nodes``/``pageInfo``, global ids (``gid://shopify/Product/1``),
``userErrors`` on mutations, and the cost-based throttle in ``extensions.cost``: every query costs
points (objects 1, a connection 2 + its size times its nodes' cost, a mutation 10), taken from
a bucket per shop that refills at ``restoreRate`` per nominal second; a query that costs more
than is available is answered ``THROTTLED`` without running, one above 1,000 points never runs.
"""
from __future__ import annotations

import base64
import time
from typing import Any, Optional

from graphql import GraphQLError, GraphQLObjectType, build_schema, get_named_type, graphql_sync, parse, validate
from graphql.language import FieldNode, FragmentSpreadNode, InlineFragmentNode, OperationDefinitionNode

from . import shopify_orders_graphql

SDL = """
scalar Money
scalar DateTime

type Query {
  shop: Shop!
  products(first: Int, after: String, last: Int, before: String, query: String): ProductConnection!
  product(id: ID!): Product
  productVariants(first: Int, after: String, query: String): ProductVariantConnection!
  locations(first: Int, after: String, includeInactive: Boolean): LocationConnection!
  location(id: ID!): Location
}

type Mutation {
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
}

type Shop { id: ID!, name: String!, myshopifyDomain: String!, currencyCode: String! }
type PageInfo { hasNextPage: Boolean!, hasPreviousPage: Boolean!, startCursor: String, endCursor: String }
type Count { count: Int!, precision: String! }

type ProductConnection { edges: [ProductEdge!]!, nodes: [Product!]!, pageInfo: PageInfo! }
type ProductEdge { cursor: String!, node: Product! }
type Product {
  id: ID!
  legacyResourceId: String!
  title: String!
  handle: String!
  status: String!
  updatedAt: DateTime!
  variantsCount: Count
  variants(first: Int, after: String, last: Int, before: String): ProductVariantConnection!
}

type ProductVariantConnection { edges: [ProductVariantEdge!]!, nodes: [ProductVariant!]!, pageInfo: PageInfo! }
type ProductVariantEdge { cursor: String!, node: ProductVariant! }
type ProductVariant {
  id: ID!
  legacyResourceId: String!
  sku: String
  title: String!
  price: Money!
  barcode: String
  product: Product!
  inventoryItem: InventoryItem!
}
type InventoryItem { id: ID!, legacyResourceId: String!, sku: String, tracked: Boolean! }

type LocationConnection { edges: [LocationEdge!]!, nodes: [Location!]!, pageInfo: PageInfo! }
type LocationEdge { cursor: String!, node: Location! }
type Location {
  id: ID!, legacyResourceId: String!, name: String!, isActive: Boolean!, fulfillsOnlineOrders: Boolean!
  inventoryLevels(first: Int, after: String): InventoryLevelConnection!
}
type InventoryLevelConnection { edges: [InventoryLevelEdge!]!, nodes: [InventoryLevel!]!, pageInfo: PageInfo! }
type InventoryLevelEdge { cursor: String!, node: InventoryLevel! }
type InventoryLevel { id: ID!, item: InventoryItem!, quantities(names: [String!]!): [InventoryQuantity!]! }
type InventoryQuantity { name: String!, quantity: Int! }

input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  ignoreCompareQuantity: Boolean
  referenceDocumentUri: String
  quantities: [InventoryQuantityInput!]!
}
input InventoryQuantityInput { inventoryItemId: ID!, locationId: ID!, quantity: Int!, compareQuantity: Int }
type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventorySetQuantitiesUserError!]!
}
type InventoryAdjustmentGroup { id: ID!, createdAt: DateTime!, reason: String!, referenceDocumentUri: String }
type InventorySetQuantitiesUserError { field: [String!], message: String!, code: String }
"""

SCHEMA = build_schema(SDL + shopify_orders_graphql.SDL)
MAX_PAGE = 250
MAX_QUERY_COST = 1000
BUCKET_SIZE = 2000.0  # points
RESTORE_RATE = 100.0  # points per nominal second
MUTATION_COST = 10
MAX_SET_QUANTITIES = 250  # inventorySetQuantities: quantities per call


def gid(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: str, kind: str) -> Optional[int]:
    prefix = f"gid://shopify/{kind}/"
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix):].isdigit():
        return int(value[len(prefix):])
    return None


def _cursor(index: int) -> str:
    return base64.b64encode(f"idx:{index}".encode()).decode()


def _index(cursor: Optional[str]) -> int:
    if not cursor:
        return -1
    try:
        text = base64.b64decode(cursor.encode()).decode()
        return int(text.split(":", 1)[1])
    except (ValueError, IndexError):
        raise GraphQLError(f"Invalid cursor for current pagination sort.") from None


def connection(items: list, first: Optional[int], after: Optional[str], node) -> dict:
    """A Relay connection over ``items`` (Shopify: ``first`` is required, at most 250)."""
    if first is None:
        raise GraphQLError("you must provide one of first or last")
    if first > MAX_PAGE or first < 0:
        raise GraphQLError(f"The first argument must be between 0 and {MAX_PAGE}")
    start = _index(after) + 1
    chunk = items[start:start + first]
    nodes = [node(item) for item in chunk]
    return {
        "edges": [{"cursor": _cursor(start + i), "node": n} for i, n in enumerate(nodes)],
        "nodes": nodes,
        "pageInfo": {"hasNextPage": start + len(chunk) < len(items), "hasPreviousPage": start > 0,
                     "startCursor": _cursor(start) if chunk else None,
                     "endCursor": _cursor(start + len(chunk) - 1) if chunk else None},
    }


# -- cost -------------------------------------------------------------------------------------

def _fields(selection_set, fragments) -> list[FieldNode]:
    out: list[FieldNode] = []
    for selection in (selection_set.selections if selection_set else []):
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out.extend(_fields(selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            out.extend(_fields(fragments[selection.name.value].selection_set, fragments))
    return out


def _arg(field: FieldNode, name: str, variables: dict) -> Any:
    for argument in field.arguments or []:
        if argument.name.value == name:
            node = argument.value
            if node.kind == "variable":
                return variables.get(node.name.value)
            return getattr(node, "value", None)
    return None


def _cost(selection_set, parent: GraphQLObjectType, fragments: dict, variables: dict) -> int:
    total = 0
    for field in _fields(selection_set, fragments):
        definition = parent.fields.get(field.name.value)
        if definition is None:
            continue
        named = get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType):
            continue  # scalars and enums cost nothing
        inner = _cost(field.selection_set, named, fragments, variables)
        if named.name.endswith("Connection"):
            size = _arg(field, "first", variables) or _arg(field, "last", variables) or 0
            size = int(size) if str(size).isdigit() else 0
            node_type = get_named_type(named.fields["nodes"].type)
            per_node = 0
            for sub in _fields(field.selection_set, fragments):
                if sub.name.value == "nodes":
                    per_node += _cost(sub.selection_set, node_type, fragments, variables) + 1
                elif sub.name.value == "edges":
                    edge_type = get_named_type(named.fields["edges"].type)
                    per_node += _cost(sub.selection_set, edge_type, fragments, variables)
            total += 2 + size * per_node
        else:
            total += 1 + inner
    return total


def requested_cost(document, variables: dict) -> int:
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    cost = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation.value == "mutation":
            cost += MUTATION_COST * len(_fields(definition.selection_set, fragments))
        else:
            cost += _cost(definition.selection_set, SCHEMA.query_type, fragments, variables)
    return cost


class CostBucket:
    """Shopify's GraphQL throttle: points taken per query, restored at a rate (nominal time)."""

    def __init__(self, size: float = BUCKET_SIZE, rate: float = RESTORE_RATE):
        self.size, self.rate = size, rate
        self.available = size
        self.stamp = time.monotonic()

    def _refill(self, time_scale: float) -> None:
        now = time.monotonic()
        self.available = min(self.size, self.available + (now - self.stamp) / time_scale * self.rate)
        self.stamp = now

    def take(self, cost: int, time_scale: float) -> bool:
        self._refill(time_scale)
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def status(self) -> dict:
        return {"maximumAvailable": self.size, "currentlyAvailable": round(self.available),
                "restoreRate": self.rate}


# -- execution ----------------------------------------------------------------------------------

class Root(shopify_orders_graphql.OrderFields):
    """Resolvers of the Query and Mutation fields over the sandbox state of one shop."""

    def __init__(self, state, shop: str, version: str = "2026-10"):
        self.state, self.shop_name, self.version = state, shop, version

    # nodes
    def _variant(self, product, variant) -> dict:
        return {
            "id": gid("ProductVariant", variant["id"]), "legacyResourceId": str(variant["id"]),
            "sku": variant["sku"], "title": variant["title"], "price": str(variant["price"]),
            "barcode": variant.get("barcode"), "product": lambda info: self._product(product),
            "inventoryItem": {"id": gid("InventoryItem", variant["inventory_item_id"]),
                              "legacyResourceId": str(variant["inventory_item_id"]), "sku": variant["sku"],
                              "tracked": True},
        }

    def _product(self, product) -> dict:
        return {
            "id": gid("Product", product["id"]), "legacyResourceId": str(product["id"]), "title": product["title"],
            "handle": product["handle"], "status": "ACTIVE", "updatedAt": product["updated_at"],
            "variantsCount": {"count": len(product["variants"]), "precision": "EXACT"},
            "variants": lambda info, first=None, after=None, last=None, before=None: connection(
                product["variants"], first, after, lambda v: self._variant(product, v)),
        }

    # Query
    def shop(self, info) -> dict:
        return {"id": gid("Shop", 690933842), "name": f"{self.shop_name} (Waybill sandbox)",
                "myshopifyDomain": f"{self.shop_name}.myshopify.com", "currencyCode": "USD"}

    def products(self, info, first=None, after=None, last=None, before=None, query=None) -> dict:
        return connection(self.state.channel_products("shopify", self.shop_name), first, after, self._product)

    def product(self, info, id) -> Optional[dict]:
        number = gid_number(id, "Product")
        found = next((p for p in self.state.channel_products("shopify", self.shop_name) if p["id"] == number), None)
        return self._product(found) if found else None

    def productVariants(self, info, first=None, after=None, query=None) -> dict:
        pairs = [(p, v) for p in self.state.channel_products("shopify", self.shop_name) for v in p["variants"]]
        return connection(pairs, first, after, lambda pv: self._variant(*pv))

    def locations(self, info, first=None, after=None, includeInactive=False) -> dict:
        locations = [loc for loc in self.state.shopify_locations if includeInactive or loc["active"]]
        return connection(locations, first, after, lambda loc: {
            "id": gid("Location", loc["id"]), "legacyResourceId": str(loc["id"]), "name": loc["name"],
            "isActive": loc["active"], "fulfillsOnlineOrders": loc["active"]})

    def location(self, info, id) -> Optional[dict]:
        number = gid_number(id, "Location")
        found = next((loc for loc in self.state.shopify_locations if loc["id"] == number), None)
        if found is None:
            return None
        return {"id": gid("Location", number), "legacyResourceId": str(number), "name": found["name"],
                "isActive": found["active"], "fulfillsOnlineOrders": found["active"],
                "inventoryLevels": lambda info, first=None, after=None: connection(
                    self._levels(number), first, after, self._level)}

    def _levels(self, location: int) -> list[tuple[int, int]]:
        """(item, quantity) stocked at a location, in item order (stock set there once)."""
        with self.state.lock:
            return sorted((item, qty) for (shop, item, where), qty in self.state.shopify_inventory.items()
                          if shop == self.shop_name and where == location)

    @staticmethod
    def _level(pair: tuple[int, int]) -> dict:
        item, quantity = pair
        return {"id": gid("InventoryLevel", item), "item": {"id": gid("InventoryItem", item),
                                                            "legacyResourceId": str(item), "sku": None,
                                                            "tracked": True},
                "quantities": lambda info, names: [{"name": n, "quantity": quantity} for n in names
                                                   if n in ("available", "on_hand")]}

    # Mutation
    def inventorySetQuantities(self, info, input) -> dict:
        errors = []
        known_items = {v["inventory_item_id"] for p in self.state.channel_products("shopify", self.shop_name)
                       for v in p["variants"]}
        known_locations = {loc["id"] for loc in self.state.shopify_locations}
        changes = []
        if len(input["quantities"]) > MAX_SET_QUANTITIES:
            return {"inventoryAdjustmentGroup": None, "userErrors": [{
                "field": ["input", "quantities"], "code": "INVALID_QUANTITY_INPUT",
                "message": f"The quantities can't exceed {MAX_SET_QUANTITIES} items."}]}
        for index, entry in enumerate(input["quantities"]):
            item = gid_number(entry["inventoryItemId"], "InventoryItem")
            location = gid_number(entry["locationId"], "Location")
            if item not in known_items:
                errors.append({"field": ["input", "quantities", str(index), "inventoryItemId"],
                               "message": "The specified inventory item could not be found.",
                               "code": "INVALID_INVENTORY_ITEM"})
            elif location not in known_locations:
                errors.append({"field": ["input", "quantities", str(index), "locationId"],
                               "message": "The specified location could not be found.",
                               "code": "INVALID_LOCATION"})
            elif entry["quantity"] < 0 and input["name"] == "available":
                errors.append({"field": ["input", "quantities", str(index), "quantity"],
                               "message": "The quantity can't be negative.", "code": "INVALID_QUANTITY"})
            elif not input.get("ignoreCompareQuantity") and entry.get("compareQuantity") is None:
                errors.append({"field": ["input", "quantities", str(index), "compareQuantity"],
                               "message": "A compareQuantity is required unless ignoreCompareQuantity is true.",
                               "code": "COMPARE_QUANTITY_REQUIRED"})
            elif not input.get("ignoreCompareQuantity") and entry["compareQuantity"] != \
                    self.state.shopify_inventory.get((self.shop_name, item, location), 0):
                errors.append({"field": ["input", "quantities", str(index), "compareQuantity"],
                               "message": "The compareQuantity argument no longer matches the persisted quantity.",
                               "code": "COMPARE_QUANTITY_STALE"})
            else:
                changes.append((item, location, entry["quantity"]))
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        with self.state.lock:
            for item, location, quantity in changes:
                self.state.shopify_inventory[(self.shop_name, item, location)] = quantity
        from .stock import note_write

        note_write(self.state, "shopify")
        now = self.state.clock.now().isoformat().replace("+00:00", "Z")
        return {"inventoryAdjustmentGroup": {"id": gid("InventoryAdjustmentGroup", len(changes)), "createdAt": now,
                                             "reason": input["reason"],
                                             "referenceDocumentUri": input.get("referenceDocumentUri")},
                "userErrors": []}


def execute(state, shop: str, body: Any, bucket: CostBucket, time_scale: float,
            version: str = "2026-10") -> dict:
    """Shopify's answer to a GraphQL request body ``{"query", "variables"?, "operationName"?}``."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return {"errors": [{"message": "Parameter Missing or Invalid", "extensions": {"code": "BAD_REQUEST"}}]}
    variables = body.get("variables") or {}
    try:
        document = parse(body["query"])
    except GraphQLError as exc:
        return {"errors": [{"message": exc.message, "locations": [loc._asdict() for loc in exc.locations or []],
                            "extensions": {"code": "PARSE_ERROR"}}]}
    problems = validate(SCHEMA, document)
    if problems:
        return {"errors": [{"message": p.message, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                           for p in problems]}
    cost = requested_cost(document, variables)
    if cost > MAX_QUERY_COST:
        return {"errors": [{"message": f"Query cost is {cost}, which exceeds the single query max cost limit "
                                       f"({MAX_QUERY_COST}).", "extensions": {"code": "MAX_COST_EXCEEDED",
                                                                             "cost": cost,
                                                                             "maxCost": MAX_QUERY_COST}}],
                "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                        "throttleStatus": bucket.status()}}}
    if not bucket.take(cost, time_scale):
        return {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation":
                            "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                        "throttleStatus": bucket.status()}}}
    with state.lock:  # writes change the shop's orders: one request at a time
        result = graphql_sync(SCHEMA, body["query"], root_value=Root(state, shop, version),
                              variable_values=variables, operation_name=body.get("operationName"))
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [{"message": e.message, "path": e.path} for e in result.errors]
    answer["data"] = result.data
    answer["extensions"] = {"cost": {"requestedQueryCost": cost, "actualQueryCost": cost,
                                     "throttleStatus": bucket.status()}}
    return answer
