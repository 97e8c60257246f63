"""Reference data (warehouses, products, ...): one save path with validation and audit.

Each entity registers a cleaner that turns raw values into valid column values; views and
APIs call ``save`` / ``delete`` and never write these tables themselves.
"""
from __future__ import annotations

from decimal import Decimal

import re
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import Product, Warehouse, normalize_sku
from app.services.core import audit
from app.services.core import validation
from app.services.core.actor import Actor
from app.services.core.errors import AlreadyUsed, Conflict, NotFound, ValidationFailed
from app.services.core.transaction import transactional


@dataclass(frozen=True)
class Entity:
    name: str
    model: type
    fields: tuple[str, ...]
    clean: Callable[[Session, dict, object | None], dict]


# products.weight_kg is NUMERIC(10, 3)
WEIGHT_LIMIT = Decimal("10000000")


def _unique(session, model, column, value, current, field):
    found = session.scalar(select(model.id).where(getattr(model, column) == value))
    if found is not None and (current is None or found != current.id):
        raise AlreadyUsed.field(field, f"'{value}' is already used")


def _label_format(value) -> str | None:
    if value in (None, ""):
        return None
    if value not in ("PDF", "ZPL"):
        raise ValidationFailed.field("label_format", "must be PDF or ZPL (or empty: the carrier account's)")
    return value


def _clean_warehouse(session: Session, values: dict, current) -> dict:
    errors = validation.Errors()
    clean = {}

    def take(field, fn):
        if field in values or (current is None and field in ("code", "name", "country")):
            try:
                clean[field] = fn(values.get(field))
            except ValidationFailed as err:
                for f, msgs in err.errors.items():
                    for m in msgs:
                        errors.add(f, m)

    take("code", lambda v: (validation.text(v, "code", max_length=32) or "").upper())
    take("name", lambda v: validation.text(v, "name", max_length=128))
    take("country", lambda v: validation.country(v))
    for field, size in (("address_line1", 255), ("city", 128), ("postcode", 32)):
        take(field, lambda v, f=field, s=size: validation.text(v, f, max_length=s, required=False))
    take("latitude", lambda v: None if v in (None, "") else _coordinate(v, "latitude", 90))
    take("longitude", lambda v: None if v in (None, "") else _coordinate(v, "longitude", 180))
    take("priority", lambda v: validation.quantity(v if v not in (None, "") else 100, "priority",
                                                   allow_zero=True))
    take("ships_to", _countries)
    take("label_format", _label_format)
    take("printer_address", lambda v: validation.host_port(v, "printer_address", default_port=9100))
    if "active" in values:
        clean["active"] = bool(values["active"])
    errors.raise_if_any("The warehouse is not valid")
    if "code" in clean:
        _unique(session, Warehouse, "code", clean["code"], current, "code")
    return clean


def _coordinate(value, field, limit):
    number = validation.decimal(value, field)
    if abs(number) > limit:
        raise ValidationFailed.field(field, f"must be between -{limit} and {limit}")
    return number


def _countries(value) -> list[str]:
    if value in (None, ""):
        return []
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,;]+", str(value))
    return sorted({validation.country(item, "ships_to") for item in items if item})


def _clean_product(session: Session, values: dict, current) -> dict:
    clean = {}
    if "sku" in values or current is None:
        sku = normalize_sku(validation.text(values.get("sku"), "sku", max_length=64))
        _unique(session, Product, "sku", sku, current, "sku")
        clean["sku"] = sku
    if "name" in values or current is None:
        clean["name"] = validation.text(values.get("name"), "name", max_length=255)
    if "barcode" in values:
        barcode = validation.text(values.get("barcode"), "barcode", max_length=64, required=False)
        if barcode:
            _unique(session, Product, "barcode", barcode, current, "barcode")
        clean["barcode"] = barcode
    if values.get("weight_kg") not in (None, ""):
        clean["weight_kg"] = validation.decimal(values["weight_kg"], "weight_kg", positive=True,
                                               limit=WEIGHT_LIMIT)
    if values.get("price") not in (None, ""):
        price = validation.decimal(values["price"], "price")
        if price < 0:
            raise ValidationFailed.field("price", "must not be negative")
        clean["price"] = price
    if "reorder_point" in values:
        clean["reorder_point"] = validation.quantity(values.get("reorder_point") or 0,
                                                     "reorder_point", allow_zero=True)
    if "active" in values:
        clean["active"] = bool(values["active"])
    clean.update(_customs_and_size(values))
    return clean


HS_CODE_RE = re.compile(r"^\d{4}(\.?\d{2}){1,3}$")


def _customs_and_size(values: dict) -> dict:
    """Customs (HS code, country of origin) and the item's own size (packing suggestions)."""
    clean = {}
    if "hs_code" in values:
        code = (validation.text(values.get("hs_code"), "hs_code", max_length=16, required=False) or "").strip()
        if code and not HS_CODE_RE.match(code):
            raise ValidationFailed.field("hs_code", "an HS code is 6 to 10 digits, e.g. 6109.10 or 610910")
        clean["hs_code"] = code or None
    if "origin_country" in values:
        clean["origin_country"] = (validation.country(values["origin_country"], "origin_country")
                                   if values.get("origin_country") else None)
    for key in ("length_cm", "width_cm", "height_cm"):
        if key in values:
            clean[key] = (validation.decimal(values[key], key, positive=True, limit=Decimal("300"))
                          if values.get(key) not in (None, "") else None)
    return clean


ENTITIES = {
    "warehouse": Entity("warehouse", Warehouse,
                        ("code", "name", "address_line1", "city", "postcode", "country",
                         "latitude", "longitude", "priority", "ships_to", "active", "label_format",
                         "printer_address"),
                        _clean_warehouse),
    "product": Entity("product", Product,
                      ("sku", "name", "barcode", "weight_kg", "price", "reorder_point", "active", "hs_code",
                       "origin_country", "length_cm", "width_cm", "height_cm"),
                      _clean_product),
}


def entity_for(model) -> Entity | None:
    return next((e for e in ENTITIES.values() if e.model is model), None)


@transactional
def save(session: Session, entity: str, values: dict, actor: Actor, pk: int | None = None):
    spec = ENTITIES[entity]
    current = None
    if pk is not None:
        current = session.get(spec.model, pk)
        if current is None:
            raise NotFound(f"{entity.capitalize()} {pk} not found")
    clean = spec.clean(session, {k: v for k, v in values.items() if k in spec.fields}, current)
    before = {f: getattr(current, f) for f in spec.fields} if current else {}
    item = current or spec.model()
    for key, value in clean.items():
        setattr(item, key, value)
    session.add(item)
    session.flush()
    after = {f: getattr(item, f) for f in spec.fields}
    audit.record(session, actor, entity, item.id, "update" if current else "create",
                 audit.diff(before, after))
    return item


@transactional
def delete(session: Session, entity: str, pk: int, actor: Actor) -> None:
    spec = ENTITIES[entity]
    item = session.get(spec.model, pk)
    if item is None:
        raise NotFound(f"{entity.capitalize()} {pk} not found")
    try:
        with session.begin_nested():
            session.delete(item)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{entity.capitalize()} {pk} is still in use; deactivate it instead") from None
    audit.record(session, actor, entity, pk, "delete", None)
