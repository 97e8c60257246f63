"""Amazon Selling Partner API, Orders API 2026-01-01: the order shape and its normalisation.

``searchOrders`` (``GET /orders/2026-01-01/orders``) and ``getOrder`` (``.../orders/{orderId}``,
``{"order": {...}}``) answer camelCase orders with their items inline. What a response holds
beyond the order's skeleton is chosen by ``includedData``: Waybill asks for :data:`INCLUDED_DATA`.
Buyer and recipient (PII) come only when asked for *and* the application has the restricted role
(no Restricted Data Token in this version); without them the order imports without e-mail and
address, and the normaliser says nothing false about them (None, never "").

Money is ``{"amount": "<decimal string>", "currencyCode"}`` with the currency's own decimals
("19940" JPY, "34.99" GBP); every amount of an order must be in the order's currency.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from .base import NormalizedAddress, NormalizedLine, NormalizedOrder, checked
from .errors import InvalidPayload
from .parsing import address_or_none, as_int, email, join_name, money, parse_time, require, text, unit_price

VERSION = "2026-01-01"
INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT",
                 "PACKAGES", "TAX", "PAYMENT")

# fulfillment.fulfillmentStatus (upper snake case; CANCELLED with two Ls)
FINANCIAL_STATUS = {
    "PENDING_AVAILABILITY": "pending",
    "PENDING": "pending",
    "UNSHIPPED": "paid",
    "PARTIALLY_SHIPPED": "paid",
    "SHIPPED": "paid",
    "CANCELLED": "voided",
    "UNFULFILLABLE": "pending",
}
FULFILLMENT = {"SHIPPED": "fulfilled", "PARTIALLY_SHIPPED": "partial"}

# proceeds breakdown types -> where they go
CHARGE_TYPES = {"GIFT_WRAP": "gift_wrap", "COD_FEE": "cod_fee", "DELIVERY_TIP": "delivery_tip", "OTHER": "other"}


def unwrap(raw: Any) -> Any:
    """The order of a ``getOrder`` response (``{"order": {...}}``), or the order itself."""
    if isinstance(raw, dict) and set(raw) == {"order"} and isinstance(raw["order"], dict):
        return raw["order"]
    return raw


def is_2026(raw: Any) -> bool:
    return isinstance(unwrap(raw), dict) and "orderId" in unwrap(raw)


class _Money:
    """Amounts of one order, refusing any currency other than the order's."""

    def __init__(self, currency: str, where: str):
        self.currency, self.where = currency, where

    def __call__(self, block: Any, field: str) -> Optional[Decimal]:
        if block is None:
            return None
        if not isinstance(block, dict):
            raise InvalidPayload(f"{self.where}.{field}: expected a Money object")
        code = text(block.get("currencyCode"))
        if code and code != self.currency:
            raise InvalidPayload(f"{self.where}.{field}: currency {code} differs from the order's {self.currency}")
        return money(block.get("amount"), f"{self.where}.{field}")


def _breakdowns(block: Any, amount: _Money, field: str) -> dict[str, Decimal]:
    """{type: amount} of a proceeds block's ``breakdowns`` (summed per type)."""
    sums: dict[str, Decimal] = {}
    for index, entry in enumerate((block or {}).get("breakdowns") or []):
        if not isinstance(entry, dict) or not entry.get("type"):
            raise InvalidPayload(f"{amount.where}.{field}.breakdowns[{index}]: needs a type and a subtotal")
        value = amount(entry.get("subtotal"), f"{field}.breakdowns[{index}].subtotal") or Decimal("0")
        sums[entry["type"]] = sums.get(entry["type"], Decimal("0")) + value
    return sums


def _address(raw: Any, where: str) -> Optional[NormalizedAddress]:
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{where}: an address must be an object")
    return address_or_none(NormalizedAddress(
        name=text(raw.get("name")),
        company=text(raw.get("companyName")),
        line1=text(raw.get("addressLine1")),
        line2=join_name(raw.get("addressLine2"), raw.get("addressLine3")),
        city=text(raw.get("city")),
        region=text(raw.get("stateOrRegion")),
        postcode=text(raw.get("postalCode")),
        country=text(raw.get("countryCode")),
        phone=text(raw.get("phone")),
    ))


def _currency(order: dict, items: list, marketplace_currency: dict) -> Optional[str]:
    grand = ((order.get("proceeds") or {}).get("grandTotal") or {})
    if text(grand.get("currencyCode")):
        return text(grand["currencyCode"])
    for item in items:
        unit = (((item.get("product") or {}).get("price") or {}).get("unitPrice") or {}) if isinstance(item, dict) else {}
        if text(unit.get("currencyCode")):
            return text(unit["currencyCode"])
    marketplace = (order.get("salesChannel") or {}).get("marketplaceId") or ""
    return marketplace_currency.get(marketplace)


def _line(item: Any, index: int, amount: _Money, charges: dict, cancel_reasons: list) -> NormalizedLine:
    iw = f"orderItems[{index}]"
    if not isinstance(item, dict):
        raise InvalidPayload(f"{amount.where}.{iw}: not an object")
    quantity = as_int(require(item, "quantityOrdered", f"{amount.where}.{iw}"), f"{amount.where}.{iw}.quantityOrdered")
    product = item.get("product") if isinstance(item.get("product"), dict) else {}
    unit = amount(((product.get("price") or {}).get("unitPrice")), f"{iw}.product.price.unitPrice")
    parts = _breakdowns(item.get("proceeds"), amount, f"{iw}.proceeds")
    # the line total as Amazon sends it (ITEM proceeds), else unit price x quantity
    subtotal = parts.get("ITEM")
    if subtotal is None and unit is not None:
        subtotal = unit * quantity
    if subtotal is None:
        subtotal = Decimal("0")  # a pending order may carry no prices yet
    points = (((item.get("expense") or {}).get("pointsCost") or {}).get("pointsGranted") or {})
    if points:
        value = amount(points.get("pointsMonetaryValue"), f"{iw}.expense.pointsCost.pointsGranted")
        if value:
            charges["points_granted"] = charges.get("points_granted", Decimal("0")) + value
        if points.get("pointsNumber") is not None:
            charges["points_granted_number"] = charges.get("points_granted_number", Decimal("0")) + Decimal(
                as_int(points["pointsNumber"], f"{amount.where}.{iw}.pointsNumber"))
    cancellation = item.get("cancellation") or {}
    for key in ("cancellationExecution", "cancellationRequest"):
        reason = text((cancellation.get(key) or {}).get("cancelReason"))
        if reason:
            cancel_reasons.append((key, reason))
    sku = product.get("sellerSku")
    return NormalizedLine(
        external_id=text(item.get("orderItemId")),
        sku=sku if sku != "" else None,
        title=text(product.get("title")) or text(sku) or text(product.get("asin")) or "",
        quantity=quantity,
        unit_price=unit if unit is not None else unit_price(subtotal, quantity),
        subtotal=subtotal,
        tax=parts.get("TAX", Decimal("0")),
        discount=abs(parts.get("DISCOUNT", Decimal("0"))),  # a discount lowers proceeds: its sign varies
        quantity_cancelled=None,  # the API gives no cancelled quantity per item
    )


def _tax_registrations(order: dict) -> list[dict]:
    regs = []
    for reg in ((order.get("tax") or {}).get("taxRegistrations") or []):
        if isinstance(reg, dict) and reg.get("taxRegistrationNumber"):
            regs.append({"entity": text(reg.get("entityType")), "type": text(reg.get("taxRegistrationType")),
                         "number": text(reg.get("taxRegistrationNumber")), "legal_name": text(reg.get("legalName"))})
    return regs


def normalize_order(raw: Any, marketplace_currency: dict) -> NormalizedOrder:
    """An Orders API 2026-01-01 order (a ``searchOrders`` element or the ``getOrder`` body)."""
    order = unwrap(raw)
    if not isinstance(order, dict):
        raise InvalidPayload(f"amazon: expected an order object, got {type(order).__name__}")
    order_id = str(require(order, "orderId", "amazon: order"))
    where = f"amazon: order {order_id}"
    items = order.get("orderItems")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise InvalidPayload(f"{where}: orderItems must be a list")
    fulfillment = order.get("fulfillment") if isinstance(order.get("fulfillment"), dict) else {}
    status = fulfillment.get("fulfillmentStatus")
    if status is None:
        raise InvalidPayload(f"{where}: no fulfillment.fulfillmentStatus (includedData must name FULFILLMENT)")
    if status not in FINANCIAL_STATUS:
        raise InvalidPayload(f"{where}: unknown fulfillmentStatus {status!r}")
    currency = _currency(order, items, marketplace_currency)
    if not currency:
        raise InvalidPayload(f"{where}: no currency (no proceeds, no item price, unknown marketplace)")
    amount = _Money(currency, where)

    charges: dict[str, Decimal] = {}
    cancel_reasons: list[tuple[str, str]] = []
    lines = [_line(item, index, amount, charges, cancel_reasons) for index, item in enumerate(items)]
    proceeds = order.get("proceeds") if isinstance(order.get("proceeds"), dict) else {}
    total = amount(proceeds.get("grandTotal"), "proceeds.grandTotal")
    order_parts = _breakdowns(proceeds, amount, "proceeds")
    if not order_parts:  # no order-level breakdowns: the items' summed
        for item in items:
            for kind, value in _breakdowns(item.get("proceeds"), amount, "orderItems.proceeds").items():
                order_parts[kind] = order_parts.get(kind, Decimal("0")) + value
    for kind, name in CHARGE_TYPES.items():
        if order_parts.get(kind):
            charges[name] = order_parts[kind]
    fees = sum((order_parts.get(kind, Decimal("0")) for kind in CHARGE_TYPES), Decimal("0"))

    buyer = order.get("buyer") if isinstance(order.get("buyer"), dict) else {}
    recipient = order.get("recipient") if isinstance(order.get("recipient"), dict) else {}
    shipping_address = _address(recipient.get("deliveryAddress"), f"{where}.recipient.deliveryAddress")
    registrations = _tax_registrations(order)
    buyer_registration = next((r for r in ((order.get("tax") or {}).get("taxRegistrations") or [])
                               if isinstance(r, dict) and r.get("entityType") == "BUYER"), None)
    billing_address = None
    if buyer_registration:
        billing_address = _address(buyer_registration.get("taxRegistrationAddress"), f"{where}.tax")
        if billing_address and not billing_address.company:
            billing_address.company = text(buyer_registration.get("legalName"))

    programs = set(order.get("programs") or [])
    risk: dict[str, Any] = {}
    if "PRIME" in programs:
        risk["is_prime"] = True
    if "AMAZON_BUSINESS" in programs or buyer.get("buyerCompanyName"):
        risk["is_business_order"] = True
    if "PREMIUM" in programs:
        risk["is_premium_order"] = True
    if any(a.get("associationType") == "REPLACEMENT_ORIGINAL_ID" for a in order.get("associatedOrders") or []
           if isinstance(a, dict)):
        risk["is_replacement_order"] = True
    if registrations:
        risk["tax_registrations"] = registrations
    methods = {text(p.get("paymentMethod")) for p in ((order.get("payment") or {}).get("paymentExecutions") or [])
               if isinstance(p, dict)}
    if "CashOnDelivery" in methods:
        risk["payment_method"] = "COD"
    requests_ = [reason for key, reason in cancel_reasons if key == "cancellationRequest"]
    cancelled = status == "CANCELLED"
    if requests_ and not cancelled:
        risk["buyer_requested_cancel"] = requests_[0]
    executed = [reason for key, reason in cancel_reasons if key == "cancellationExecution"]

    updated_at = parse_time(order.get("lastUpdatedTime"), f"{where}.lastUpdatedTime")
    ship_by = parse_time(((fulfillment.get("shipByWindow") or {}).get("latestDateTime")),
                         f"{where}.fulfillment.shipByWindow.latestDateTime")
    return checked(NormalizedOrder(
        external_id=order_id,
        order_number=order_id,
        placed_at=parse_time(order.get("createdTime"), f"{where}.createdTime", required=True),
        updated_at=updated_at,
        currency=currency,
        subtotal=order_parts.get("ITEM", sum((line.line_subtotal for line in lines), Decimal("0"))),
        shipping_total=order_parts.get("SHIPPING", Decimal("0")),
        tax_total=order_parts.get("TAX", Decimal("0")),
        discount_total=abs(order_parts.get("DISCOUNT", Decimal("0"))),
        fees_total=fees,
        total=total,
        email=email(buyer.get("buyerEmail")),
        customer_name=text(buyer.get("buyerName")) or (shipping_address.name if shipping_address else None),
        shipping_address=shipping_address,
        billing_address=billing_address,
        lines=lines,
        financial_status=FINANCIAL_STATUS[status],
        channel_status=status,
        fulfilled_by_channel=fulfillment.get("fulfilledBy") == "AMAZON" or status == "SHIPPED",
        fulfillment_status=FULFILLMENT.get(status, "unfulfilled"),
        cancelled=cancelled,
        cancelled_at=updated_at if cancelled else None,
        cancel_reason=(executed or requests_ or [None])[0] if cancelled else None,
        refunds=[],  # not in the Orders API (Finances API)
        shipping_method=text(fulfillment.get("fulfillmentServiceLevel")),
        ship_by=ship_by,
        risk=risk,
        tags=[],
        charges=charges,
        raw=order,
    ))
