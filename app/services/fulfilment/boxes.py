"""Boxes and customs: box presets per warehouse, a package's weight from its items' product weights
plus the box's tare when it was not weighed, the smallest box that fits an order's items (by
volume, with a margin), and the customs lines of an international shipment."""
from __future__ import annotations

from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.carriers.base import CustomsLine

from app.models import BoxPreset, Order, Warehouse
from app.services.core import audit, settings, validation
from app.services.core.actor import Actor
from app.services.core.errors import NotFound, ValidationFailed
from app.services.core.transaction import transactional

BOX_FIELDS = ("name", "length_cm", "width_cm", "height_cm", "tare_kg", "max_weight_kg", "enabled")
LIMITS = {"length_cm": Decimal("300"), "width_cm": Decimal("300"), "height_cm": Decimal("300"),
          "tare_kg": Decimal("50"), "max_weight_kg": Decimal("150")}


# --- box presets ---------------------------------------------------------------------------------

def _number(values: dict, key: str) -> Decimal:
    try:
        value = Decimal(str(values.get(key)))
    except (InvalidOperation, ValueError):
        raise ValidationFailed.field(key, "must be a number") from None
    low = Decimal("0") if key == "tare_kg" else Decimal("0.001")
    if not value.is_finite() or value < low or value > LIMITS[key]:
        raise ValidationFailed.field(key, f"must be between {low} and {LIMITS[key]}")
    return value


@transactional
def save_box(session: Session, warehouse_id: int, values: dict, actor: Actor, box_id: int | None = None) -> BoxPreset:
    if session.get(Warehouse, warehouse_id) is None:
        raise ValidationFailed.field("warehouse_id", f"warehouse {warehouse_id} not found")
    box = session.get(BoxPreset, box_id) if box_id else BoxPreset(warehouse_id=warehouse_id)
    if box is None:
        raise NotFound(f"Box preset {box_id} not found")
    name = validation.text(values.get("name"), "name", max_length=64)
    taken = session.scalar(select(BoxPreset.id).where(BoxPreset.warehouse_id == warehouse_id, BoxPreset.name == name))
    if taken and taken != box.id:
        raise ValidationFailed.field("name", f"this warehouse already has a box named {name!r}")
    before = {k: getattr(box, k) for k in BOX_FIELDS} if box_id else {}
    box.name, box.enabled = name, bool(values.get("enabled", True))
    for key in LIMITS:
        setattr(box, key, _number(values, key))
    session.add(box)
    session.flush()
    audit.record(session, actor, "box_preset", box.id, "update" if box_id else "create",
                 audit.diff(before, {k: getattr(box, k) for k in BOX_FIELDS}))
    return box


def boxes(session: Session, warehouse_id: int) -> list[BoxPreset]:
    return list(session.scalars(select(BoxPreset).where(BoxPreset.warehouse_id == warehouse_id,
                                                        BoxPreset.enabled.is_(True))
                                .order_by(BoxPreset.length_cm * BoxPreset.width_cm * BoxPreset.height_cm)))


# --- what an order's items weigh and take up --------------------------------------------------------

def _open_lines(order: Order):
    return [line for line in order.lines if line.quantity_open > 0 and line.product is not None]


def items_weight(order: Order) -> Decimal:
    """Σ product weight × quantity of what is still to ship; a product without a weight is named."""
    missing = [line.product.sku for line in _open_lines(order) if line.product.weight_kg is None]
    if missing:
        raise ValidationFailed.field("packages", f"weigh the package: no weight on product(s) {', '.join(missing)}")
    return sum((line.product.weight_kg * line.quantity_open for line in _open_lines(order)), Decimal("0"))


def items_volume(order: Order) -> Optional[Decimal]:
    """Σ product volume × quantity, or None when a product has no dimensions."""
    return volume_of([(line.product, line.quantity_open) for line in _open_lines(order)])


def volume_of(items) -> Optional[Decimal]:
    """Σ volume × units of (product, units) pairs, or None when a product has no dimensions."""
    total = Decimal("0")
    for product, units in items:
        if product is None or None in (product.length_cm, product.width_cm, product.height_cm):
            return None
        total += product.length_cm * product.width_cm * product.height_cm * units
    return total


def suggest_box(session: Session, order: Order, warehouse_id: int) -> Optional[BoxPreset]:
    """The smallest enabled box whose volume holds the items with the margin, whose max weight
    holds them, and whose longest side fits the longest item; None when none fits or the items
    have no dimensions."""
    items = [(line.product, line.quantity_open) for line in _open_lines(order)]
    if volume_of(items) is None:
        return None
    return box_for(session, items, items_weight(order), warehouse_id)


def box_for(session: Session, items, weight: Decimal, warehouse_id: int) -> Optional[BoxPreset]:
    """``suggest_box`` for any (product, units) pairs weighing ``weight`` (a return's units too)."""
    volume = volume_of(items)
    if volume is None:
        return None
    margin = Decimal(100 + settings.get(session, "box_fill_margin_percent")) / 100
    longest = max((max(p.length_cm, p.width_cm, p.height_cm) for p, _units in items), default=Decimal("0"))
    for box in boxes(session, warehouse_id):
        fits = box.volume_cm3 >= volume * margin and weight + box.tare_kg <= box.max_weight_kg
        if fits and max(box.length_cm, box.width_cm, box.height_cm) >= longest:
            return box
    return None


def packages_from(session: Session, order: Order, values, warehouse_id: int) -> list:
    """Packages as the API gives them; a package naming a ``box_preset_id`` takes the box's
    dimensions, and (when not weighed) the items' weight plus the box's tare."""
    if not isinstance(values, list):
        return values
    out = []
    for n, item in enumerate(values):
        if not isinstance(item, dict) or item.get("box_preset_id") in (None, ""):
            out.append(item)
            continue
        box = session.get(BoxPreset, item["box_preset_id"]) if str(item["box_preset_id"]).isdigit() else None
        if box is None or box.warehouse_id != warehouse_id:
            raise ValidationFailed.field(f"packages.{n}.box_preset_id", "not a box preset of this warehouse")
        weight = item.get("weight_kg")
        if weight in (None, ""):
            weight = (items_weight(order) / len(values) + box.tare_kg).quantize(Decimal("0.001"), ROUND_UP)
            if weight > box.max_weight_kg:
                raise ValidationFailed.field(f"packages.{n}.box_preset_id",
                                             f"{weight} kg is more than box {box.name!r} holds ({box.max_weight_kg} kg)")
        out.append({"weight_kg": weight, "length_cm": box.length_cm, "width_cm": box.width_cm,
                    "height_cm": box.height_cm})
    return out


# --- customs ---------------------------------------------------------------------------------------

def customs_lines(order: Order) -> tuple[CustomsLine, ...]:
    """A line per product still to ship: description, quantity, value, weight, HS code, origin.
    A product without an HS code or origin is named before anything is bought."""
    lines, missing = [], []
    for line in order.lines:
        if line.quantity_open <= 0:
            continue
        product = line.product
        if product is None or not product.hs_code or not product.origin_country:
            missing.append(product.sku if product else (line.sku or line.title))
            continue
        share = Decimal(line.quantity_open) / Decimal(line.quantity)
        lines.append(CustomsLine(description=(product.name or line.title)[:70], quantity=line.quantity_open,
                                 value=(line.line_subtotal * share).quantize(Decimal("0.01")), currency=order.currency,
                                 weight_kg=(product.weight_kg or Decimal("0.1")) * line.quantity_open,
                                 hs_code=product.hs_code, origin_country=product.origin_country, sku=product.sku))
    if missing:
        raise ValidationFailed.field("customs", "an international shipment needs an HS code and a country of "
                                                f"origin on product(s) {', '.join(missing)}")
    return tuple(lines)
