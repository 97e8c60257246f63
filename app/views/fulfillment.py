"""Fulfillment: shipments (with tracking) and pick lists, read-only lists and pages; the
warehouse actions on an order (start picking, packed, ship) live here because they are
Fulfillment permissions (services/fulfilment/shipments.py)."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup

from ..extensions import db
from ..models import PickList, Shipment
from ..models.fulfillment import PICK_LIST_STATUSES, SHIPMENT_STATUSES
from ..security import permissions as p
from app.services.fulfilment import shipments as fulfillment_service
from .base import (
    select_field,
    EagerSQLAInterface, FilterChoiceEqual, FilterChoiceNotEqual, ReadOnlyModelView,
    current_actor, service_call,
)
from .common import code_cell, order_cell
from .formatting import DASH, humanize, money, status_badge, utc


def _tracking_events(events) -> Markup:
    if not events:
        return DASH
    rows = [Markup("<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>").format(
        utc(e.occurred_at), status_badge(e.status), e.carrier_code or "", e.description or "",
        e.location or "") for e in events]
    return Markup('<table class="table table-condensed" style="margin:0">'
                  "<tr><th>When</th><th>Status</th><th>Carrier code</th><th>Carrier's words</th>"
                  "<th>Where</th></tr>{}</table>").format(Markup("").join(rows))


def _shipment_lines(lines) -> Markup:
    if not lines:
        return DASH
    return Markup(", ").join(Markup("{}× <code>{}</code>").format(
        sl.quantity, sl.line.sku if sl.line else "?") for sl in lines)


SHIPMENT_DISPLAY = {
    "id": lambda s: Markup('<a href="{}">{}</a>').format(url_for("ShipmentLabelView.detail", pk=s.id), s.id),
    "order": order_cell,
    "warehouse": code_cell("warehouse"),
    "status": lambda s: status_badge(s.status),
    "tracking_number": lambda s: Markup("<code>{}</code>").format(s.tracking_number)
    if s.tracking_number else DASH,
    "cost": lambda s: money(s.cost, s.currency),
    "created_at": lambda s: utc(s.created_at),
    "shipped_at": lambda s: utc(s.shipped_at),
    "delivered_at": lambda s: utc(s.delivered_at),
    "tracking_events": lambda s: _tracking_events(s.tracking_events),
    "lines": lambda s: _shipment_lines(s.lines),
}


class ShipmentView(ReadOnlyModelView):
    route_base = "/shipments"
    datamodel = EagerSQLAInterface(
        Shipment, eager=("order", "warehouse"), display=SHIPMENT_DISPLAY, count_cap=True,
        column_filters={"status": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_FULFILLMENT
    method_permission_name = p.method_map(start_picking=p.WRITE, mark_packed=p.WRITE, ship=p.WRITE)
    include_route_methods = {"list", "show", "start_picking", "mark_packed", "ship"}

    list_title = "Shipments"
    show_title = "Shipment"
    list_columns = ["id", "order", "warehouse", "carrier", "tracking_number", "status",
                    "shipped_at", "delivered_at"]
    order_columns = ["id", "carrier", "tracking_number", "status", "shipped_at", "delivered_at"]
    show_columns = ["id", "order", "warehouse", "carrier", "service", "tracking_number", "status",
                    "cost", "lines", "created_by", "created_at", "shipped_at", "delivered_at",
                    "tracking_events"]
    search_columns = ["tracking_number", "carrier", "status", "warehouse", "shipped_at"]
    search_form_extra_fields = {
        "status": select_field("Status", [(s, humanize(s)) for s in SHIPMENT_STATUSES]),
    }
    base_order = ("id", "desc")
    label_columns = {"id": "Shipment", "order": "Order", "warehouse": "From", "carrier": "Carrier",
                     "service": "Service", "tracking_number": "Tracking number",
                     "status": "Status", "cost": "Cost", "lines": "Units",
                     "created_by": "Created by", "created_at": "Created",
                     "shipped_at": "Shipped", "delivered_at": "Delivered",
                     "tracking_events": "Tracking events"}

    def _back(self, pk):
        return redirect(url_for("OrderView.show", pk=pk))

    @expose("/order/<int:pk>/start-picking", methods=["POST"])
    @has_access
    def start_picking(self, pk):
        service_call(fulfillment_service.start_picking, db.session, pk, current_actor(),
                     success="Picking started")
        return self._back(pk)

    @expose("/order/<int:pk>/packed", methods=["POST"])
    @has_access
    def mark_packed(self, pk):
        service_call(fulfillment_service.mark_packed, db.session, pk, current_actor(),
                     success="Marked as packed")
        return self._back(pk)

    @expose("/order/<int:pk>/ship", methods=["POST"])
    @has_access
    def ship(self, pk):
        service_call(fulfillment_service.ship, db.session, pk, current_actor(),
                     carrier=request.form.get("carrier") or None,
                     tracking_number=request.form.get("tracking_number") or None,
                     success=lambda s: f"Shipped (shipment {s.id})")
        return self._back(pk)


class PickListView(ReadOnlyModelView):
    route_base = "/pick-lists"
    datamodel = EagerSQLAInterface(
        PickList, eager=("warehouse",),
        display={"warehouse": code_cell("warehouse"),
                 "status": lambda pl: status_badge(pl.status),
                 "created_at": lambda pl: utc(pl.created_at),
                 "completed_at": lambda pl: utc(pl.completed_at)},
        column_filters={"status": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_FULFILLMENT
    method_permission_name = p.method_map()

    list_title = "Pick lists"
    show_title = "Pick list"
    list_columns = ["id", "warehouse", "status", "assigned_to", "created_by", "created_at",
                    "completed_at"]
    show_columns = list_columns
    order_columns = ["id", "status", "created_at", "completed_at"]
    search_columns = ["warehouse", "status", "assigned_to", "created_at"]
    search_form_extra_fields = {
        "status": select_field("Status", [(s, humanize(s)) for s in PICK_LIST_STATUSES]),
    }
    base_order = ("id", "desc")
    label_columns = {"id": "Pick list", "warehouse": "Warehouse", "status": "Status",
                     "assigned_to": "Assigned to", "created_by": "Created by",
                     "created_at": "Created", "completed_at": "Completed"}
