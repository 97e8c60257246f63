"""Each API's JSON for a :class:`SimOrder`, shaped like the real responses in shared/fixtures."""
from __future__ import annotations

import zlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Optional

from .. import currencies
from .state import SimOrder

SHOP_TZ = timezone(timedelta(hours=-4))   # Shopify shop time zone: times carry "-04:00"
WOO_TZ = timezone(timedelta(hours=-3))    # WooCommerce site time zone: local times have no offset


def amount(value: Decimal, currency: str) -> str:
    places = currencies.minor_units(currency)
    return f"{value:.{places}f}"


def shop_time(dt: Optional[datetime]) -> Optional[str]:
    return dt.astimezone(SHOP_TZ).isoformat(timespec="seconds") if dt else None


def woo_local(dt: Optional[datetime]) -> Optional[str]:
    return dt.astimezone(WOO_TZ).replace(tzinfo=None).isoformat(timespec="seconds") if dt else None


def woo_gmt(dt: Optional[datetime]) -> Optional[str]:
    return dt.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") if dt else None


def amazon_time(dt: Optional[datetime], ms: bool = False) -> Optional[str]:
    if dt is None:
        return None
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (".000Z" if ms else "Z")


# ---------------------------------------------------------------------------------------------
# Shopify

def _money_set(value: Decimal, currency: str) -> dict:
    money = {"amount": amount(value, currency), "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def _shopify_address(o: SimOrder) -> Optional[dict]:
    a = o.address
    if a is None:
        return None
    return {
        "first_name": a["first_name"], "last_name": a["last_name"], "name": f"{a['first_name']} {a['last_name']}",
        "company": a["company"] or None, "address1": a["address1"], "address2": a["address2"],
        "city": a["city"], "province": a["region"], "province_code": a["region"], "zip": a["postcode"],
        "country": a["country"], "country_code": a["country"], "phone": a["phone"],
        "latitude": None, "longitude": None,
    }


def shopify_order(o: SimOrder) -> dict:
    c = o.currency
    refunded = o.refunded
    if o.payment == "paid":
        financial = "refunded" if refunded and refunded >= o.total else ("partially_refunded" if refunded else "paid")
    elif o.cancelled and o.payment != "paid":
        financial = "voided"
    else:
        financial = o.payment
    line_items = []
    for li in o.lines:
        line_items.append({
            "id": 13_000_000_000_000 + li.line_id,
            "admin_graphql_api_id": f"gid://shopify/LineItem/{13_000_000_000_000 + li.line_id}",
            "variant_id": 40_000_000_000 + zlib.crc32(li.sku.encode()) % 1_000_000, "product_id": 7_000_000_000 + li.line_id,
            "title": li.name, "variant_title": None, "name": li.name, "sku": li.sku, "vendor": "Waybill Sandbox",
            "quantity": li.quantity, "current_quantity": 0 if o.cancelled else li.quantity - li.cancelled,
            "fulfillable_quantity": 0 if o.cancelled else li.quantity - li.cancelled - o.shipped_units(li),
            "fulfillment_status": ("fulfilled" if o.shipped_units(li) >= li.quantity - li.cancelled
                                   else "partial" if o.shipped_units(li) else None),
            "price": amount(li.unit_price, c), "price_set": _money_set(li.unit_price, c),
            "total_discount": amount(li.discount, c), "total_discount_set": _money_set(li.discount, c),
            "discount_allocations": ([{"amount": amount(li.discount, c), "amount_set": _money_set(li.discount, c),
                                       "discount_application_index": 0}] if li.discount else []),
            "tax_lines": [{"title": "Tax", "price": amount(li.tax, c), "rate": 0.0,
                           "price_set": _money_set(li.tax, c)}] if li.tax else [],
            "requires_shipping": not li.digital, "taxable": True, "gift_card": False, "grams": 0 if li.digital else 250,
            "properties": [], "product_exists": True,
        })
    refunds = [{
        "id": 900_000_000 + r.refund_id, "order_id": int(o.external_id), "created_at": shop_time(r.created_at),
        "processed_at": shop_time(r.created_at), "note": r.reason or None, "restock": False,
        "refund_line_items": [{"line_item_id": 13_000_000_000_000 + line_id, "quantity": units}
                              for line_id, units in r.lines.items()], "order_adjustments": [],
        "transactions": [{"id": 950_000_000 + r.refund_id, "kind": "refund", "status": "success", "gateway": "bogus",
                          "amount": amount(r.amount, c), "currency": c, "created_at": shop_time(r.created_at)}],
    } for r in o.refunds]
    fulfillments = [{
        "id": 4_000_000_000 + o.seq, "order_id": int(o.external_id), "status": "success",
        "shipment_status": "in_transit", "tracking_company": "DHL Express", "tracking_number": f"JD0146000{o.seq:08d}",
        "tracking_numbers": [f"JD0146000{o.seq:08d}"], "created_at": shop_time(o.fulfilled_at),
        "updated_at": shop_time(o.fulfilled_at),
    }] if o.fulfilled and not o.fulfillments else []
    fulfillments += [shopify_rest_fulfillment(o, f) for f in o.fulfillments]
    shipping_lines = [] if o.address is None else [{
        "id": 3_000_000_000 + o.seq, "title": o.shipping_method, "code": o.shipping_method, "source": "shopify",
        "price": amount(o.shipping, c), "price_set": _money_set(o.shipping, c), "discounted_price": amount(o.shipping, c),
    }]
    total = o.total
    current_total = total - refunded if o.payment == "paid" else total
    return {
        "id": int(o.external_id),
        "admin_graphql_api_id": f"gid://shopify/Order/{o.external_id}",
        "name": o.number, "order_number": int(o.number.lstrip("#")), "number": o.seq,
        "email": o.email, "contact_email": o.email or None, "phone": None,
        "created_at": shop_time(o.created_at), "processed_at": shop_time(o.created_at),
        "updated_at": shop_time(o.updated_at),
        "closed_at": shop_time(o.fulfilled_at) if o.fulfilled else None,
        "cancelled_at": shop_time(o.cancelled_at), "cancel_reason": o.cancel_reason if o.cancelled else None,
        "financial_status": financial,
        "fulfillment_status": "fulfilled" if o.fulfilled else ("partial" if o.partially_shipped else None),
        "confirmed": True, "test": False, "taxes_included": False, "source_name": "web",
        "currency": c, "presentment_currency": c,
        "total_line_items_price": amount(o.subtotal, c), "total_line_items_price_set": _money_set(o.subtotal, c),
        "subtotal_price": amount(o.subtotal - o.discount, c), "subtotal_price_set": _money_set(o.subtotal - o.discount, c),
        "total_discounts": amount(o.discount, c), "total_discounts_set": _money_set(o.discount, c),
        "total_tax": amount(o.tax, c), "total_tax_set": _money_set(o.tax, c),
        "total_shipping_price_set": _money_set(o.shipping, c),
        "total_price": "N/A" if o.corrupt else amount(total, c), "total_price_set": _money_set(total, c),
        "current_total_price": amount(current_total, c),
        "total_outstanding": amount(total if o.payment != "paid" else Decimal(0), c),
        "discount_codes": [{"code": "SANDBOX10", "amount": amount(o.discount, c), "type": "percentage"}] if o.discount else [],
        "tags": ", ".join(o.tags),
        "note": None,
        "customer": {
            "id": 6_000_000_000 + o.seq, "email": o.email or None, "first_name": o.first_name,
            "last_name": o.last_name, "phone": None, "currency": c,
        },
        "billing_address": _shopify_address(o) or {
            "first_name": o.first_name, "last_name": o.last_name, "name": f"{o.first_name} {o.last_name}",
            "address1": None, "address2": None, "city": None, "province": None, "province_code": None,
            "zip": None, "country": o.country, "country_code": o.country, "company": None, "phone": None,
        },
        "shipping_address": _shopify_address(o),
        "line_items": line_items,
        "shipping_lines": shipping_lines,
        "refunds": refunds,
        "fulfillments": fulfillments,
    }


def shopify_rest_fulfillment(o: SimOrder, f: dict) -> dict:
    """A fulfilment a seller created (writes.py) as REST shows it."""
    return {"id": f["id"], "order_id": int(o.external_id), "status": f["status"],
            "shipment_status": None, "tracking_company": f["company"], "tracking_number": f["number"],
            "tracking_numbers": [f["number"]] if f["number"] else [],
            "tracking_urls": [f["url"]] if f["url"] else [], "created_at": f["created_at"],
            "updated_at": f["created_at"],
            "line_items": [{"id": 13_000_000_000_000 + line_id, "quantity": units}
                           for line_id, units in f["lines"].items()]}


# ---------------------------------------------------------------------------------------------
# WooCommerce

def _woo_name(name: str) -> str:
    # WordPress stores titles texturized: dashes and ampersands come back as HTML entities
    return name.replace("&", "&amp;").replace("–", "&ndash;").replace("“", "&#8220;").replace("”", "&#8221;")


def woo_status(o: SimOrder) -> str:
    if o.cancelled:
        return "cancelled"
    if o.status_override:
        return o.status_override
    if o.payment == "paid" and o.refunded and o.refunded >= o.total:
        return "refunded"
    if o.fulfilled:
        return "completed"
    if o.payment == "paid":
        return "processing"
    return "on-hold" if o.seq % 2 else "pending"


def woo_order(o: SimOrder, base_url: str) -> dict:
    c = o.currency
    a = o.address
    billing_src = a or {"first_name": o.first_name, "last_name": o.last_name, "company": "", "address1": "",
                        "address2": "", "city": "", "region": "", "postcode": "", "country": o.country,
                        "phone": o.phone}
    shipping = {"first_name": "", "last_name": "", "company": "", "address_1": "", "address_2": "", "city": "",
                "state": "", "postcode": "", "country": "", "phone": ""}
    if a is not None:
        shipping = {"first_name": a["first_name"], "last_name": a["last_name"], "company": a["company"],
                    "address_1": a["address1"], "address_2": a["address2"], "city": a["city"], "state": a["region"],
                    "postcode": a["postcode"], "country": a["country"], "phone": a["phone"]}
    line_items = []
    for li in o.lines:
        total = li.subtotal - li.discount
        line_items.append({
            "id": 500 + li.line_id, "name": _woo_name(li.name), "product_id": 90 + li.line_id % 50,
            "variation_id": 0, "quantity": li.quantity, "tax_class": "",
            "subtotal": amount(li.subtotal, c), "subtotal_tax": amount(li.tax, c),
            "total": amount(total, c), "total_tax": amount(li.tax, c),
            "taxes": [{"id": 75, "total": amount(li.tax, c), "subtotal": amount(li.tax, c)}] if li.tax else [],
            "meta_data": [], "sku": li.sku,
            "price": float(total / li.quantity) if li.quantity else 0,  # a JSON number, as WooCommerce sends it
        })
    status = woo_status(o)
    paid_at = o.paid_at if o.payment == "paid" else None
    return {
        "id": int(o.external_id), "parent_id": 0, "number": o.number, "order_key": f"wc_order_{o.seq:013x}",
        "created_via": "checkout", "version": "8.9.1", "status": status, "currency": c,
        "date_created": woo_local(o.created_at), "date_created_gmt": woo_gmt(o.created_at),
        "date_modified": woo_local(o.updated_at), "date_modified_gmt": woo_gmt(o.updated_at),
        "discount_total": amount(o.discount, c), "discount_tax": amount(Decimal(0), c),
        "shipping_total": amount(o.shipping, c), "shipping_tax": amount(Decimal(0), c),
        "cart_tax": amount(o.tax, c), "total": "N/A" if o.corrupt else amount(o.total, c),
        "total_tax": amount(o.tax, c),
        "prices_include_tax": False, "customer_id": 0 if o.seq % 3 else 20 + o.seq,
        "customer_ip_address": "203.0.113.7", "customer_user_agent": "Mozilla/5.0", "customer_note": "",
        "billing": {"first_name": billing_src["first_name"], "last_name": billing_src["last_name"],
                    "company": billing_src["company"], "address_1": billing_src["address1"],
                    "address_2": billing_src["address2"], "city": billing_src["city"], "state": billing_src["region"],
                    "postcode": billing_src["postcode"], "country": billing_src["country"], "email": o.email,
                    "phone": billing_src["phone"]},
        "shipping": shipping,
        "payment_method": "bacs" if o.payment == "pending" else "stripe",
        "payment_method_title": "Direct bank transfer" if o.payment == "pending" else "Credit card",
        "transaction_id": f"ch_{o.seq:010d}" if o.payment == "paid" else "",
        "date_paid": woo_local(paid_at), "date_paid_gmt": woo_gmt(paid_at),
        "date_completed": woo_local(o.fulfilled_at), "date_completed_gmt": woo_gmt(o.fulfilled_at),
        "cart_hash": "", "meta_data": list(o.meta),
        "line_items": line_items,
        "tax_lines": [{"id": 700 + o.seq, "rate_code": f"{o.country}-TAX-1", "rate_id": 75, "label": "Tax",
                       "compound": False, "tax_total": amount(o.tax, c), "shipping_tax_total": amount(Decimal(0), c),
                       "meta_data": []}] if o.tax else [],
        "shipping_lines": [] if a is None else [{"id": 800 + o.seq, "method_title": o.shipping_method,
                                                  "method_id": "flat_rate", "total": amount(o.shipping, c),
                                                  "total_tax": amount(Decimal(0), c), "taxes": [], "meta_data": []}],
        "fee_lines": [],
        "coupon_lines": [{"id": 900 + o.seq, "code": "sandbox10", "discount": amount(o.discount, c),
                          "discount_tax": amount(Decimal(0), c), "meta_data": []}] if o.discount else [],
        "refunds": [{"id": r.refund_id, "reason": r.reason, "total": "-" + amount(r.amount, c)} for r in o.refunds],
        "_links": {"self": [{"href": f"{base_url}/orders/{o.external_id}"}],
                   "collection": [{"href": f"{base_url}/orders"}]},
    }


def woo_refunds(o: SimOrder) -> list[dict]:
    return [{"id": r.refund_id, "date_created": woo_local(r.created_at), "date_created_gmt": woo_gmt(r.created_at),
             "amount": amount(r.amount, o.currency), "reason": r.reason, "refunded_by": 1,
             "refunded_payment": True, "meta_data": [], "line_items": []} for r in o.refunds]


# ---------------------------------------------------------------------------------------------
# Amazon SP-API Orders v0

def amazon_status(o: SimOrder) -> str:
    if o.cancelled:
        return "Canceled"
    if o.payment != "paid":
        return "Pending"
    if o.partially_shipped:
        return "PartiallyShipped"
    return "Shipped" if o.fulfilled else "Unshipped"


def _amz_money(value: Decimal, currency: str) -> dict:
    return {"CurrencyCode": currency, "Amount": amount(value, currency)}


def amazon_order(o: SimOrder, restricted: bool = False) -> dict:
    """A v0 order. Its buyer and the personal parts of its address only with ``restricted``
    (a Restricted Data Token naming buyerInfo / shippingAddress); without, Amazon still gives
    the address's city, region, postcode and country."""
    status = amazon_status(o)
    units = sum(li.quantity for li in o.lines)
    shipped = sum(o.shipped_units(li) for li in o.lines)
    body: dict[str, Any] = {
        "AmazonOrderId": o.external_id,
        "PurchaseDate": "yesterday" if o.corrupt else amazon_time(o.created_at),
        "LastUpdateDate": amazon_time(o.updated_at, ms=o.seq % 2 == 0),
        "OrderStatus": status,
        "FulfillmentChannel": "AFN" if o.fba else "MFN",
        "SalesChannel": o.sales_channel,
        "ShipServiceLevel": f"{o.shipping_method or 'Std'} {o.country}",
        "ShipmentServiceLevelCategory": o.shipping_method or "Standard",
        "NumberOfItemsShipped": 0 if o.cancelled else shipped,
        "NumberOfItemsUnshipped": 0 if o.cancelled else units - shipped,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": o.marketplace_id,
        "OrderType": "StandardOrder",
        "EarliestShipDate": amazon_time(o.created_at + timedelta(hours=2)),
        "LatestShipDate": amazon_time(o.created_at + timedelta(days=2)),
        "IsBusinessOrder": o.seq % 11 == 0,
        "IsPrime": o.prime,
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
    }
    if status not in ("Pending", "Canceled"):
        body["OrderTotal"] = _amz_money(o.total, o.currency)
        if o.address is not None:
            address = amazon_address(o)
            if not restricted:
                address = {k: v for k, v in address.items() if k in _V0_PUBLIC_ADDRESS}
            body["ShippingAddress"] = address
        if restricted:
            body["BuyerInfo"] = amazon_buyer_info(o)
    return body


_V0_PUBLIC_ADDRESS = ("City", "StateOrRegion", "PostalCode", "CountryCode")


def amazon_address(o: SimOrder) -> dict:
    """v0 ShippingAddress (restricted: getOrderAddress and RDTs)."""
    a = o.address or {}
    if not a:
        return {}
    return {
        "Name": f"{a['first_name']} {a['last_name']}", "AddressLine1": a["address1"],
        **({"AddressLine2": a["address2"]} if a["address2"] else {}),
        "City": a["city"], "StateOrRegion": a["region"], "PostalCode": a["postcode"],
        "CountryCode": a["country"], "Phone": a["phone"], "AddressType": "Residential",
    }


def amazon_buyer_info(o: SimOrder) -> dict:
    """v0 BuyerInfo (restricted: getOrderBuyerInfo and RDTs)."""
    buyer: dict[str, Any] = {"BuyerName": f"{o.first_name} {o.last_name}"}
    if o.email and not o.fba:  # the anonymised e-mail is for merchant-fulfilled orders only
        buyer["BuyerEmail"] = o.email
    return buyer


def amazon_items(o: SimOrder) -> list[dict]:
    c = o.currency
    status = amazon_status(o)
    items = []
    for index, li in enumerate(o.lines):
        item: dict[str, Any] = {
            "ASIN": f"B0{zlib.crc32(li.sku.encode()) % 10**8:08d}",
            "OrderItemId": f"{60_000_000_000_000 + li.line_id}",
            "SellerSKU": li.sku,
            "Title": li.name,
            "QuantityOrdered": li.quantity,
            "QuantityShipped": o.shipped_units(li),
            "ProductInfo": {"NumberOfItems": "1"},
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": False,
            "BuyerRequestedCancel": {"IsBuyerRequestedCancel": "true" if o.cancelled else "false",
                                     "BuyerCancelReason": (o.cancel_reason or "") if o.cancelled else ""},
        }
        if status != "Pending" and not o.cancelled:
            # ItemPrice is the line total (unit price x quantity)
            item["ItemPrice"] = _amz_money(li.subtotal, c)
            item["ItemTax"] = _amz_money(li.tax, c)
            item["PromotionDiscount"] = _amz_money(li.discount, c)
            item["ShippingPrice"] = _amz_money(o.shipping if index == 0 else Decimal(0), c)
            item["ShippingTax"] = _amz_money(Decimal(0), c)
            item["ShippingDiscount"] = _amz_money(Decimal(0), c)
            if li.discount:
                item["PromotionIds"] = ["SANDBOX10"]
        items.append(item)
    return items


# ---------------------------------------------------------------------------------------------
# Amazon SP-API Orders 2026-01-01

AMAZON_2026_STATUS = {"Canceled": "CANCELLED", "Pending": "PENDING", "Shipped": "SHIPPED", "Unshipped": "UNSHIPPED",
                      "PartiallyShipped": "PARTIALLY_SHIPPED"}


def _money_2026(value: Decimal, currency: str) -> dict:
    return {"amount": amount(value, currency), "currencyCode": currency}


def amazon_order_2026(o: SimOrder, included: set, pii_role: bool) -> dict:
    """A 2026-01-01 order with the blocks ``includedData`` asked for; buyer and recipient only
    when asked for and the application has the restricted role."""
    c = o.currency
    status = AMAZON_2026_STATUS[amazon_status(o)]
    priced = status not in ("PENDING", "CANCELLED")
    body: dict[str, Any] = {
        "orderId": o.external_id,
        "createdTime": "yesterday" if o.corrupt else amazon_time(o.created_at),
        "lastUpdatedTime": amazon_time(o.updated_at),
        "programs": ["PRIME"] if o.prime else [],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": o.marketplace_id,
                         "marketplaceName": o.sales_channel},
    }
    # no buyer or address before the order is ready (PENDING) or once it is CANCELLED
    addressable = status not in ("PENDING", "CANCELLED")
    pii = pii_role and addressable
    if "BUYER" in included and pii:
        buyer: dict[str, Any] = {"buyerName": f"{o.first_name} {o.last_name}"}
        if o.email and not o.fba:  # no e-mail for FBA orders
            buyer["buyerEmail"] = o.email
        body["buyer"] = buyer
    if "RECIPIENT" in included and o.address is not None and addressable:
        # without the role only what is not personal: city, region, postcode, country
        address = {"city": o.address["city"], "stateOrRegion": o.address["region"],
                   "postalCode": o.address["postcode"], "countryCode": o.address["country"]}
        if pii:
            a = o.address
            address.update(name=f"{a['first_name']} {a['last_name']}", addressLine1=a["address1"],
                           **({"addressLine2": a["address2"]} if a["address2"] else {}),
                           **({"phone": a["phone"]} if not o.fba else {}), addressType="RESIDENTIAL")
        body["recipient"] = {"deliveryAddress": address}
    if "PROCEEDS" in included and priced:
        breakdowns = [{"type": "ITEM", "subtotal": _money_2026(o.subtotal, c)},
                      {"type": "SHIPPING", "subtotal": _money_2026(o.shipping, c)},
                      {"type": "TAX", "subtotal": _money_2026(o.tax, c)}]
        if o.discount:
            breakdowns.append({"type": "DISCOUNT", "subtotal": _money_2026(-o.discount, c)})
        body["proceeds"] = {"grandTotal": _money_2026(o.total, c), "breakdowns": breakdowns}
    if "FULFILLMENT" in included:
        body["fulfillment"] = {
            "fulfillmentStatus": status, "fulfilledBy": "AMAZON" if o.fba else "MERCHANT",
            "fulfillmentServiceLevel": (o.shipping_method or "Standard").upper(),
            "shipByWindow": {"earliestDateTime": amazon_time(o.created_at + timedelta(hours=2)),
                             "latestDateTime": amazon_time(o.created_at + timedelta(days=2))},
        }
    items = []
    for li in o.lines:
        item: dict[str, Any] = {
            "orderItemId": f"{60_000_000_000_000 + li.line_id}",
            "quantityOrdered": li.quantity,
            "product": {"asin": f"B0{zlib.crc32(li.sku.encode()) % 10**8:08d}", "title": li.name,
                        "sellerSku": li.sku,
                        **({"price": {"unitPrice": _money_2026(li.unit_price, c)}} if priced else {})},
        }
        if "PROCEEDS" in included and priced:
            parts = [{"type": "ITEM", "subtotal": _money_2026(li.subtotal, c)},
                     {"type": "TAX", "subtotal": _money_2026(li.tax, c)}]
            if li.discount:
                parts.append({"type": "DISCOUNT", "subtotal": _money_2026(-li.discount, c)})
            item["proceeds"] = {"proceedsTotal": _money_2026(li.subtotal - li.discount + li.tax, c),
                                "breakdowns": parts}
        if "CANCELLATION" in included and o.cancelled:
            item["cancellation"] = {"cancellationExecution": {"cancelledBy": "MERCHANT",
                                                              "cancelReason": o.cancel_reason or ""}}
        if "FULFILLMENT" in included:
            shipped = o.shipped_units(li)
            item["fulfillment"] = {"quantityFulfilled": shipped,
                                   "quantityUnfulfilled": 0 if o.cancelled else li.quantity - shipped}
        items.append(item)
    body["orderItems"] = items
    if "PACKAGES" in included and o.fulfillments:
        body["packages"] = [{"packageReferenceId": f["reference"], "carrier": f["company"],
                             "trackingNumber": f["number"], "shipTime": f["created_at"],
                             "packageStatus": {"status": "SHIPPED"},
                             "packageItems": [{"orderItemId": f"{60_000_000_000_000 + line_id}",
                                               "quantity": units} for line_id, units in f["lines"].items()]}
                            for f in o.fulfillments]
    elif "PACKAGES" in included and o.fulfilled and not o.fba:
        body["packages"] = [{"packageReferenceId": f"PKG-{o.seq}", "carrier": "DHL",
                             "trackingNumber": f"JD0146000{o.seq:08d}",
                             "shipTime": amazon_time(o.fulfilled_at),
                             "packageStatus": {"status": "SHIPPED"},
                             "packageItems": [{"orderItemId": f"{60_000_000_000_000 + li.line_id}",
                                               "quantity": li.quantity} for li in o.lines]}]
    return body
