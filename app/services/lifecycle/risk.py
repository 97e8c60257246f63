"""Risk review: the built-in checks run once on every new order, and the review queue.

Each check is a setting (services/core/settings.py, all on by default):

- ``risk_check_amount``: ``total_base`` above ``risk_review_threshold`` -> review hold;
- ``risk_check_country_mismatch``: billing and shipping countries differ -> review;
- ``risk_check_velocity``: more than ``velocity_max_orders`` orders from one e-mail or one
  shipping address within ``velocity_window_hours`` -> review;
- ``risk_check_channel_signals``: the channel itself flags the order (a test order,
  fraud, the buyer asked to cancel, cash on delivery) -> review;
- ``risk_check_address``: no street, city or country, or a country no active warehouse
  ships to -> ``address`` hold;
- ``risk_check_exchange_rate``: a total in a currency without an exchange rate (so no
  ``total_base``) -> review, with the note "no exchange rate for XXX": never a 1:1 guess.

A check that fires writes a ``risk_check`` event and its why into the hold's note; the
order's ``risk_score`` (0-100) adds up the weights of what fired. The review queue lists
the orders with an open review hold; approving releases that hold (the pipeline goes on),
rejecting cancels the order with a reason (its reservations are released).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, selectinload

from app.models import Order, OrderHold, Warehouse
from app.services.core import events
from app.services.orders import actions as orders
from app.services.orders import addresses
from app.services.lifecycle import rules
from app.services.core import settings
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.bulk import BulkResult, apply_each
from app.services.core.errors import InvalidTransition, ValidationFailed
from app.services.core.transaction import transactional

log = logging.getLogger(__name__)

REVIEW, ADDRESS = "review", "address"
WEIGHTS = {"amount": 40, "country_mismatch": 20, "velocity": 30, "channel_signals": 40,
           "address": 10, "exchange_rate": 10}
LABELS = {"amount": "large order", "country_mismatch": "billing vs shipping country",
          "velocity": "velocity", "channel_signals": "channel's risk signals",
          "address": "address", "exchange_rate": "exchange rate"}
# Signals channels send that describe an order rather than a risk.
INFORMATIONAL_SIGNALS = frozenset({"is_prime", "is_business_order", "is_replacement_order",
                                   "is_premium_order"})
SIGNAL_LABELS = {"test": "test order", "cancel_reason": "cancel reason",
                 "buyer_requested_cancel": "buyer asked to cancel",
                 "payment_method": "payment method"}
MAX_BULK = 500


@dataclass
class Finding:
    check: str
    hold: str  # the hold reason it leads to
    why: str

    @property
    def weight(self) -> int:
        return WEIGHTS[self.check]


# --- the checks ---------------------------------------------------------------------------

def channel_signals(order: Order) -> dict:
    """The channel's own risk signals: stored at import (``order.risk_signals``), or, for
    orders imported before they were stored, derived again from the raw payload."""
    if order.risk_signals is not None:
        return dict(order.risk_signals)
    raw, kind = order.raw_payload, order.channel.kind if order.channel else None
    if not isinstance(raw, dict) or kind is None:
        return {}
    try:
        if kind == "amazon":
            from connectors.amazon import normalize_order

            normalized = normalize_order(raw["order"], raw.get("items") or [])
        else:
            from connectors.registry import normalizer_for

            normalized = normalizer_for(kind)(raw)
    except Exception:  # noqa: BLE001 — not a payload of that channel (manual, CSV, tests)
        return {}
    return dict(normalized.risk or {})


def risky_signals(signals: dict) -> dict:
    return {key: value for key, value in (signals or {}).items()
            if key not in INFORMATIONAL_SIGNALS and value not in (None, False, "", 0)
            and str(value).lower() not in ("low", "none", "accept")}


def _describe_signals(signals: dict) -> str:
    parts = []
    for key, value in signals.items():
        label = SIGNAL_LABELS.get(key, key.replace("_", " "))
        parts.append(label if value is True else f"{label}: {value}")
    return ", ".join(parts)


def _velocity(session: Session, order: Order, limit: int, hours: int) -> list[str]:
    if order.placed_at is None:
        return []
    since = order.placed_at - timedelta(hours=hours)
    window = (Order.placed_at >= since, Order.placed_at <= order.placed_at)
    found = []
    if order.email:
        count = session.scalar(select(func.count(Order.id)).where(
            func.lower(Order.email) == order.email.lower(), *window))
        if count > limit:
            found.append(f"{count} orders from {order.email} within {hours} h "
                         f"(limit {limit})")
    if order.ship_address_key:
        count = session.scalar(select(func.count(Order.id)).where(
            Order.ship_address_key == order.ship_address_key, *window))
        if count > limit:
            found.append(f"{count} orders to this shipping address within {hours} h "
                         f"(limit {limit})")
    return found


def _address_problem(order: Order, warehouses: list[tuple]) -> str | None:
    address = order.shipping_address or {}
    missing = [label for key, label in (("line1", "street"), ("city", "city"),
                                        ("country", "country")) if not address.get(key)]
    if missing:
        return "the shipping address has no " + ", ".join(missing)
    country = (order.ship_country or address.get("country") or "").upper()
    # No active warehouse at all is a set-up still in progress, not an address problem.
    if warehouses and not any(not ships_to or country in ships_to
                              for _code, ships_to in warehouses):
        return f"no active warehouse ships to {country}"
    return None


def load_context(session: Session) -> dict:
    """What the checks read besides the order (settings, active warehouses): read once for
    a batch of orders (pipeline.process_many), not once per order."""
    conf = settings.get_many(session, [*(f"risk_check_{key}" for key in WEIGHTS),
                                       "risk_review_threshold", "velocity_max_orders",
                                       "velocity_window_hours"])
    warehouses = session.execute(
        select(Warehouse.code, Warehouse.ships_to).where(Warehouse.active.is_(True))).all()
    return {"conf": conf, "warehouses": [tuple(w) for w in warehouses]}


def findings(session: Session, order: Order, context: dict | None = None) -> list[Finding]:
    """What the enabled checks find on an order (reads only)."""
    context = context or load_context(session)
    conf = context["conf"]
    enabled = {key: conf[f"risk_check_{key}"] for key in WEIGHTS}
    found: list[Finding] = []
    if enabled["exchange_rate"] and order.total is not None and order.total_base is None:
        found.append(Finding("exchange_rate", REVIEW,
                             f"no exchange rate for {order.currency}"))
    if enabled["amount"] and order.total_base is not None:
        threshold = conf["risk_review_threshold"]
        if order.total_base > threshold:
            found.append(Finding("amount", REVIEW,
                                 f"total {order.total_base:,.2f} in the base currency is above "
                                 f"the review threshold {threshold:,.2f}"))
    if enabled["country_mismatch"]:
        billing = (order.billing_address or {}).get("country")
        shipping = order.ship_country or (order.shipping_address or {}).get("country")
        if billing and shipping and billing.upper() != shipping.upper():
            found.append(Finding("country_mismatch", REVIEW,
                                 f"billing country {billing} differs from shipping country "
                                 f"{shipping}"))
    if enabled["velocity"]:
        for why in _velocity(session, order, conf["velocity_max_orders"],
                             conf["velocity_window_hours"]):
            found.append(Finding("velocity", REVIEW, why))
    if enabled["channel_signals"]:
        signals = risky_signals(channel_signals(order))
        if signals:
            found.append(Finding("channel_signals", REVIEW,
                                 "the channel flags it: " + _describe_signals(signals)))
    if enabled["address"]:
        problem = _address_problem(order, context["warehouses"])
        if problem:
            found.append(Finding("address", ADDRESS, problem))
    return found


def check(session: Session, order: Order, actor: Actor,
          context: dict | None = None) -> list[Finding]:
    """Run the checks on an order, hold it for what they find (one hold per reason, every
    why in its note), one ``risk_check`` event per finding, and set its risk score.
    No commit (the pipeline's transaction)."""
    addresses.refresh_address_key(order)
    found = findings(session, order, context)
    order.risk_score = min(100, sum({f.check: f.weight for f in found}.values()))
    for finding in found:
        events.order_event(
            session, order, actor, "risk_check",
            f"Risk check ({LABELS[finding.check]}): {finding.why}",
            {"check": finding.check, "hold": finding.hold, "why": finding.why,
             "weight": finding.weight})
    if order.status in orders.HOLDABLE_STATUSES:
        for reason in (REVIEW, ADDRESS):
            whys = [f.why for f in found if f.hold == reason]
            if whys:
                rules.hold(session, order, reason, "; ".join(whys), actor)
    return found


# --- the review queue ---------------------------------------------------------------------

def _open_review():
    return exists().where(OrderHold.order_id == Order.id, OrderHold.reason == REVIEW,
                          OrderHold.released_at.is_(None))


@dataclass
class ReviewPage:
    rows: list[Order]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def review_queue(session: Session, page: int = 0, page_size: int = 50) -> ReviewPage:
    """Orders with an open review hold, oldest first (they have waited longest)."""
    page, page_size = max(0, int(page)), max(1, min(int(page_size), 200))
    total = session.scalar(select(func.count(Order.id)).where(_open_review()))
    rows = list(session.scalars(
        select(Order).where(_open_review())
        .order_by(Order.placed_at, Order.id).offset(page * page_size).limit(page_size)
        .options(selectinload(Order.holds), selectinload(Order.channel))))
    return ReviewPage(rows, total, page, page_size)


def _review_holds(order: Order) -> list[OrderHold]:
    holds = [h for h in order.open_holds if h.reason == REVIEW]
    if not holds:
        raise InvalidTransition(f"Order {order.order_number} is not waiting for review")
    return holds


@transactional
def approve_review(session: Session, order_id, actor: Actor, note: str | None = None) -> Order:
    """Release the order's review hold; with no other hold left, the pipeline continues
    (allocation)."""
    order = orders.get_order(session, _id(order_id), for_update=True)
    _review_holds(order)
    note = validation.text(note, "note", max_length=2000, required=False)
    events.order_event(session, order, actor, "review_approved",
                       "Review approved" + (f": {note}" if note else ""), {"note": note})
    orders.release_hold(session, order.id, actor, reason=REVIEW,
                        note=note or "approved in review")
    return order


@transactional
def reject_review(session: Session, order_id, reason: str, actor: Actor) -> Order:
    """Cancel an order under review, with a reason; its reservations are released."""
    reason = validation.text(reason, "reason", max_length=500)
    order = orders.get_order(session, _id(order_id), for_update=True)
    _review_holds(order)
    events.order_event(session, order, actor, "review_rejected", f"Review rejected: {reason}",
                       {"reason": reason})
    orders.cancel_in_tx(session, order, f"rejected in review: {reason}", actor)
    orders.mark_local_edit(order, "status", "cancelled", actor)
    return order


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed.field("order_id", f"{value!r} is not an order id") from None


def review_bulk(session: Session, action: str, order_ids, actor: Actor,
                text: str | None = None) -> BulkResult:
    """Approve or reject many orders, each in its own transaction: one that cannot be done
    is reported with why and does not stop the others."""
    if action not in ("approve", "reject"):
        raise ValidationFailed.field("action", "must be approve or reject")
    ids = list(dict.fromkeys(_id(value) for value in order_ids or ()))
    if not ids:
        raise ValidationFailed.field("ids", "select at least one order")
    if len(ids) > MAX_BULK:
        raise ValidationFailed.field("ids", f"at most {MAX_BULK} orders at once")
    if action == "reject":
        text = validation.text(text, "reason", max_length=500)
    numbers = dict(session.execute(select(Order.id, Order.order_number)
                                   .where(Order.id.in_(ids))).all())

    def review(order_id: int) -> None:
        if action == "approve":
            approve_review(session, order_id, actor, text)
        else:
            reject_review(session, order_id, text, actor)

    return apply_each(session, BulkResult(action), ids, review,
                      label=lambda order_id: numbers.get(order_id, f"#{order_id}"))
