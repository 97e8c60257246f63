"""Order edits before picking, each all or nothing (one transaction, one version check):
addresses and contact details, line quantities, added and removed lines, cancelled units.
What an edit leaves open is reserved again by lifecycle (``order.lines_changed``)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Allocation, OrderLine
from app.services.core import domain_events, events, fx, validation
from app.services.core.actor import Actor
from app.services.core.errors import InvalidTransition, NotFound, ValidationFailed
from app.services.core.transaction import transactional
from app.services.inventory import catalog
from app.services.inventory import stock as inventory
from app.services.orders import actions as orders
from app.services.orders import customers


@transactional
def edit_order(session: Session, order_id: int, actor: Actor, *, expected_version,
               shipping_address: dict | None = None, billing_address: dict | None = None,
               email: str | None = None, phone: str | None = None):
    """Change an order's shipping and/or billing address (before picking) and/or its
    contact e-mail and phone (until it is cancelled), all or nothing. ``expected_version``
    is the version the editor read (StaleVersion if the order changed since). Every invalid
    field is reported at once. A new e-mail moves the order to that e-mail's customer."""
    addresses = {kind: address for kind, address in
                 (("shipping", shipping_address), ("billing", billing_address))
                 if address is not None}
    order = orders.get_order(session, order_id, for_update=True)
    orders.check_version(order, expected_version)
    if not addresses and email is None and phone is None:
        message = "give shipping_address, billing_address, email and/or phone"
        raise ValidationFailed(f"Nothing to change: {message}", errors={"body": [message]})
    errors = validation.Errors()

    def check(fn):
        try:
            return fn()
        except ValidationFailed as err:
            for field, messages in err.errors.items():
                for message in messages:
                    errors.add(field, message)
            return None

    for kind, address in addresses.items():
        check(lambda: validation.address(address, f"{kind}_address"))
    new_email = check(lambda: validation.email(email, "email", required=True)) \
        if email is not None else None
    new_phone = check(lambda: validation.text(phone, "phone", max_length=64, required=False)) \
        if phone is not None else None
    errors.raise_if_any("The changes are not valid")
    if (email is not None or phone is not None) and order.status == "cancelled":
        raise InvalidTransition(f"Order {order.order_number} is cancelled")
    for kind, address in addresses.items():
        session.flush()  # the first edit bumps the version; the check above already held
        orders.edit_address(session, order.id, kind, address, order.version, actor)
    contact = {}
    if email is not None and new_email != order.email:
        contact["email"] = {"old": order.email, "new": new_email}
        order.email = new_email
        order.customer = customers.find_or_create(session, new_email, order.customer_name,
                                                  order.phone)
    if phone is not None and new_phone != order.phone:
        contact["phone"] = {"old": order.phone, "new": new_phone}
        order.phone = new_phone
    for field, change in contact.items():
        orders.mark_local_edit(order, field, change["new"], actor)
    if contact:
        events.order_event(session, order, actor, "contact_changed",
                           "Contact changed: " + ", ".join(sorted(contact)), {"changes": contact})
    return order


# --- lines: cancel units, change quantities, add and remove lines ---------------------------

LINE_CANCELLABLE_STATUSES = frozenset(orders.EDITABLE_STATUSES | {"picking", "packed",
                                                                  "partially_shipped"})
RESERVED_STATUSES = frozenset({"allocated", "partially_allocated", "backordered"})


def _line_id(value, field: str) -> int:
    try:
        return validation.identifier(value, field)
    except ValidationFailed:
        raise ValidationFailed.field(field, f"'{str(value)[:40]}' is not a line id") from None


def _lines_snapshot(order) -> list[dict]:
    return [{"id": line.id, "sku": line.sku, "quantity": line.quantity,
             "cancelled": line.quantity_cancelled, "unit_price": str(line.unit_price)}
            for line in order.lines]


def _release_line(session: Session, order, line, actor: Actor, why: str, keep: int = 0) -> int:
    """Give back a line's open reservations beyond ``keep`` units. A reservation that keeps
    some units is released and the rest re-reserved in the same warehouse (each change of
    ``reserved`` is one ledger row). Returns the units given back. No commit."""

    allocations = session.scalars(
        select(Allocation).where(Allocation.order_line_id == line.id, Allocation.status == "open")
        .order_by(Allocation.stock_level_id, Allocation.id)
    ).all()
    released = 0
    for allocation in reversed(allocations):  # the last warehouses give back first
        excess = line.quantity_allocated - keep
        if excess <= 0:
            break
        give_back = min(excess, allocation.quantity)
        remaining = allocation.quantity - give_back
        level = allocation.stock_level
        inventory.release(session, allocation, actor, why)
        if remaining:
            inventory.reserve(session, line, level, remaining, actor)
        released += give_back
    return released


def _settle(session: Session, order, actor: Actor) -> None:
    """After lines changed: what is still needed waits as a backorder, and the status says
    what the reservations say. A held order that never reserved anything stays new."""
    if order.status not in RESERVED_STATUSES | {"new"}:
        return
    allocated = sum(line.quantity_allocated for line in order.lines)
    if order.status == "new" and not allocated:
        for line in order.lines:
            line.quantity_backordered = 0
        return
    for line in order.lines:
        need = max(line.quantity_open - line.quantity_allocated, 0) if line.product_id else 0
        line.quantity_backordered = need
    missing = sum(line.quantity_backordered for line in order.lines)
    target = "allocated" if not missing else "partially_allocated" if allocated else "backordered"
    if target != order.status and orders.can_transition(order, target):
        orders.transition(session, order, target, actor, "lines changed")


def _finish_when_nothing_open(session: Session, order, reason: str, actor: Actor) -> bool:
    """No open unit left: the order is cancelled (or, after a partial shipment, shipped)."""
    if any(line.quantity_open > 0 for line in order.lines):
        return False
    if any(line.quantity_shipped for line in order.lines):
        orders.transition(session, order, "shipped", actor, f"the unshipped rest cancelled: {reason}")
    else:
        orders.cancel_in_tx(session, order, reason, actor)
    return True


@transactional
def cancel_lines(session: Session, order_id: int, quantities: dict, reason: str,
                 expected_version, actor: Actor):
    """Cancel open (unshipped) units of lines: ``quantities`` is {line_id: units}. Their
    reservations are given back (a line that keeps units keeps that much reserved); when
    nothing open remains the order is cancelled. Units that have shipped cannot be
    cancelled (InvalidTransition saying so: start a return)."""
    reason = validation.text(reason, "reason", max_length=500)
    order = orders.get_order(session, order_id, for_update=True)
    orders.check_version(order, expected_version)
    if order.status == "cancelled":
        raise InvalidTransition(f"Order {order.order_number} is already cancelled")
    if order.status not in LINE_CANCELLABLE_STATUSES:
        raise InvalidTransition(
            f"Order {order.order_number} is {order.status.replace('_', ' ')}: everything has "
            "left the warehouse and cannot be cancelled; start a return instead.")
    if not isinstance(quantities, dict) or not quantities:
        raise ValidationFailed.field("lines", "give at least one line and a quantity to cancel")
    by_id = {line.id: line for line in order.lines}
    errors = validation.Errors()
    shipped_refusals = []
    wanted = {}
    for key, value in quantities.items():
        try:
            line_id = _line_id(key, "lines")
        except ValidationFailed as err:
            errors.add("lines", err.errors["lines"][0])
            continue
        field = f"lines.{line_id}"
        line = by_id.get(line_id)
        if line is None:
            errors.add(field, f"line {line_id} is not a line of order {order.order_number}")
            continue
        try:
            units = validation.quantity(value, field, allow_zero=True)
        except ValidationFailed as err:
            errors.add(field, err.errors[field][0])
            continue
        if not units:
            continue
        if units > line.quantity_open:
            if line.quantity_shipped and units <= line.quantity - line.quantity_cancelled:
                message = (f"{line.quantity_shipped} of {line.quantity} units of {line.sku} have "
                           f"shipped; only {line.quantity_open} can still be cancelled — start a "
                           "return for shipped units")
                shipped_refusals.append(message)
                errors.add(field, message)
            else:
                errors.add(field, f"only {line.quantity_open} unit(s) of {line.sku} are open")
            continue
        wanted[line] = units
    if shipped_refusals and len(errors.errors) == len(shipped_refusals):
        raise InvalidTransition("Cannot cancel what has shipped: " + "; ".join(shipped_refusals),
                                errors=errors.errors)
    errors.raise_if_any("The cancellation is not valid")
    if not wanted:
        raise ValidationFailed.field("lines", "nothing to cancel: every quantity is zero")
    return cancel_units_in_tx(session, order, wanted, reason, actor)


def cancel_units_in_tx(session: Session, order, wanted: dict, reason: str, actor: Actor, *,
                       local_edit: bool = True, data: dict | None = None):
    """Cancel ``wanted`` ({line: units}, each at most the line's open units, the order in
    LINE_CANCELLABLE_STATUSES): give back their reservations, write one ``lines_cancelled``
    event (``data`` added to it), and cancel the order (or, after a partial shipment, ship
    it) when nothing open remains. ``local_edit``: a change made in Waybill (remembered in
    ``local_edits``); False for one the channel made. No commit, no version check."""
    changes = []
    for line, units in wanted.items():
        if units <= 0 or units > line.quantity_open:
            raise ValueError(f"cannot cancel {units} of {line.quantity_open} open unit(s) of "
                             f"line {line.id}")
        line.quantity_cancelled += units
        released = _release_line(session, order, line, actor,
                                 f"{units}× {line.sku} cancelled: {reason}", keep=line.quantity_open)
        line.quantity_backordered = min(line.quantity_backordered,
                                        max(line.quantity_open - line.quantity_allocated, 0))
        changes.append({"line_id": line.id, "sku": line.sku, "quantity": units,
                        "released": released})
    parts = ", ".join(f"{c['quantity']}× {c['sku']}" for c in changes)
    events.order_event(session, order, actor, "lines_cancelled",
                       f"Cancelled {parts}: {reason}",
                       {"lines": changes, "reason": reason, **(data or {})})
    if local_edit:
        orders.mark_local_edit(order, "lines", _lines_snapshot(order), actor)
    if not _finish_when_nothing_open(session, order, reason, actor):
        if order.status in RESERVED_STATUSES:
            _settle(session, order, actor)
    return order


@transactional
def edit_lines(session: Session, order_id: int, actor: Actor, *, expected_version,
               quantities: dict | None = None, remove=None, add=None):
    """Change line quantities ({line_id: new quantity}), remove lines ([line_id]) and add
    lines ([{"sku", "quantity", "unit_price", "title"?}]) before picking, all or nothing.
    The changed lines' reservations are given back and the order is allocated again in the
    same transaction. The subtotal and total follow the changed amounts."""
    from decimal import Decimal


    order = orders.get_order(session, order_id, for_update=True)
    orders.check_version(order, expected_version)
    if order.status not in orders.EDITABLE_STATUSES:
        raise InvalidTransition(
            f"Order {order.order_number} is {order.status.replace('_', ' ')}: lines can only "
            "change before picking starts")
    quantities, remove, add = quantities or {}, remove or [], add or []
    if not isinstance(quantities, dict) or not isinstance(remove, (list, tuple)) \
            or not isinstance(add, (list, tuple)):
        raise ValidationFailed("quantities must be an object, remove and add lists",
                               errors={"body": ["quantities: {line_id: quantity}, remove: "
                                                "[line_id], add: [{sku, quantity, unit_price}]"]})
    if not quantities and not remove and not add:
        raise ValidationFailed("Nothing to change: give quantities, remove and/or add",
                               errors={"lines": ["give quantities, remove and/or add"]})
    by_id = {line.id: line for line in order.lines}
    errors = validation.Errors()

    def own_line(value, field):
        try:
            line_id = _line_id(value, field)
        except ValidationFailed as err:
            errors.add(field, err.errors[field][0])
            return None
        line = by_id.get(line_id)
        if line is None:
            errors.add(field, f"line {line_id} is not a line of order {order.order_number}")
        elif line.quantity_open <= 0:
            errors.add(field, f"line {line_id} ({line.sku}) has no open units")
            line = None
        return line

    new_quantities = {}
    for key, value in quantities.items():
        line = own_line(key, "quantities")
        if line is None:
            continue
        field = f"quantities.{line.id}"
        try:
            quantity = validation.quantity(value, field)
        except ValidationFailed as err:
            message = err.errors[field][0]
            if message.endswith("must not be zero"):
                message += "; remove the line instead"
            errors.add(field, message)
            continue
        if quantity <= line.quantity_cancelled + line.quantity_shipped:
            errors.add(field, f"must be more than the {line.quantity_cancelled} unit(s) already "
                              "cancelled")
            continue
        if quantity != line.quantity:
            new_quantities[line] = quantity
    removed = []
    for index, value in enumerate(remove):
        line = own_line(value, f"remove.{index}")
        if line is not None:
            if line in new_quantities:
                errors.add(f"remove.{index}", f"line {line.id} is both changed and removed")
            removed.append(line)
    additions = []
    for index, item in enumerate(add):
        prefix = f"add.{index}"
        if not isinstance(item, dict):
            errors.add(prefix, "must be an object with sku, quantity and unit_price")
            continue
        unknown = set(item) - {"sku", "quantity", "unit_price", "title"}
        for name in sorted(unknown):
            errors.add(f"{prefix}.{name}", "unknown field")
        product = None
        try:
            sku = validation.text(item.get("sku"), f"{prefix}.sku", max_length=128)
            product = catalog.product_by_sku(session, sku)
            if not product.active:
                errors.add(f"{prefix}.sku", f"product {product.sku} is not active")
                product = None
        except ValidationFailed as err:
            for field, messages in err.errors.items():
                errors.add(field, messages[0])
        except NotFound:
            errors.add(f"{prefix}.sku", f"unknown SKU '{item.get('sku')}'")
        quantity = price = None
        try:
            quantity = validation.quantity(item.get("quantity"), f"{prefix}.quantity")
        except ValidationFailed as err:
            for field, messages in err.errors.items():
                errors.add(field, messages[0])
        raw_price = item.get("unit_price")
        if raw_price is None or raw_price == "":
            price = product.price if product is not None and product.price is not None else None
            if price is None and product is not None:
                errors.add(f"{prefix}.unit_price", "is required (the product has no price)")
        else:
            try:
                price = validation.decimal(raw_price, f"{prefix}.unit_price")
                if price < 0:
                    errors.add(f"{prefix}.unit_price", "must not be negative")
                    price = None
            except ValidationFailed as err:
                for field, messages in err.errors.items():
                    errors.add(field, messages[0])
        try:
            title = validation.text(item.get("title"), f"{prefix}.title", max_length=255,
                                    required=False)
        except ValidationFailed as err:
            for field, messages in err.errors.items():
                errors.add(field, messages[0])
            title = None
        if product is not None and quantity is not None and price is not None:
            additions.append((product, quantity, Decimal(price), title or product.name))
    errors.raise_if_any("The line changes are not valid")
    if not new_quantities and not removed and not additions:
        raise ValidationFailed("Nothing to change: every quantity is as it was",
                               errors={"lines": ["nothing to change"]})

    why = "lines edited"
    changes: dict[str, list] = {"changed": [], "removed": [], "added": []}
    amount = Decimal("0")
    for line, quantity in new_quantities.items():
        _release_line(session, order, line, actor, why)
        line.quantity_backordered = 0
        amount += line.unit_price * (quantity - line.quantity)
        changes["changed"].append({"line_id": line.id, "sku": line.sku, "old": line.quantity,
                                   "new": quantity})
        line.quantity = quantity
    for line in removed:
        _release_line(session, order, line, actor, why)
        units = line.quantity_open
        line.quantity_cancelled += units
        line.quantity_backordered = 0
        amount -= line.unit_price * units
        changes["removed"].append({"line_id": line.id, "sku": line.sku, "quantity": units})
    for product, quantity, price, title in additions:
        line = OrderLine(order=order, sku=product.sku, product_id=product.id, title=title,
                         quantity=quantity, unit_price=price, tax=Decimal("0"),
                         discount=Decimal("0"))
        session.add(line)
        amount += price * quantity
        changes["added"].append({"sku": product.sku, "quantity": quantity,
                                 "unit_price": str(price)})
    session.flush()
    for entry, line in zip(changes["added"], [l for l in order.lines if l.id not in by_id]):
        entry["line_id"] = line.id
    if amount:
        order.subtotal = (order.subtotal or Decimal("0")) + amount
        if order.total is not None:
            order.total = order.total + amount
            order.total_base = fx.to_base(session, order.total, order.currency, order.placed_at)
    parts = ([f"{c['sku']} {c['old']} → {c['new']}" for c in changes["changed"]]
             + [f"removed {c['quantity']}× {c['sku']}" for c in changes["removed"]]
             + [f"added {c['quantity']}× {c['sku']}" for c in changes["added"]])
    events.order_event(session, order, actor, "lines_edited", "Lines edited: " + ", ".join(parts),
                       {**changes, "amount": str(amount)})
    orders.mark_local_edit(order, "lines", _lines_snapshot(order), actor)
    if _finish_when_nothing_open(session, order, "every line removed", actor):
        return order
    if order.status == "allocated" and any(
            line.product_id and line.quantity_open > line.quantity_allocated
            for line in order.lines):  # de-allocated for an edit (DESIGN.md lifecycle)
        orders.transition(session, order, "new", actor, "lines edited: allocate again")
    # lifecycle reserves what the edit left open (it subscribes; orders cannot import it)
    domain_events.publish(session, "order.lines_changed", {"order_id": order.id, "actor": actor})
    _settle(session, order, actor)
    return order


def change_line_quantity(session: Session, order_id: int, line_id: int, quantity,
                         expected_version, actor: Actor):
    return edit_lines(session, order_id, actor, expected_version=expected_version,
                      quantities={line_id: quantity})


def add_line(session: Session, order_id: int, sku: str, quantity, unit_price,
             expected_version, actor: Actor, title: str | None = None):
    return edit_lines(session, order_id, actor, expected_version=expected_version,
                      add=[{"sku": sku, "quantity": quantity, "unit_price": unit_price,
                            "title": title}])


def remove_line(session: Session, order_id: int, line_id: int, expected_version, actor: Actor):
    return edit_lines(session, order_id, actor, expected_version=expected_version,
                      remove=[line_id])


# --- bulk actions on many orders ------------------------------------------------------------
