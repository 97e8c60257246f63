"""What Waybill writes back to a channel (DESIGN.md "Channel write-back"): the requests the
connectors' ``push_fulfillment``, ``push_tracking``, ``cancel_fulfillment``, ``cancel_order``
and ``create_refund`` take, and what they answer. Called only by outbox handlers
(app/services/channels/writeback), which pass our idempotency key (``key``) along: each
connector sends it where the channel keeps it (Shopify ``@idempotent`` and the refund note,
a WooCommerce note or refund reason, Amazon's ``packageReferenceId`` and
``MerchantAdjustmentItemID``) and its ``find_*`` methods look for it before a second create.

``ChannelRefused``: the channel said no to this write (a GraphQL ``userError``, a 4xx with a
reason, an error in a feed's processing report) — sending it again cannot help. Connectors
check what they can first (more units than are left to fulfil, a closed fulfillment order,
more money than is left to refund) and refuse without calling.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Optional

from .errors import ChannelError


class ChannelRefused(ChannelError):
    """The channel (or our check of what it would say) refused the write."""


@dataclass
class WriteLine:
    external_id: str  # the channel's line id
    quantity: int
    sku: Optional[str] = None


@dataclass
class FulfillmentPush:
    order_external_id: str
    lines: list[WriteLine]
    shipped_at: datetime
    carrier: Optional[str] = None  # our carrier code (ups, dhl, ...) or a name typed by hand
    service: Optional[str] = None
    tracking_number: Optional[str] = None
    tracking_url: Optional[str] = None
    notify_customer: bool = False
    complete: bool = False  # everything of the order has now shipped (WooCommerce: completed)
    tracking_meta: bool = False  # WooCommerce: the Shipment Tracking extension is installed
    known_ids: tuple = ()  # remote ids of fulfilments pushed for other shipments (not ours)


@dataclass
class CancelPush:
    order_external_id: str
    reason: str
    line_ids: list[str] = field(default_factory=list)  # Amazon: every item is cancelled
    refund: bool = True  # Shopify: refund the payment
    restock: bool = True  # Shopify: put the units back in the channel's stock
    notify_customer: bool = False


@dataclass
class RefundPush:
    order_external_id: str
    amount: Decimal
    currency: str
    reason: str = ""
    lines: list[WriteLine] = field(default_factory=list)
    shipping: Decimal = Decimal("0")


@dataclass
class WriteResult:
    """``state``: ``done`` (the channel has it), ``pending`` (accepted, not confirmed yet:
    an Amazon feed before its processing report) or ``failed`` (``note`` says why)."""

    remote_id: Optional[str]
    state: str = "done"
    note: Optional[str] = None


CARRIER_NAMES = {"ups": "UPS", "fedex": "FedEx", "usps": "USPS", "dhl": "DHL", "easypost": "EasyPost"}


def carrier_name(code: Optional[str]) -> str:
    """A carrier as channels name it (``ups`` -> ``UPS``); a name typed by hand stays."""
    if not code:
        return "Other"
    return CARRIER_NAMES.get(code.lower(), code)


def with_key(text: str, key: str) -> str:
    """A note or reason that carries our key, so that a later attempt can find it."""
    return f"{text} [{key}]" if text else f"[{key}]"
