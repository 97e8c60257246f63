"""Returns and refunds: read-only lists and pages, plus creating a return from an order
(Return CREATE) and receiving it back in the warehouse (Return RECEIVE)."""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup

from ..extensions import db
from ..models import Refund, Return
from ..models.returns import REFUND_STATUSES, RETURN_STATUSES
from ..security import permissions as p
from app.services.returns import actions as return_service
from app.services.core.errors import ValidationFailed
from .base import (
    select_field,
    EagerSQLAInterface, FilterChoiceEqual, FilterChoiceNotEqual, ReadOnlyModelView, can,
    current_actor, flash_error, redirect_back, service_call,
)
from .common import order_cell
from .formatting import DASH, humanize, money, status_badge, utc


def _return_lines(lines) -> Markup:
    if not lines:
        return DASH
    return Markup("<br>").join(
        Markup("{}× <code>{}</code> {}{}").format(
            rl.quantity, rl.line.sku if rl.line else "?", rl.line.title if rl.line else "",
            Markup(' <span class="label label-default">{}</span>').format(rl.condition)
            if rl.condition else "")
        for rl in lines)


RETURN_DISPLAY = {
    "rma_number": lambda r: Markup('<a href="{}"><strong>{}</strong></a>').format(
        url_for("ReturnView.show", pk=r.id), r.rma_number),
    "order": order_cell,
    "status": lambda r: status_badge(r.status),
    "created_at": lambda r: utc(r.created_at),
    "received_at": lambda r: utc(r.received_at),
    "lines": lambda r: _return_lines(r.lines),
    "refunds": lambda r: Markup("<br>").join(
        Markup("{} {}").format(money(rf.amount, rf.currency), status_badge(rf.status))
        for rf in r.refunds) if r.refunds else DASH,
}


class ReturnView(ReadOnlyModelView):
    route_base = "/returns"
    datamodel = EagerSQLAInterface(
        Return, eager=("order",), display=RETURN_DISPLAY, count_cap=True,
        column_filters={"status": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_RETURN
    method_permission_name = p.method_map(create_return=p.CREATE, receive=p.RECEIVE)
    include_route_methods = {"list", "show", "create_return", "receive"}
    show_template = "oms/return_show.html"

    list_title = "Returns"
    show_title = "Return"
    list_columns = ["rma_number", "order", "status", "reason", "created_by", "created_at",
                    "received_at"]
    show_columns = ["rma_number", "order", "status", "reason", "lines", "refunds", "created_by",
                    "created_at", "received_at"]
    order_columns = ["rma_number", "status", "created_at", "received_at"]
    search_columns = ["rma_number", "status", "created_at", "received_at"]
    search_form_extra_fields = {
        "status": select_field("Status", [(s, humanize(s)) for s in RETURN_STATUSES]),
    }
    base_order = ("id", "desc")
    label_columns = {"rma_number": "RMA", "order": "Order", "status": "Status",
                     "reason": "Reason", "lines": "Units", "refunds": "Refunds",
                     "created_by": "Created by", "created_at": "Created",
                     "received_at": "Received"}

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        widgets = self._show(pk)  # 404 when missing
        ret = self.datamodel.get(pk)
        return self.render_template(
            self.show_template, pk=pk, title=f"Return {ret.rma_number}", widgets=widgets,
            related_views=self._related_views, ret=ret,
            can_receive=ret.status in ("requested", "authorized")
            and can(p.RECEIVE, p.RESOURCE_RETURN),
        )

    @expose("/order/<int:pk>/create", methods=["POST"])
    @has_access
    def create_return(self, pk):
        quantities = {}
        for key, value in request.form.items():
            if key.startswith("qty_") and value.strip() not in ("", "0"):
                quantities[key[4:]] = value.strip()
        if not quantities:
            flash_error(ValidationFailed.field("lines", "choose at least one line to return"))
        else:
            service_call(return_service.create_return, db.session, pk, quantities,
                         request.form.get("reason"), current_actor(),
                         success=lambda r: f"Return {r.rma_number} created")
        return redirect(url_for("OrderView.show", pk=pk))

    @expose("/<int:pk>/receive", methods=["POST"])
    @has_access
    def receive(self, pk):
        ret = db.session.get(Return, pk)
        if ret is None:
            abort(404)
        order_id = ret.order_id
        service_call(return_service.receive_return, db.session, pk, current_actor(),
                     success=lambda r: f"Return {r.rma_number} received")
        return redirect_back(url_for("OrderView.show", pk=order_id))


class RefundView(ReadOnlyModelView):
    route_base = "/refunds"
    datamodel = EagerSQLAInterface(
        Refund, eager=("order", "return_"),
        display={"order": order_cell,
                 "return_": lambda rf: Markup('<a href="{}">{}</a>').format(
                     url_for("ReturnView.show", pk=rf.return_.id), rf.return_.rma_number)
                 if rf.return_ else DASH,
                 "amount": lambda rf: money(rf.amount, rf.currency),
                 "status": lambda rf: status_badge(rf.status),
                 "created_at": lambda rf: utc(rf.created_at)},
        column_filters={"status": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_RETURN
    method_permission_name = p.method_map()

    list_title = "Refunds"
    show_title = "Refund"
    list_columns = ["id", "order", "return_", "amount", "status", "reason", "created_by",
                    "created_at"]
    show_columns = list_columns + ["external_id"]
    order_columns = ["id", "amount", "status", "created_at"]
    search_columns = ["status", "created_at"]
    search_form_extra_fields = {
        "status": select_field("Status", [(s, humanize(s)) for s in REFUND_STATUSES]),
    }
    base_order = ("id", "desc")
    label_columns = {"id": "Refund", "order": "Order", "return_": "Return", "amount": "Amount",
                     "status": "Status", "reason": "Reason", "created_by": "By",
                     "created_at": "When", "external_id": "Channel refund id"}
