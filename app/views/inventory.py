"""Inventory: stock levels per warehouse and product, the adjustment and receiving forms
(services/inventory.adjust / receive: on_hand is never edited directly), the movement ledger
and the warehouses (reference data, written with the carriers they ship with through
services/fulfilment/shipping_rules.save_warehouse; deleted through services/inventory/reference.py)."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup
from sqlalchemy import select
from wtforms import StringField

from ..extensions import db
from ..models import StockLevel, StockMovement, Warehouse
from ..models.inventory import MOVEMENT_REASONS
from ..security import permissions as p
from app.services.inventory import catalog
from app.services.inventory import stock as inventory
from app.services.inventory import reference
from app.services.core.errors import DomainError, ValidationFailed
from app.services.fulfilment import shipping_rules
from .base import (
    checkbox,    select_field,
    form_error_status,
    EagerSQLAInterface, FilterChoiceEqual, FilterChoiceNotEqual, FilterProductSku,
    ReadOnlyModelView, ServiceModelView, can, current_actor, flash_error,
)
from .common import code_cell, order_cell, product_cell
from .formatting import humanize, signed, utc, yes_no


def _available(level: StockLevel) -> Markup:
    value = level.available
    css = "text-danger" if value <= 0 else ("text-warning" if level.product and value <= (
        level.product.reorder_point or 0) else "")
    return Markup('<strong class="{}">{}</strong>').format(css, value)


class StockLevelView(ReadOnlyModelView):
    route_base = "/stock"
    datamodel = EagerSQLAInterface(
        StockLevel, eager=("warehouse", "product"), count_cap=True,
        display={"warehouse": code_cell("warehouse"), "product": product_cell,
                 "available": _available, "updated_at": lambda s: utc(s.updated_at)},
        column_filters={"product": [FilterProductSku]},
    )
    class_permission_name = p.RESOURCE_STOCK
    method_permission_name = p.method_map(adjust=p.ADJUST, receive=p.ADJUST)
    include_route_methods = {"list", "show", "adjust", "receive"}
    list_template = "oms/stock_list.html"

    list_title = "Stock levels"
    show_title = "Stock level"
    list_columns = ["warehouse", "product", "on_hand", "reserved", "available", "bin",
                    "updated_at"]
    show_columns = list_columns
    order_columns = ["on_hand", "reserved", "bin", "updated_at"]
    search_columns = ["warehouse", "product", "bin"]
    search_form_extra_fields = {"product": StringField("SKU (exact, or prefix*)")}
    base_order = ("id", "asc")
    label_columns = {"warehouse": "Warehouse", "product": "Product (SKU)", "on_hand": "On hand",
                     "reserved": "Reserved", "available": "Available", "bin": "Bin",
                     "updated_at": "Updated"}

    def render_template(self, template, **kwargs):
        kwargs.setdefault("can_adjust", can(p.ADJUST, p.RESOURCE_STOCK))
        return super().render_template(template, **kwargs)

    def _warehouses(self):
        return db.session.scalars(select(Warehouse).order_by(Warehouse.code)).all()

    def _stock_form(self, mode: str):
        values = {"warehouse_id": request.values.get("warehouse_id", ""),
                  "sku": request.values.get("sku", ""), "quantity": "", "note": ""}
        status = 200
        if request.method == "POST":
            values.update({k: (request.form.get(k) or "").strip() for k in values})
            try:
                movement = self._apply(mode, values)
            except DomainError as err:
                flash_error(err)
                status = form_error_status(err)
            else:
                flash(f"{'Adjusted' if mode == 'adjust' else 'Received'} "
                      f"{movement.on_hand_delta:+d} × {values['sku'].upper()} in "
                      f"{movement.warehouse.code}", "success")
                return redirect(url_for("StockMovementView.list"))
        return self.render_template("oms/stock_form.html", mode=mode, values=values,
                                    warehouses=self._warehouses()), status

    def _apply(self, mode: str, values: dict):
        try:
            warehouse_id = int(values["warehouse_id"])
        except ValueError:
            raise ValidationFailed.field("warehouse", "choose a warehouse") from None
        if not values["sku"]:
            raise ValidationFailed.field("sku", "is required")
        product = catalog.product_by_sku(db.session, values["sku"])
        if mode == "adjust":
            return inventory.adjust(db.session, warehouse_id, product.id, values["quantity"],
                                    values["note"], current_actor())
        return inventory.receive(db.session, warehouse_id, product.id, values["quantity"],
                                 current_actor(), reference=values["note"] or None)

    @expose("/adjust", methods=["GET", "POST"])
    @has_access
    def adjust(self):
        return self._stock_form("adjust")

    @expose("/receive", methods=["GET", "POST"])
    @has_access
    def receive(self):
        return self._stock_form("receive")


class StockMovementView(ReadOnlyModelView):
    route_base = "/stock-movements"
    datamodel = EagerSQLAInterface(
        StockMovement, eager=("warehouse", "product", "order"), count_cap=True,
        display={"warehouse": code_cell("warehouse"), "product": product_cell,
                 "order": order_cell, "on_hand_delta": lambda m: signed(m.on_hand_delta),
                 "reserved_delta": lambda m: signed(m.reserved_delta),
                 "reason": lambda m: humanize(m.reason),
                 "created_at": lambda m: utc(m.created_at, with_seconds=True)},
        column_filters={"product": [FilterProductSku],
                        "reason": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_STOCK
    method_permission_name = p.method_map()

    list_title = "Stock movements"
    show_title = "Stock movement"
    list_columns = ["created_at", "warehouse", "product", "on_hand_delta", "reserved_delta",
                    "reason", "reference", "order", "note", "actor"]
    show_columns = list_columns
    order_columns = ["created_at"]
    search_columns = ["warehouse", "product", "reason", "reference", "actor", "created_at"]
    search_form_extra_fields = {
        "product": StringField("SKU (exact, or prefix*)"),
        "reason": select_field("Reason", [(r, humanize(r)) for r in MOVEMENT_REASONS]),
    }
    base_order = ("created_at", "desc")
    label_columns = {"created_at": "When", "warehouse": "Warehouse", "product": "Product",
                     "on_hand_delta": "On hand Δ", "reserved_delta": "Reserved Δ",
                     "reason": "Reason", "reference": "Reference", "order": "Order",
                     "note": "Note", "actor": "By"}


class WarehouseView(ServiceModelView):
    route_base = "/warehouses"
    datamodel = EagerSQLAInterface(
        Warehouse, display={
            "code": lambda w: Markup("<strong>{}</strong>").format(w.code),
            "ships_to": lambda w: ", ".join(w.ships_to) if w.ships_to else Markup(
                '<span class="text-muted">everywhere</span>'),
            "active": lambda w: yes_no(w.active)})
    class_permission_name = p.RESOURCE_WAREHOUSE
    method_permission_name = p.method_map()
    include_route_methods = {"list", "show", "add", "edit", "delete"}

    list_title = "Warehouses"
    list_columns = ["code", "name", "country", "city", "priority", "ships_to", "active"]
    show_columns = ["code", "name", "address_line1", "city", "postcode", "country", "latitude",
                    "longitude", "priority", "ships_to", "active", "label_format", "printer_address"]
    add_columns = edit_columns = show_columns + ["carriers"]
    order_columns = ["code", "name", "country", "priority"]
    search_columns = ["code", "name", "country", "active"]
    add_form_extra_fields = edit_form_extra_fields = {
        "ships_to": StringField("Ships to", description="Country codes, comma-separated; empty = everywhere"),
        "carriers": StringField("Carriers", description="Carrier account codes this warehouse ships with, "
                                                        "comma-separated; empty = every enabled account"),
        "active": checkbox("Active"),
        "label_format": select_field("Label format", [("", "the carrier account's"), ("PDF", "PDF 4×6"),
                                                      ("ZPL", "ZPL")], default="",
                                     validate_choice=False),  # the service checks it
    }
    base_order = ("priority", "asc")
    label_columns = {"code": "Code", "name": "Name", "address_line1": "Address", "city": "City",
                     "postcode": "Postcode", "country": "Country", "latitude": "Latitude",
                     "longitude": "Longitude", "priority": "Priority", "ships_to": "Ships to",
                     "active": "Active", "label_format": "Label format", "printer_address": "Label printer"}
    description_columns = {"priority": "Lower ships first", "country": "Two-letter ISO code",
                           "printer_address": "ZPL labels are sent to this network printer (host or host:port, "
                                              "port 9100 by default); empty: labels are downloaded"}

    def prefill_form(self, form, pk):
        warehouse = db.session.get(Warehouse, pk)
        form.ships_to.data = ", ".join(warehouse.ships_to or [])
        form.carriers.data = ", ".join(shipping_rules.carriers_of(db.session, pk))

    def save(self, form, pk):
        codes = [c for c in (part.strip() for part in (form.carriers.data or "").split(",")) if c]
        return shipping_rules.save_warehouse(db.session, self.form_values(form, self.show_columns), codes,
                                             current_actor(), pk)

    def remove(self, pk):
        return reference.delete(db.session, "warehouse", pk, current_actor())

    def describe(self, item):
        return f"Warehouse {item.code}"
