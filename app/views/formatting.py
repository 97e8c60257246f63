"""How values read on every page: money with its currency, UTC times, status badges.

Each helper returns escaped ``Markup`` (safe to print in Jinja) and is registered as a
template filter by ``register_filters``; ModelViews use the same functions as formatters.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from connectors import currencies

from markupsafe import Markup, escape

DASH = Markup('<span class="text-muted">—</span>')

# status -> bootstrap 3 label colour
STATUS_STYLES = {
    # orders
    "new": "info", "allocated": "primary", "partially_allocated": "warning",
    "backordered": "warning", "picking": "primary", "packed": "primary",
    "partially_shipped": "success", "shipped": "success", "delivered": "success",
    "cancelled": "default",
    # financial / fulfillment
    "pending": "default", "authorized": "info", "paid": "success",
    "partially_refunded": "warning", "refunded": "warning", "voided": "default",
    "unfulfilled": "default", "partial": "warning", "fulfilled": "success",
    # shipments
    "label_created": "info", "in_transit": "primary", "out_for_delivery": "primary",
    "exception": "danger", "returned": "warning", "label_uncertain": "warning", "pre_transit": "info",
    "available_for_pickup": "primary", "failed_attempt": "danger", "returned_to_sender": "warning",
    "unknown": "default",
    # returns / refunds
    "requested": "info", "received": "primary", "rejected": "danger", "closed": "default",
    "succeeded": "success", "failed": "danger",
    # sync
    "running": "info", "open": "danger", "resolved": "success", "discarded": "default",
    # allocations, pick lists
    "released": "default", "done": "success",
    # outbox
    "sending": "info", "sent": "success", "dead": "danger", "uncertain": "warning",
}
HOLD_LABELS = {
    "manual": "Manual hold", "review": "Review", "address": "Address check",
    "unknown_sku": "Unknown SKU", "duplicate": "Possible duplicate", "payment": "Awaiting payment",
    "rule": "Rule hold",
}


def humanize(value) -> str:
    return str(value).replace("_", " ")


def status_badge(status) -> Markup:
    if not status:
        return DASH
    style = STATUS_STYLES.get(str(status), "default")
    return Markup('<span class="label label-{} oms-status">{}</span>').format(
        style, humanize(status))


def hold_badge(reason) -> Markup:
    return Markup('<span class="label label-danger oms-hold" title="On hold: {}">'
                  '<i class="fa fa-pause-circle"></i> {}</span>').format(
        reason, HOLD_LABELS.get(reason, humanize(reason)))


def hold_badges(holds) -> Markup:
    """Open holds of an order, as badges (released holds are skipped)."""
    open_holds = [h for h in (holds or []) if getattr(h, "released_at", None) is None]
    if not open_holds:
        return Markup("")
    return Markup(" ").join(hold_badge(h.reason) for h in open_holds)


def money(amount, currency: str | None = None) -> Markup:
    if amount is None:
        return DASH
    amount = Decimal(str(amount))
    # the currency's own decimals (JPY none, KWD three), more only where the amount has them
    # (a unit price of 8.975 from a line of 17.95 for 2 is not shown as 8.98)
    places = currencies.minor_units(currency) if currency else 2
    places = max(places, -amount.normalize().as_tuple().exponent)
    text = f"{amount:,.{places}f}"
    if currency:
        return Markup('<span class="oms-money">{} <span class="oms-currency">{}</span></span>'
                      ).format(text, currency)
    return Markup('<span class="oms-money">{}</span>').format(text)


def utc(value, with_seconds: bool = False) -> Markup:
    """An aware datetime as '2026-11-01 12:00 UTC' (ISO value in the title)."""
    if value is None:
        return DASH
    if not isinstance(value, datetime):
        return Markup(escape(value))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")
    return Markup('<time class="oms-time" datetime="{}" title="{}">{} <small>UTC</small></time>'
                  ).format(value.isoformat(), value.isoformat(), text)


def yes_no(value) -> Markup:
    if value:
        return Markup('<i class="fa fa-check text-success" title="yes"></i>')
    return Markup('<i class="fa fa-minus text-muted" title="no"></i>')


def signed(value) -> Markup:
    if not value:
        return Markup('<span class="text-muted">0</span>')
    css = "text-success" if value > 0 else "text-danger"
    return Markup('<span class="{}">{:+d}</span>').format(css, int(value))


def address(value) -> Markup:
    """A stored address dict as lines of text."""
    if not value:
        return DASH
    parts = [value.get("name"), value.get("company"), value.get("line1"), value.get("line2"),
             " ".join(p for p in (value.get("postcode"), value.get("city")) if p),
             value.get("region"), value.get("country"), value.get("phone")]
    return Markup("<br>").join(escape(p) for p in parts if p)


def pretty_json(value) -> Markup:
    if value in (None, {}, []):
        return DASH
    text = json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    return Markup('<pre class="oms-json">{}</pre>').format(text)


def json_size(value) -> str:
    """What a collapsed JSON document holds, in words: "14 fields, 3.2 kB"."""
    if value in (None, {}, []):
        return "empty"
    size = len(json.dumps(value, default=str, ensure_ascii=False).encode())
    amount = f"{size} bytes" if size < 1000 else f"{size / 1000:.1f} kB"
    if isinstance(value, dict):
        return f"{len(value)} field{'' if len(value) == 1 else 's'}, {amount}"
    if isinstance(value, list):
        return f"{len(value)} item{'' if len(value) == 1 else 's'}, {amount}"
    return amount


def changes(value) -> Markup:
    """An audit ``changes`` dict: field: old → new."""
    if not value:
        return DASH
    if not isinstance(value, dict):
        return pretty_json(value)
    rows = []
    for field, change in value.items():
        if isinstance(change, dict) and set(change) <= {"old", "new"}:
            rows.append(Markup("<div><strong>{}</strong>: {} → {}</div>").format(
                field, _short(change.get("old")), _short(change.get("new"))))
        else:
            rows.append(Markup("<div><strong>{}</strong>: {}</div>").format(field, _short(change)))
    return Markup("").join(rows)


def _short(value) -> str:
    if value is None:
        return "∅"
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


FILTERS = {
    "oms_money": money, "oms_utc": utc, "oms_status": status_badge, "oms_hold": hold_badge,
    "oms_holds": hold_badges, "oms_yes_no": yes_no, "oms_signed": signed,
    "oms_address": address, "oms_json": pretty_json, "oms_json_size": json_size, "oms_changes": changes,
    "oms_humanize": humanize,
}


def register_filters(app) -> None:
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals.setdefault("HOLD_LABELS", HOLD_LABELS)
