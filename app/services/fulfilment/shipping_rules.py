"""Rate shopping (DESIGN.md "Carriers"): which carrier account and service a shipment gets.

1. The shipment's facts: the service level its channel shipping method maps to (and the days
   the channel promised), destination, weight, value, warehouse.
2. The first enabled rule by priority whose conditions all hold (none: the fallback, cheapest
   among every carrier the warehouse may use).
3. Rates from the rule's carriers (only those the warehouse may use), asked in parallel with a
   time limit; a carrier that fails or is slow is left out with its reason.
4. Among the rates that arrive by the promise (none does: all of them, said so), the cheapest
   or the fastest. A rule whose carriers answered nothing falls back to every allowed carrier.
The decision ("why this carrier") is kept on the shipment: the rule, the facts, every rate
considered, the carriers left out and why, the one chosen.
"""
from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.carriers.base import CarrierError, Rate, ShipmentRequest

from app.models import CarrierAccount, Order, ShippingMethodMap, ShippingRule, WarehouseCarrier
from app.models.shipping import RULE_STRATEGIES, SERVICE_LEVELS
from app.services.core import audit, settings, validation
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.inventory import reference
from app.services.fulfilment import carriers

FALLBACK = "fallback: cheapest of every carrier the warehouse may use"
RULE_FIELDS = ("name", "priority", "enabled", "service_level", "countries", "min_weight_kg", "max_weight_kg",
               "min_value", "max_value", "carriers", "services", "strategy", "use_promise")


@dataclass(frozen=True)
class Facts:
    service_level: Optional[str]
    promise_days: Optional[int]
    country: str
    domestic: bool
    weight_kg: Decimal
    value: Decimal
    warehouse_id: int

    def as_dict(self) -> dict:
        return {"service_level": self.service_level, "promise_days": self.promise_days, "country": self.country,
                "domestic": self.domestic, "weight_kg": str(self.weight_kg), "value": str(self.value),
                "warehouse_id": self.warehouse_id}


@dataclass
class Decision:
    account: str
    rate: Rate
    record: dict = field(default_factory=dict)


# --- facts and rules -----------------------------------------------------------------------------

def method_map(session: Session, order: Order) -> Optional[ShippingMethodMap]:
    """The mapping of the order's shipping method: its channel's own first, else one for any channel."""
    if not order.shipping_method:
        return None
    rows = session.scalars(select(ShippingMethodMap).where(
        ShippingMethodMap.method == order.shipping_method,
        (ShippingMethodMap.channel_id == order.channel_id) | ShippingMethodMap.channel_id.is_(None))).all()
    return min(rows, key=lambda m: m.channel_id is None, default=None)


def facts(session: Session, order: Order, request: ShipmentRequest, warehouse_id: int) -> Facts:
    mapped = method_map(session, order)
    value = order.total if order.total is not None else order.subtotal
    return Facts(service_level=mapped.service_level if mapped else None,
                 promise_days=mapped.promise_days if mapped else None, country=request.ship_to.country.upper(),
                 domestic=not request.international,
                 weight_kg=sum((p.weight_kg for p in request.packages), Decimal("0")),
                 value=Decimal(value or 0), warehouse_id=warehouse_id)


def matches(rule: ShippingRule, f: Facts) -> bool:
    countries = {c.upper() for c in rule.countries or []}
    checks = (rule.service_level in (None, f.service_level),
              not countries or f.country in countries or ("DOMESTIC" if f.domestic else "INTERNATIONAL") in countries,
              rule.min_weight_kg is None or f.weight_kg >= rule.min_weight_kg,
              rule.max_weight_kg is None or f.weight_kg <= rule.max_weight_kg,
              rule.min_value is None or f.value >= rule.min_value,
              rule.max_value is None or f.value <= rule.max_value)
    return all(checks)


def first_rule(session: Session, f: Facts, rules: Optional[list[ShippingRule]] = None) -> Optional[ShippingRule]:
    rules = rules if rules is not None else session.scalars(
        select(ShippingRule).where(ShippingRule.enabled.is_(True))
        .order_by(ShippingRule.priority, ShippingRule.id)).all()
    return next((r for r in rules if r.enabled and matches(r, f)), None)


def allowed_accounts(session: Session, warehouse_id: int) -> list[CarrierAccount]:
    """The enabled label-buying accounts the warehouse may use (none listed: all of them)."""
    accounts = session.scalars(select(CarrierAccount).where(
        CarrierAccount.enabled.is_(True), CarrierAccount.kind != "manual").order_by(CarrierAccount.code)).all()
    listed = set(session.scalars(select(WarehouseCarrier.carrier_account_id)
                                 .where(WarehouseCarrier.warehouse_id == warehouse_id)))
    return [a for a in accounts if not listed or a.id in listed]


# --- rates from several carriers at once ------------------------------------------------------------

def gather(clients: dict[str, object], request: ShipmentRequest,
           time_limit: float) -> tuple[list[tuple[str, Rate]], dict[str, str]]:
    """Every client's rates, asked in parallel; those not answered within ``time_limit``
    seconds, or failing, are left out with the reason."""
    quotes, left_out = [], {}
    if not clients:
        return quotes, left_out
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(clients)), thread_name_prefix="rates")
    futures = {pool.submit(client.rates, request): code for code, client in clients.items()}
    try:
        for future in concurrent.futures.as_completed(futures, timeout=time_limit):
            code = futures[future]
            try:
                quotes += [(code, rate) for rate in future.result()]
            except CarrierError as exc:
                left_out[code] = exc.message
            except Exception as exc:  # noqa: BLE001 — one carrier's bug must not stop the others
                left_out[code] = f"{type(exc).__name__}: {exc}"[:300]
    except concurrent.futures.TimeoutError:
        pass
    for future, code in futures.items():
        if not future.done() and code not in left_out:
            left_out[code] = f"no answer within {time_limit:g} s"
    # a slow carrier's thread finishes on its own (its HTTP timeout bounds it): never waited for
    pool.shutdown(wait=False, cancel_futures=True)
    return quotes, left_out


def _pick(quotes: list[tuple[str, Rate]], strategy: str, promise_days: Optional[int],
          use_promise: bool) -> tuple[Optional[tuple[str, Rate]], str]:
    if not quotes:
        return None, "no rate"
    pool, note = quotes, ""
    if use_promise and promise_days is not None:
        in_time = [q for q in quotes if q[1].days is not None and q[1].days <= promise_days]
        pool, note = (in_time, f"arrives within the promised {promise_days} day(s)") if in_time else (
            quotes, f"none arrives within the promised {promise_days} day(s): chose among all")
    if strategy == "fastest":
        key = lambda q: (q[1].days if q[1].days is not None else 99, q[1].amount)  # noqa: E731
    else:
        key = lambda q: (q[1].amount, q[1].days if q[1].days is not None else 99)  # noqa: E731
    return min(pool, key=key), note


def _rate_row(code: str, rate: Rate) -> dict:
    return {"account": code, "service": rate.service, "service_name": rate.service_name, "amount": str(rate.amount),
            "currency": rate.currency, "days": rate.days}


def decide(session: Session, order: Order, request: ShipmentRequest, warehouse_id: int, *,
           rules: Optional[list[ShippingRule]] = None, clients: Optional[dict] = None) -> Decision:
    """Choose carrier account and service for this shipment (reads only; asks the carriers)."""
    f = facts(session, order, request, warehouse_id)
    rule = first_rule(session, f, rules)
    allowed = {a.code: a for a in allowed_accounts(session, warehouse_id)}
    if not allowed:
        raise ValidationFailed.field("carrier", "no enabled carrier account may ship from this warehouse")
    wanted = [c for c in (rule.carriers or allowed) if c in allowed] if rule else list(allowed)
    clients = clients if clients is not None else {code: carriers.client(allowed[code]) for code in allowed}
    time_limit = float(settings.get(session, "rate_shopping_seconds"))
    quotes, left_out = gather({c: clients[c] for c in wanted if c in clients}, request, time_limit)
    if rule and rule.services:
        quotes = [q for q in quotes if q[1].service in rule.services]
    strategy = rule.strategy if rule else "cheapest"
    chosen, note = _pick(quotes, strategy, f.promise_days, rule.use_promise if rule else True)
    why_rule = f"rule {rule.name!r} (#{rule.id})" if rule else FALLBACK
    if chosen is None and rule is not None:  # the rule's carriers gave nothing: every allowed one
        others = {c: clients[c] for c in allowed if c not in wanted and c in clients}
        more, more_left = gather(others, request, time_limit)
        quotes, left_out = quotes + more, {**left_out, **more_left}
        chosen, note = _pick(quotes, "cheapest", f.promise_days, True)
        why_rule = f"{FALLBACK} (rule {rule.name!r} found no rate)"
    if chosen is None:
        reasons = "; ".join(f"{c}: {why}" for c, why in left_out.items()) or "no carrier offered a rate"
        raise ValidationFailed.field("carrier", f"no rate to choose from ({reasons})")
    code, rate = chosen
    record = {"rule": why_rule, "rule_id": rule.id if rule else None, "strategy": strategy, "note": note,
              "facts": f.as_dict(), "considered": [_rate_row(c, r) for c, r in sorted(quotes, key=lambda q: q[1].amount)],
              "left_out": left_out, "chosen": _rate_row(code, rate)}
    return Decision(code, rate, record)


def explain(record: Optional[dict]) -> str:
    """One line a person reads: "why this carrier"."""
    if not record:
        return ""
    chosen = record["chosen"]
    text = (f"{chosen['account']} {chosen['service_name']} {chosen['amount']} {chosen['currency']}"
            f"{'' if chosen['days'] is None else ', ' + str(chosen['days']) + ' day(s)'}: {record['strategy']} of "
            f"{len(record['considered'])} rate(s) by {record['rule']}")
    if record.get("note"):
        text += f"; {record['note']}"
    if record.get("left_out"):
        text += "; left out: " + ", ".join(f"{c} ({why})" for c, why in record["left_out"].items())
    return text


# --- rules kept by people -------------------------------------------------------------------------

def _decimal(values: dict, key: str) -> Optional[Decimal]:
    raw = values.get(key)
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ValidationFailed.field(key, "must be a number") from None
    if not value.is_finite() or value < 0:
        raise ValidationFailed.field(key, "must be 0 or more")
    return value


def _codes(values: dict, key: str, upper: bool = False) -> Optional[list]:
    raw = values.get(key)
    if raw in (None, "", []):
        return None
    items = [s.strip() for s in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) and 0 < len(i.strip()) <= 64 for i in items):
        raise ValidationFailed.field(key, "must be a list of codes")
    return [i.strip().upper() if upper else i.strip() for i in items]


def clean_rule(session: Session, values: dict) -> dict:
    clean = {"name": validation.text(values.get("name"), "name", max_length=128)}
    try:
        clean["priority"] = int(values.get("priority", 100))
    except (TypeError, ValueError):
        raise ValidationFailed.field("priority", "must be a whole number") from None
    if not 0 <= clean["priority"] <= 10000:
        raise ValidationFailed.field("priority", "must be between 0 and 10000")
    level = values.get("service_level") or None
    if level is not None and level not in SERVICE_LEVELS:
        raise ValidationFailed.field("service_level", f"must be one of {', '.join(SERVICE_LEVELS)}")
    strategy = values.get("strategy") or "cheapest"
    if strategy not in RULE_STRATEGIES:
        raise ValidationFailed.field("strategy", f"must be one of {', '.join(RULE_STRATEGIES)}")
    codes = _codes(values, "carriers")
    known = set(session.scalars(select(CarrierAccount.code)))
    unknown = [c for c in codes or [] if c not in known]
    if unknown:
        raise ValidationFailed.field("carriers", f"unknown carrier account(s): {', '.join(unknown)}")
    clean.update(service_level=level, strategy=strategy, carriers=codes, services=_codes(values, "services"),
                 countries=_codes(values, "countries", upper=True), enabled=bool(values.get("enabled", True)),
                 use_promise=bool(values.get("use_promise", True)),
                 **{k: _decimal(values, k) for k in ("min_weight_kg", "max_weight_kg", "min_value", "max_value")})
    return clean


@transactional
def save_rule(session: Session, values: dict, actor: Actor, rule_id: int | None = None) -> ShippingRule:
    clean = clean_rule(session, values)
    rule = session.get(ShippingRule, rule_id) if rule_id else ShippingRule()
    if rule is None:
        raise NotFound(f"Shipping rule {rule_id} not found")
    before = {k: getattr(rule, k) for k in RULE_FIELDS} if rule_id else {}
    for key, value in clean.items():
        setattr(rule, key, value)
    session.add(rule)
    session.flush()
    audit.record(session, actor, "shipping_rule", rule.id, "update" if rule_id else "create",
                 audit.diff(before, {k: getattr(rule, k) for k in RULE_FIELDS}))
    return rule


@transactional
def map_method(session: Session, method: str, service_level: str, actor: Actor, *, channel_id: int | None = None,
               promise_days: int | None = None) -> ShippingMethodMap:
    """Map a channel's shipping method (as orders carry it) to a service level and promise."""
    method = validation.text(method, "method", max_length=128)
    if service_level not in SERVICE_LEVELS:
        raise ValidationFailed.field("service_level", f"must be one of {', '.join(SERVICE_LEVELS)}")
    if promise_days is not None and not 0 <= int(promise_days) <= 60:
        raise ValidationFailed.field("promise_days", "must be between 0 and 60")
    row = session.scalar(select(ShippingMethodMap).where(ShippingMethodMap.method == method,
                                                         ShippingMethodMap.channel_id.is_(channel_id)
                                                         if channel_id is None else
                                                         ShippingMethodMap.channel_id == channel_id))
    row = row or ShippingMethodMap(method=method, channel_id=channel_id)
    row.service_level, row.promise_days = service_level, promise_days
    session.add(row)
    session.flush()
    audit.record(session, actor, "shipping_method_map", row.id, "update",
                 {"method": method, "service_level": service_level, "promise_days": promise_days})
    return row


@transactional
def save_warehouse(session: Session, values: dict, carriers: list[str], actor: Actor, pk: int | None = None):
    """A warehouse (inventory's reference data) and the carrier accounts it ships with: both or neither."""
    warehouse = reference.save(session, "warehouse", values, actor, pk)
    allow_carriers(session, warehouse.id, carriers, actor)
    return warehouse


def carriers_of(session: Session, warehouse_id: int) -> list[str]:
    """The codes of the carrier accounts a warehouse is limited to (empty: it may use all)."""
    return sorted(session.scalars(select(CarrierAccount.code).join(
        WarehouseCarrier, WarehouseCarrier.carrier_account_id == CarrierAccount.id)
        .where(WarehouseCarrier.warehouse_id == warehouse_id)))


@transactional
def allow_carriers(session: Session, warehouse_id: int, codes: list[str], actor: Actor) -> list[str]:
    """The carrier accounts a warehouse may ship with (an empty list: all of them)."""
    from app.models import Warehouse

    if session.get(Warehouse, warehouse_id) is None:
        raise NotFound(f"Warehouse {warehouse_id} not found")
    codes = sorted({str(code).strip().lower() for code in codes or []})
    accounts = {a.code: a for a in session.scalars(select(CarrierAccount).where(CarrierAccount.code.in_(codes)))}
    unknown = [c for c in codes if c not in accounts]
    if unknown:
        raise ValidationFailed.field("carriers", f"unknown carrier account(s): {', '.join(unknown)}")
    before = carriers_of(session, warehouse_id)
    for row in session.scalars(select(WarehouseCarrier).where(WarehouseCarrier.warehouse_id == warehouse_id)):
        session.delete(row)
    session.flush()
    session.add_all([WarehouseCarrier(warehouse_id=warehouse_id, carrier_account_id=a.id) for a in accounts.values()])
    if before != codes:
        audit.record(session, actor, "warehouse", warehouse_id, "update", {"carriers": {"old": before, "new": codes}})
    return codes
