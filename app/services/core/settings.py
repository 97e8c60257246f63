"""Typed settings with defaults, read through one service; every change audited."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Setting
from app.models.base import utcnow
from app.services.core import audit
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.transaction import transactional

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SettingDef:
    key: str
    label: str
    kind: str  # bool | int | decimal | choice | text
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    # Bounds of int and decimal settings, declared with each definition: a value outside
    # them is refused when saved (ship_by_days = 2**31 once broke every import).
    minimum: int | Decimal | None = 0
    maximum: int | Decimal | None = None


DEFINITIONS: dict[str, SettingDef] = {d.key: d for d in [
    SettingDef("payment_hold", "Hold unpaid orders", "bool", True,
               "Place a 'payment' hold on orders the channel reports as not paid yet."),
    SettingDef("risk_review_threshold", "Review orders above (base currency)", "decimal",
               Decimal("5000"), "Orders whose total in the base currency exceeds this get a review hold.",
               minimum=0, maximum=Decimal("1000000000")),
    SettingDef("backorder_policy", "When stock is short", "choice", "backorder",
               "What allocation does with units no warehouse has.",
               choices=("backorder", "hold", "cancel")),
    SettingDef("allow_split", "Allow split shipments", "bool", True,
               "Ship one order from several warehouses when no single one has everything."),
    SettingDef("duplicate_window_minutes", "Duplicate window (minutes)", "int", 10,
               "Same e-mail and same lines within this window suggest a cross-channel duplicate.",
               minimum=0, maximum=7 * 24 * 60),
    SettingDef("velocity_max_orders", "Velocity limit (orders)", "int", 5,
               "More orders than this from one e-mail or one shipping address within the "
               "velocity window get a review hold.",
               minimum=1, maximum=100_000),
    SettingDef("velocity_window_hours", "Velocity window (hours)", "int", 24,
               "The window of the velocity check.",
               minimum=1, maximum=24 * 366),
    SettingDef("risk_check_amount", "Risk check: large orders", "bool", True,
               "Review orders whose total in the base currency is above the review threshold."),
    SettingDef("risk_check_country_mismatch", "Risk check: billing vs shipping country",
               "bool", True, "Review orders whose billing and shipping countries differ."),
    SettingDef("risk_check_velocity", "Risk check: velocity", "bool", True,
               "Review the orders beyond the velocity limit from one e-mail or address."),
    SettingDef("risk_check_channel_signals", "Risk check: channel's risk signals", "bool", True,
               "Review orders the channel itself flags (test orders, fraud, cancel requests...)."),
    SettingDef("risk_check_address", "Risk check: missing or unshippable address", "bool",
               True, "Hold ('address') orders without street, city or country, or to a country "
                     "no active warehouse ships to."),
    SettingDef("risk_check_exchange_rate", "Risk check: missing exchange rate", "bool", True,
               "Review orders in a currency without an exchange rate (never converted 1:1)."),
    SettingDef("ship_by_days", "Default ship-by (business days)", "int", 2,
               "Ship-by date given to orders whose channel sends none.",
               minimum=0, maximum=90),
    SettingDef("sla_cutoff_hour", "Same-day cut-off (hour, warehouse time)", "int", 14,
               "Orders placed after this hour (in the warehouse's time zone) count from the next "
               "business day for their ship-by.",
               minimum=0, maximum=23),
    SettingDef("sla_warning_hours", "SLA warning (hours before ship-by)", "int", 12,
               "Orders this close to their ship-by date are flagged.",
               minimum=0, maximum=24 * 30),
    SettingDef("alert_sync_failed_runs", "Alert: channel sync failed runs", "int", 3,
               "Raise an alert when a channel's last this many syncs all failed (0: never).",
               minimum=0, maximum=1000),
    SettingDef("alert_sync_lag_minutes", "Alert: channel sync lag (minutes)", "int", 60,
               "Raise an alert when a channel has had no successful sync for this long.",
               minimum=1, maximum=7 * 24 * 60),
    SettingDef("tracking_poll_minutes", "Tracking: poll a moving parcel every (minutes)", "int", 60,
               "How often an open shipment is asked about; a parcel whose last event is over a day "
               "old is asked 3 times less often, over 3 days 12 times less.",
               minimum=5, maximum=24 * 60),
    SettingDef("rate_shopping_seconds", "Rate shopping: wait for carriers (seconds)", "decimal", Decimal("8"),
               "Rates are asked of several carriers at once; one that has not answered within this "
               "time is left out of the choice (shown with its reason).",
               minimum=Decimal("1"), maximum=Decimal("60")),
    SettingDef("box_fill_margin_percent", "Box suggestion: spare room (percent)", "int", 15,
               "The smallest box suggested for an order has at least this much more room than its "
               "items' volume (padding, odd shapes).", minimum=0, maximum=200),
    SettingDef("delivery_exception_alert_hours", "Alert: delivery exception waiting (hours)", "int", 24,
               "Raise an alert when a delivery exception has waited this long without being resolved.",
               minimum=1, maximum=30 * 24),
    SettingDef("support_refund_limit", "Support refund limit (order currency)", "decimal",
               Decimal("100"), "Support may refund up to this much per refund; above it the refund "
               "waits for an Admin's approval (Returns → Refunds to approve).",
               minimum=0, maximum=Decimal("1000000000")),
    # --- the return policy (services/returns/policy.py) ---
    SettingDef("return_window_days", "Returns: window (days from delivery)", "int", 30,
               "A return may be opened this many days after delivery (or shipment when no delivery "
               "is known); 0: returns are not accepted.", minimum=0, maximum=3650),
    SettingDef("return_window_by_channel", "Returns: window per channel", "text", "",
               "Channel code=days, comma-separated (e.g. 'shop=14, woo=60'); other channels use the "
               "window above."),
    SettingDef("return_nonreturnable_skus", "Returns: non-returnable SKUs", "text", "",
               "SKUs never taken back, comma-separated."),
    SettingDef("return_nonreturnable_tags", "Returns: non-returnable order tags", "text", "final-sale",
               "Orders carrying one of these tags (comma-separated) are not returnable."),
    SettingDef("return_restocking_fee_percent", "Returns: restocking fee (percent)", "decimal",
               Decimal("0"), "Taken from the items' value when the reason is not our fault.",
               minimum=0, maximum=Decimal("100")),
    SettingDef("return_label_paid_by", "Returns: who pays the return label", "choice", "our_fault",
               "us: always bought at authorization; our_fault: only when a line's reason is our fault; "
               "customer: never (the customer sends it back their way).",
               choices=("us", "our_fault", "customer")),
    SettingDef("return_label_carrier", "Returns: carrier account for return labels", "text", "",
               "The carrier account code return labels are bought from (empty: the first enabled "
               "account that sells labels)."),
    SettingDef("return_auto_authorize_below", "Returns: authorize automatically below (order currency)",
               "decimal", Decimal("0"), "A return worth less than this is authorized when opened "
               "(0: every return waits for Support).", minimum=0, maximum=Decimal("1000000000")),
    SettingDef("return_expected_days", "Returns: expected back within (days)", "int", 14,
               "An authorized return not received after this long is listed as overdue.",
               minimum=1, maximum=365),
    SettingDef("channel_notify_customer", "Channels mail the buyer on shipment", "bool", True,
               "Ask the channel to send its own shipping confirmation when a fulfilment is pushed "
               "(Shopify notifyCustomer)."),
    SettingDef("woocommerce_shipment_tracking", "WooCommerce: Shipment Tracking extension", "bool",
               False, "The WooCommerce shops have the Shipment Tracking extension: pushed "
                      "fulfilments also set its tracking items."),
    SettingDef("mail_per_minute", "Customer mail: at most per minute", "int", 0,
               "Customer mails sent per minute at most, per sending process (0: no cap); "
               "over it a mail waits for the next minute.",
               minimum=0, maximum=1_000_000),
    SettingDef("alert_mail_quiet_minutes", "Alert mail: quiet period (minutes)", "int", 60,
               "An open alert seen again is mailed again only after this long.",
               minimum=1, maximum=7 * 24 * 60),
]}


def _parse(definition: SettingDef, raw: Any) -> Any:
    field = definition.key
    if definition.kind == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() in {"1", "true", "yes", "on", "y"}:
            return True
        if str(raw).strip().lower() in {"0", "false", "no", "off", "n", ""}:
            return False
        raise ValidationFailed.field(field, "must be true or false")
    if definition.kind == "int":
        low = definition.minimum if definition.minimum is not None else validation.INT_MIN
        high = definition.maximum if definition.maximum is not None else validation.INT_MAX
        return validation.integer(raw, field, minimum=low, maximum=high)
    if definition.kind == "decimal":
        value = validation.decimal(raw, field)
        if definition.minimum is not None and value < definition.minimum:
            raise ValidationFailed.field(field, f"must be at least {definition.minimum:,}")
        if definition.maximum is not None and value > definition.maximum:
            raise ValidationFailed.field(field, f"must be at most {definition.maximum:,}")
        return value
    if definition.kind == "choice":
        if raw not in definition.choices:
            raise ValidationFailed.field(field, f"must be one of {', '.join(definition.choices)}")
        return raw
    return validation.text(raw, field, max_length=500, required=False)


def _stored(definition: SettingDef, raw: Any) -> Any:
    """A stored value as its type; one saved before its bounds existed (or edited in the
    database) that no longer passes is read as the default, with a warning in the log,
    rather than failing every reader (an import must not stop over a setting)."""
    try:
        return _parse(definition, raw)
    except ValidationFailed as err:
        log.warning("setting %s: stored value %r is not valid (%s); using the default %r",
                    definition.key, raw, err.message, definition.default)
        return definition.default


def _to_json(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _definition(key: str) -> SettingDef:
    try:
        return DEFINITIONS[key]
    except KeyError:
        raise NotFound(f"Unknown setting '{key}'") from None


def get(session: Session, key: str) -> Any:
    definition = _definition(key)
    row = session.get(Setting, key)
    return definition.default if row is None else _stored(definition, row.value)


def get_many(session: Session, keys) -> dict[str, Any]:
    """Several settings in one query: {key: value}."""
    definitions = {key: _definition(key) for key in keys}
    rows = {row.key: row for row in session.scalars(
        select(Setting).where(Setting.key.in_(list(definitions))))}
    return {key: definition.default if key not in rows else _stored(definition, rows[key].value)
            for key, definition in definitions.items()}


def all_settings(session: Session) -> list[dict]:
    rows = {row.key: row for row in session.scalars(select(Setting))}
    result = []
    for key, definition in DEFINITIONS.items():
        row = rows.get(key)
        result.append({
            "key": key, "label": definition.label, "kind": definition.kind,
            "help": definition.help, "choices": definition.choices,
            "value": definition.default if row is None else _stored(definition, row.value),
            "minimum": definition.minimum, "maximum": definition.maximum,
            "default": definition.default, "is_default": row is None,
            "updated_by": row.updated_by if row else None,
            "updated_at": row.updated_at if row else None,
        })
    return result


@transactional
def set_value(session: Session, key: str, raw: Any, actor: Actor) -> Any:
    definition = _definition(key)
    value = _parse(definition, raw)
    old = get(session, key)
    if old == value:
        return value
    row = session.get(Setting, key) or Setting(key=key)
    row.value, row.updated_by, row.updated_at = _to_json(value), actor.label, utcnow()
    session.add(row)
    audit.record(session, actor, "setting", key, "update",
                 {key: {"old": _to_json(old), "new": _to_json(value)}})
    return value
