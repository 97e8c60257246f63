"""The sandbox's Shopify GraphQL for orders: what a seller reads and writes back.

``order(id:)`` with its fulfillment orders, fulfillments, refunds and ``suggestedRefund``;
the mutations ``fulfillmentCreate``, ``fulfillmentTrackingInfoUpdate``, ``fulfillmentCancel``,
``orderCancel`` and ``refundCreate`` (which, from 2026-04, needs ``@idempotent(key:)``: a
repeat with the same key answers the refund the first call made). Every sandbox order has
one fulfillment order (OPEN, IN_PROGRESS once partly fulfilled, CLOSED when all is, CANCELLED
with the order). Refusals come back as ``userErrors``, as Shopify answers them.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from . import writes
from .state import SimOrder

SDL = """
directive @idempotent(key: String!) on FIELD

extend type Query {
  order(id: ID!): Order
}

extend type Mutation {
  fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
  fulfillmentTrackingInfoUpdate(fulfillmentId: ID!, trackingInfoInput: FulfillmentTrackingInput!,
                                notifyCustomer: Boolean): FulfillmentTrackingInfoUpdatePayload
  fulfillmentCancel(id: ID!): FulfillmentCancelPayload
  orderCancel(orderId: ID!, reason: OrderCancelReason!, refundMethod: OrderCancelRefundMethodInput,
              restock: Boolean!, notifyCustomer: Boolean, staffNote: String): OrderCancelPayload
  refundCreate(input: RefundInput!): RefundCreatePayload
}

enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY STAFF OTHER }

type MoneyV2 { amount: Money!, currencyCode: String! }
type MoneyBag { shopMoney: MoneyV2!, presentmentMoney: MoneyV2! }
type UserError { field: [String!], message: String!, code: String }
type Job { id: ID!, done: Boolean! }

type Order {
  id: ID!
  legacyResourceId: String!
  name: String!
  cancelledAt: DateTime
  cancelReason: String
  displayFulfillmentStatus: String!
  totalRefundedSet: MoneyBag!
  fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]!
  refunds(first: Int): [Refund!]!
  suggestedRefund(refundLineItems: [RefundLineItemInput!], refundShipping: Boolean,
                  shippingAmount: Money, suggestFullRefund: Boolean): SuggestedRefund
}
type LineItem { id: ID!, sku: String, quantity: Int!, currentQuantity: Int! }
type FulfillmentOrderConnection { nodes: [FulfillmentOrder!]!, pageInfo: PageInfo! }
type FulfillmentOrder {
  id: ID!
  status: String!
  lineItems(first: Int, after: String): FulfillmentOrderLineItemConnection!
}
type FulfillmentOrderLineItemConnection { nodes: [FulfillmentOrderLineItem!]!, pageInfo: PageInfo! }
type FulfillmentOrderLineItem { id: ID!, remainingQuantity: Int!, totalQuantity: Int!, lineItem: LineItem! }
type FulfillmentTrackingInfo { company: String, number: String, url: String }
type FulfillmentLineItem { id: ID!, quantity: Int!, lineItem: LineItem! }
type FulfillmentLineItemConnection { nodes: [FulfillmentLineItem!]!, pageInfo: PageInfo! }
type Fulfillment {
  id: ID!
  status: String!
  createdAt: DateTime!
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
  fulfillmentLineItems(first: Int): FulfillmentLineItemConnection!
}
type Refund { id: ID!, note: String, createdAt: DateTime!, totalRefundedSet: MoneyBag! }
type SuggestedOrderTransaction { amountSet: MoneyBag!, gateway: String!, kind: String!,
                                 parentTransaction: OrderTransaction }
type OrderTransaction { id: ID!, gateway: String!, kind: String! }
type SuggestedRefund {
  amountSet: MoneyBag!
  maximumRefundableSet: MoneyBag!
  suggestedTransactions: [SuggestedOrderTransaction!]!
}

input FulfillmentInput {
  lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]!
  notifyCustomer: Boolean
  trackingInfo: FulfillmentTrackingInput
}
input FulfillmentOrderLineItemsInput { fulfillmentOrderId: ID!, fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!] }
input FulfillmentOrderLineItemInput { id: ID!, quantity: Int! }
input FulfillmentTrackingInput { company: String, number: String, url: String }
input OrderCancelRefundMethodInput { originalPaymentMethodsRefund: Boolean }
input RefundInput {
  orderId: ID!
  note: String
  notify: Boolean
  shipping: ShippingRefundInput
  refundLineItems: [RefundLineItemInput!]
  transactions: [OrderTransactionInput!]
}
input ShippingRefundInput { amount: Money, fullRefund: Boolean }
input RefundLineItemInput { lineItemId: ID!, quantity: Int!, restockType: String, locationId: ID }
input OrderTransactionInput { amount: Money!, gateway: String!, kind: String!, orderId: ID!, parentId: ID }

type FulfillmentCreatePayload { fulfillment: Fulfillment, userErrors: [UserError!]! }
type FulfillmentTrackingInfoUpdatePayload { fulfillment: Fulfillment, userErrors: [UserError!]! }
type FulfillmentCancelPayload { fulfillment: Fulfillment, userErrors: [UserError!]! }
type OrderCancelPayload { job: Job, orderCancelUserErrors: [UserError!]!, userErrors: [UserError!]! }
type RefundCreatePayload { refund: Refund, order: Order, userErrors: [UserError!]! }
"""

LINE_ITEM = 13_000_000_000_000
FO_LINE_ITEM = 14_000_000_000_000
FULFILLMENT_ORDER = 7_000_000_000_000
IDEMPOTENCY_FROM = "2026-04"  # refundCreate without @idempotent(key:) is refused from this version


def gid(kind: str, number) -> str:
    return f"gid://shopify/{kind}/{number}"


def number_of(value: Any, kind: str) -> Optional[int]:
    prefix = f"gid://shopify/{kind}/"
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix):].isdigit():
        return int(value[len(prefix):])
    return None


def _money(value: Decimal, currency: str) -> dict:
    money = {"amount": str(value), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": money}


def _errors(refused: writes.Refused) -> list[dict]:
    return [{"field": refused.field or None, "message": refused.message, "code": refused.code}]


def _idempotency_key(info) -> Optional[str]:
    for directive in info.field_nodes[0].directives or []:
        if directive.name.value != "idempotent":
            continue
        for argument in directive.arguments:
            if argument.name.value == "key":
                node = argument.value
                if node.kind == "variable":
                    values = info.variable_values
                    values = getattr(values, "coerced", values) or {}  # graphql-core 3.3: VariableValues
                    return values.get(node.name.value)
                return getattr(node, "value", None)
    return None


class OrderFields:
    """Mixed into the GraphQL root (``shopify_graphql.Root``): ``state``, ``shop_name`` and
    ``version`` are the root's."""

    # -- nodes ------------------------------------------------------------------------------
    def _order(self, gid_value) -> Optional[SimOrder]:
        number = number_of(gid_value, "Order")
        return None if number is None else self.state.get_order("shopify", self.shop_name, str(number))

    def _line_item(self, order: SimOrder, line) -> dict:
        return {"id": gid("LineItem", LINE_ITEM + line.line_id), "sku": line.sku, "quantity": line.quantity,
                "currentQuantity": 0 if order.cancelled else line.quantity - line.cancelled}

    def _fulfillment_order(self, order: SimOrder) -> dict:
        if order.cancelled:
            status = "CANCELLED"
        elif order.fulfilled:
            status = "CLOSED"
        else:
            status = "IN_PROGRESS" if order.partially_shipped else "OPEN"
        nodes = [{"id": gid("FulfillmentOrderLineItem", FO_LINE_ITEM + li.line_id),
                  "remainingQuantity": 0 if order.cancelled
                  else li.quantity - li.cancelled - order.shipped_units(li),
                  "totalQuantity": li.quantity - li.cancelled, "lineItem": self._line_item(order, li)}
                 for li in order.lines]
        page = {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}
        return {"id": gid("FulfillmentOrder", FULFILLMENT_ORDER + order.seq), "status": status,
                "lineItems": lambda info, first=None, after=None: {"nodes": nodes, "pageInfo": page}}

    def _fulfillment(self, order: SimOrder, f: dict) -> dict:
        lines = {li.line_id: li for li in order.lines}
        nodes = [{"id": gid("FulfillmentLineItem", f["id"] * 100 + i), "quantity": units,
                  "lineItem": self._line_item(order, lines[line_id])}
                 for i, (line_id, units) in enumerate(f["lines"].items())]
        page = {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}
        return {"id": gid("Fulfillment", f["id"]), "status": f["status"].upper(), "createdAt": f["created_at"],
                "trackingInfo": lambda info, first=None: [
                    {"company": f["company"] or None, "number": f["number"] or None, "url": f["url"] or None}]
                if f["number"] or f["company"] else [],
                "fulfillmentLineItems": lambda info, first=None: {"nodes": nodes, "pageInfo": page}}

    def _refund(self, order: SimOrder, r) -> dict:
        return {"id": gid("Refund", 900_000_000 + r.refund_id), "note": r.reason or None,
                "createdAt": r.created_at.isoformat().replace("+00:00", "Z"),
                "totalRefundedSet": _money(r.amount, order.currency)}

    def _order_node(self, order: SimOrder) -> dict:
        status = "FULFILLED" if order.fulfilled else ("PARTIALLY_FULFILLED" if order.partially_shipped
                                                     else "UNFULFILLED")
        page = {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}
        return {
            "id": gid("Order", order.external_id), "legacyResourceId": order.external_id,
            "name": order.number,
            "cancelledAt": order.cancelled_at.isoformat().replace("+00:00", "Z") if order.cancelled else None,
            "cancelReason": (order.cancel_reason or "").upper() or None, "displayFulfillmentStatus": status,
            "totalRefundedSet": _money(order.refunded, order.currency),
            "fulfillmentOrders": lambda info, first=None, after=None: {
                "nodes": [self._fulfillment_order(order)], "pageInfo": page},
            "fulfillments": lambda info, first=None: [self._fulfillment(order, f) for f in order.fulfillments],
            "refunds": lambda info, first=None: [self._refund(order, r) for r in order.refunds],
            "suggestedRefund": lambda info, **kwargs: self._suggested(order, **kwargs),
        }

    def _suggested(self, order: SimOrder, refundLineItems=None, refundShipping=False, shippingAmount=None,
                   suggestFullRefund=False) -> dict:
        lines = {li.line_id: li for li in order.lines}
        amount = Decimal("0")
        for entry in refundLineItems or []:
            line = lines.get((number_of(entry["lineItemId"], "LineItem") or 0) - LINE_ITEM)
            if line is not None:
                per_unit = (line.subtotal - line.discount + line.tax) / line.quantity
                amount += (per_unit * entry["quantity"]).quantize(Decimal("0.01"))
        if refundShipping:
            amount += order.shipping
        elif shippingAmount is not None:
            amount += Decimal(str(shippingAmount))
        left = writes.refundable(order)
        amount = min(amount, left) if not suggestFullRefund else left
        transaction = {"amountSet": _money(amount, order.currency), "gateway": "bogus", "kind": "SUGGESTED_REFUND",
                       "parentTransaction": {"id": gid("OrderTransaction", 950_000_000 + order.seq),
                                             "gateway": "bogus", "kind": "SALE"}}
        return {"amountSet": _money(amount, order.currency), "maximumRefundableSet": _money(left, order.currency),
                "suggestedTransactions": [transaction] if amount > 0 else []}

    # -- Query ------------------------------------------------------------------------------
    def order(self, info, id) -> Optional[dict]:
        order = self._order(id)
        return None if order is None else self._order_node(order)

    # -- Mutations --------------------------------------------------------------------------
    def fulfillmentCreate(self, info, fulfillment, message=None) -> dict:
        groups = fulfillment["lineItemsByFulfillmentOrder"]
        try:
            if len(groups) != 1:
                raise writes.Refused("INVALID", "the sandbox fulfils one fulfillment order a call")
            number = number_of(groups[0]["fulfillmentOrderId"], "FulfillmentOrder") or 0
            order = next((o for o in self.state.list_orders("shopify", self.shop_name)
                          if FULFILLMENT_ORDER + o.seq == number), None)
            if order is None:
                raise writes.Refused("NOT_FOUND", "Fulfillment order does not exist.", ["fulfillmentOrderId"])
            status = self._fulfillment_order(order)["status"]
            if status in ("CLOSED", "CANCELLED"):
                raise writes.Refused("FULFILLMENT_ORDER_STATUS",
                                     f"Fulfillment order {groups[0]['fulfillmentOrderId']} has an "
                                     f"unfulfillable status= {status.lower()}.")
            entries = groups[0].get("fulfillmentOrderLineItems")
            if entries is None:  # all that is left
                lines = {li.line_id: li.quantity - li.cancelled - order.shipped_units(li) for li in order.lines
                         if li.quantity - li.cancelled - order.shipped_units(li) > 0}
            else:
                lines = {}
                for entry in entries:
                    line_id = (number_of(entry["id"], "FulfillmentOrderLineItem") or 0) - FO_LINE_ITEM
                    lines[line_id] = lines.get(line_id, 0) + int(entry["quantity"])
            tracking = fulfillment.get("trackingInfo") or {}
            made = writes.fulfil(self.state, order, lines, company=tracking.get("company") or "",
                                 number=tracking.get("number") or "", url=tracking.get("url") or "",
                                 notify=bool(fulfillment.get("notifyCustomer")))
        except writes.Refused as refused:
            return {"fulfillment": None, "userErrors": _errors(refused)}
        return {"fulfillment": self._fulfillment(order, made), "userErrors": []}

    def _fulfillment_target(self, fulfillment_gid) -> tuple[SimOrder, int]:
        number = number_of(fulfillment_gid, "Fulfillment")
        for order in self.state.list_orders("shopify", self.shop_name):
            if any(f["id"] == number for f in order.fulfillments):
                return order, number
        raise writes.Refused("NOT_FOUND", "Fulfillment does not exist.", ["id"])

    def fulfillmentTrackingInfoUpdate(self, info, fulfillmentId, trackingInfoInput, notifyCustomer=None) -> dict:
        try:
            order, number = self._fulfillment_target(fulfillmentId)
            made = writes.update_tracking(self.state, order, number,
                                          company=trackingInfoInput.get("company") or "",
                                          number=trackingInfoInput.get("number") or "",
                                          url=trackingInfoInput.get("url") or "")
        except writes.Refused as refused:
            return {"fulfillment": None, "userErrors": _errors(refused)}
        return {"fulfillment": self._fulfillment(order, made), "userErrors": []}

    def fulfillmentCancel(self, info, id) -> dict:
        try:
            order, number = self._fulfillment_target(id)
            made = writes.cancel_fulfillment(self.state, order, number)
        except writes.Refused as refused:
            return {"fulfillment": None, "userErrors": _errors(refused)}
        return {"fulfillment": self._fulfillment(order, made), "userErrors": []}

    def orderCancel(self, info, orderId, reason, restock, refundMethod=None, notifyCustomer=None,
                    staffNote=None) -> dict:
        order = self._order(orderId)
        try:
            if order is None:
                raise writes.Refused("NOT_FOUND", "Order does not exist.", ["orderId"])
            refund = bool((refundMethod or {}).get("originalPaymentMethodsRefund"))
            writes.cancel(self.state, order, reason.lower(), refund=refund)
        except writes.Refused as refused:
            return {"job": None, "orderCancelUserErrors": _errors(refused), "userErrors": _errors(refused)}
        # Shopify cancels in a job; the sandbox's is done at once (the order shows it)
        return {"job": {"id": gid("Job", f"cancel-{order.seq}"), "done": True}, "orderCancelUserErrors": [],
                "userErrors": []}

    def refundCreate(self, info, input) -> dict:
        key = _idempotency_key(info)
        if key is None and self.version >= IDEMPOTENCY_FROM:
            refused = writes.Refused("IDEMPOTENCY_KEY_REQUIRED",
                                     "refundCreate needs the @idempotent(key:) directive from 2026-04")
            return {"refund": None, "order": None, "userErrors": _errors(refused)}
        order = self._order(input["orderId"])
        try:
            if order is None:
                raise writes.Refused("NOT_FOUND", "Order does not exist.", ["orderId"])
            seen = self.state.idempotency_keys.get((self.shop_name, key)) if key else None
            if seen is not None:
                return {"refund": self._refund(order, seen), "order": self._order_node(order), "userErrors": []}
            try:
                amount = sum((Decimal(str(t["amount"])) for t in input.get("transactions") or []), Decimal("0"))
            except InvalidOperation:
                raise writes.Refused("INVALID", "amount is not a number", ["transactions", "amount"]) from None
            lines = {}
            for entry in input.get("refundLineItems") or []:
                line_id = (number_of(entry["lineItemId"], "LineItem") or 0) - LINE_ITEM
                lines[line_id] = lines.get(line_id, 0) + int(entry["quantity"])
            shipping = Decimal(str((input.get("shipping") or {}).get("amount") or "0"))
            made = writes.refund(self.state, order, amount, reason=input.get("note") or "", lines=lines,
                                 reference=key, shipping=shipping)
        except writes.Refused as refused:
            return {"refund": None, "order": None, "userErrors": _errors(refused)}
        if key:
            self.state.idempotency_keys[(self.shop_name, key)] = made
        return {"refund": self._refund(order, made), "order": self._order_node(order), "userErrors": []}
