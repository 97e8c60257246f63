"""Returns and refunds: lists and pages; creating a return from an order (Return CREATE),
authorizing or rejecting it (Return AUTHORIZE), the scan-friendly receiving station with
inspection and disposition (Return RECEIVE) and the refund button with the policy's
breakdown (Return REFUND; Support up to their limit)."""
from __future__ import annotations

import io

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup

from ..extensions import db
from ..models import Channel, Refund, Return, Warehouse
from ..models.returns import DISPOSITIONS, GRADES, REFUND_STATUSES, RETURN_STATUSES
from ..security import permissions as p
from app.services.core import settings
from app.services.fulfilment import return_labels
from app.services.returns import (actions as return_service, approvals, exchanges, listing as return_listing,
                                  policy, subscribers as return_events)
from app.services.core.errors import DomainError, ValidationFailed
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
    "parcel_status": lambda r: Markup("{} <small class=\"text-muted\">{}</small>").format(
        return_events.parcel_text(r.parcel_status), utc(r.parcel_event_at)) if r.parcel_status else DASH,
    "refunds": lambda r: Markup("<br>").join(
        Markup("{} {}").format(money(rf.amount, rf.currency), status_badge(rf.status))
        for rf in r.refunds) if r.refunds else DASH,
}


def lines_from_form(form) -> dict:
    """The lines asked on a return form (staff's or the customer's): qty_<line>, reason_<line>,
    note_<line> -> {line id: {"quantity", "reason", "note"}} for the lines with units."""
    lines = {}
    for key, value in form.items():
        if key.startswith("qty_") and value.strip() not in ("", "0"):
            line_id = key[4:]
            lines[line_id] = {"quantity": value.strip(), "reason": form.get(f"reason_{line_id}"),
                              "note": form.get(f"note_{line_id}") or None}
    return lines


def label_file(ret: Return):
    """The return label as a download (the return page, the customer's page)."""
    pdf = ret.label_format in (None, "PDF")
    return send_file(io.BytesIO(ret.label_data), mimetype="application/pdf" if pdf else "application/octet-stream",
                     as_attachment=True, download_name=f"{ret.rma_number}-label.{'pdf' if pdf else 'zpl'}")


def refund_made(rf: Refund) -> str:
    """The flash after a refund button: made, sent to the channel, or waiting for an Admin."""
    what = {"pending": "sent to the channel", "succeeded": "made",
            "pending_approval": "is above your limit: it waits for an Admin's approval"}
    return f"Refund of {rf.amount} {rf.currency} {what.get(rf.status, rf.status)}"


def _return_or_404(pk) -> Return:
    ret = db.session.get(Return, pk)
    if ret is None:
        abort(404)
    return ret


class ReturnView(ReadOnlyModelView):
    route_base = "/returns"
    datamodel = EagerSQLAInterface(
        Return, eager=("order",), display=RETURN_DISPLAY, count_cap=True,
        column_filters={"status": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_RETURN
    method_permission_name = p.method_map(
        create_return=p.CREATE, receive=p.RECEIVE, authorize=p.AUTHORIZE, reject=p.AUTHORIZE,
        buy_label=p.AUTHORIZE, label=p.READ, refund=p.REFUND, exchange=p.AUTHORIZE, exchange_paid=p.AUTHORIZE)
    include_route_methods = {"list", "show", "create_return", "receive", "authorize", "reject", "buy_label",
                             "label", "refund", "exchange", "exchange_paid"}
    show_template = "oms/return_show.html"

    list_title = "Returns"
    show_title = "Return"
    list_columns = ["rma_number", "order", "status", "parcel_status", "reason", "created_by", "created_at",
                    "received_at"]
    show_columns = ["rma_number", "order", "status", "parcel_status", "reason", "lines", "refunds", "created_by",
                    "created_at", "received_at"]
    order_columns = ["rma_number", "status", "created_at", "received_at"]
    search_columns = ["rma_number", "status", "created_at", "received_at"]
    search_form_extra_fields = {
        "status": select_field("Status", [(s, humanize(s)) for s in RETURN_STATUSES]),
    }
    base_order = ("id", "desc")
    label_columns = {"rma_number": "RMA", "order": "Order", "status": "Status", "parcel_status": "Return parcel",
                     "reason": "Reason", "lines": "Units", "refunds": "Refunds",
                     "created_by": "Created by", "created_at": "Created",
                     "received_at": "Received"}

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        widgets = self._show(pk)  # 404 when missing
        ret = self.datamodel.get(pk)
        refund_any = can(p.REFUND_ANY, p.RESOURCE_ORDER)
        return self.render_template(
            self.show_template, pk=pk, title=f"Return {ret.rma_number}", widgets=widgets,
            related_views=self._related_views, ret=ret, breakdown=policy.breakdown(db.session, ret),
            reasons={r.code: r for r in policy.reasons(db.session, active_only=False)},
            can_receive=ret.status in return_service.RECEIVABLE + ("received",) and can(p.RECEIVE, p.RESOURCE_RETURN),
            can_authorize=can(p.AUTHORIZE, p.RESOURCE_RETURN),
            can_refund=can(p.REFUND, p.RESOURCE_RETURN) and ret.status in ("received", "inspected", "closed"),
            refund_limit=None if refund_any else settings.get(db.session, "support_refund_limit"),
        )

    @expose("/order/<int:pk>/create", methods=["POST"])
    @has_access
    def create_return(self, pk):
        lines = lines_from_form(request.form)
        if not lines:
            flash_error(ValidationFailed.field("lines", "choose at least one line to return"))
        else:
            service_call(return_service.create_return, db.session, pk, lines,
                         request.form.get("reason"), current_actor(),
                         success=lambda r: f"Return {r.rma_number} created")
        return redirect(url_for("OrderView.show", pk=pk))

    @expose("/<int:pk>/receive", methods=["POST"])
    @has_access
    def receive(self, pk):
        """Everything on the return arrived (no item-by-item scan)."""
        order_id = _return_or_404(pk).order_id
        service_call(return_service.receive_return, db.session, pk, current_actor(),
                     success=lambda r: f"Return {r.rma_number} received: inspect it")
        return redirect_back(url_for("OrderView.show", pk=order_id))

    @expose("/<int:pk>/authorize", methods=["POST"])
    @has_access
    def authorize(self, pk):
        _return_or_404(pk)
        if service_call(return_service.authorize, db.session, pk, current_actor(),
                        success=lambda r: f"Return {r.rma_number} authorized"):
            self._label_if_due(pk)
        return redirect(url_for("ReturnView.show", pk=pk))

    def _label_if_due(self, pk) -> None:
        if return_service.label_due(db.session, pk):
            ret = return_labels.buy(db.session, pk, current_actor())
            if ret.label_error:
                flash(f"No return label: {ret.label_error}", "warning")

    @expose("/<int:pk>/buy_label", methods=["POST"])
    @has_access
    def buy_label(self, pk):
        _return_or_404(pk)
        self._label_if_due(pk)
        return redirect(url_for("ReturnView.show", pk=pk))

    @expose("/<int:pk>/label", methods=["GET"])
    @has_access
    def label(self, pk):
        ret = _return_or_404(pk)
        if not ret.label_data:
            abort(404)
        return label_file(ret)

    @expose("/<int:pk>/exchange", methods=["POST"])
    @has_access
    def exchange(self, pk):
        """Items instead of money: "SKU=units" pairs, comma-separated."""
        _return_or_404(pk)
        items = {}
        for part in (request.form.get("items") or "").split(","):
            sku, _, units = part.partition("=")
            if sku.strip():
                items[sku.strip()] = units.strip() or "1"
        service_call(exchanges.create_exchange, db.session, pk, items, current_actor(),
                     success=lambda o: f"Exchange order {o.order_number} created")
        return redirect(url_for("ReturnView.show", pk=pk))

    @expose("/<int:pk>/exchange/paid", methods=["POST"])
    @has_access
    def exchange_paid(self, pk):
        _return_or_404(pk)
        service_call(exchanges.mark_paid, db.session, pk, current_actor(), success="Difference marked paid")
        return redirect(url_for("ReturnView.show", pk=pk))

    @expose("/<int:pk>/reject", methods=["POST"])
    @has_access
    def reject(self, pk):
        _return_or_404(pk)
        service_call(return_service.reject, db.session, pk, request.form.get("reason"), current_actor(),
                     success=lambda r: f"Return {r.rma_number} rejected")
        return redirect(url_for("ReturnView.show", pk=pk))

    @expose("/<int:pk>/refund", methods=["POST"])
    @has_access
    def refund(self, pk):
        _return_or_404(pk)
        limit = None if can(p.REFUND_ANY, p.RESOURCE_ORDER) else settings.get(db.session, "support_refund_limit")
        service_call(return_service.refund_return, db.session, pk, current_actor(),
                     amount=request.form.get("amount") or None, reason=request.form.get("reason") or None,
                     limit=limit, success=refund_made)
        return redirect(url_for("ReturnView.show", pk=pk))


class ReturnStationView(BaseView):
    """The receiving station (Warehouse; scan-friendly, like the pack station): scan the RMA,
    the return label or the order number, then each item; grade and dispose of each line."""
    route_base = "/returns/receiving"
    default_view = "station"
    class_permission_name = p.RESOURCE_RETURN
    method_permission_name = {"station": p.RECEIVE, "receiving": p.RECEIVE, "scan": p.RECEIVE,
                              "inspect": p.RECEIVE}

    @expose("/", methods=["GET"])
    @has_access
    def station(self):
        """Scan the RMA, the return label or the order number."""
        code = (request.args.get("code") or "").strip()
        if code:
            try:
                return redirect(url_for("ReturnStationView.receiving", pk=return_service.find(db.session, code).id))
            except DomainError as err:
                flash_error(err)
        return self.render_template("oms/return_station.html", ret=None)

    @expose("/<int:pk>", methods=["GET"])
    @has_access
    def receiving(self, pk):
        ret = _return_or_404(pk)
        return self.render_template(
            "oms/return_station.html", ret=ret, grades=GRADES, dispositions=DISPOSITIONS,
            warehouses=db.session.query(Warehouse).filter(Warehouse.active.is_(True)).order_by(Warehouse.code).all(),
            reasons={r.code: r for r in policy.reasons(db.session, active_only=False)})

    @expose("/<int:pk>/scan", methods=["POST"])
    @has_access
    def scan(self, pk):
        _return_or_404(pk)
        try:
            ok, text = return_service.scan_item(db.session, pk, request.form.get("code"), current_actor())
            flash(text, "success" if ok else "danger")
        except DomainError as err:
            flash_error(err)
        return redirect(url_for("ReturnStationView.receiving", pk=pk))

    @expose("/<int:pk>/inspect", methods=["POST"])
    @has_access
    def inspect(self, pk):
        ret = _return_or_404(pk)
        form = request.form
        lines = {rl.id: {"grade": form.get(f"grade_{rl.id}"), "disposition": form.get(f"disposition_{rl.id}"),
                         "warehouse_id": form.get(f"warehouse_{rl.id}") or None, "note": form.get(f"note_{rl.id}")}
                 for rl in ret.lines}
        if service_call(return_service.inspect, db.session, pk, lines, current_actor(),
                        success=lambda r: f"Return {r.rma_number} inspected"):
            return redirect(url_for("ReturnStationView.station"))
        return redirect(url_for("ReturnStationView.receiving", pk=pk))


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


class RefundApprovalView(BaseView):
    """Refunds above a Support agent's limit, waiting for an Admin (Order refund_any): approve
    (it goes to the channel as any refund) or reject (with a reason the asker reads)."""
    route_base = "/refunds/approval"
    default_view = "index"
    class_permission_name = p.RESOURCE_ORDER
    method_permission_name = {"index": p.REFUND_ANY, "approve": p.REFUND_ANY, "reject": p.REFUND_ANY}

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        return self.render_template("oms/refund_approval.html", refunds=approvals.awaiting(db.session),
                                    me=current_actor().label)

    @expose("/<int:pk>/approve", methods=["POST"])
    @has_access
    def approve(self, pk):
        service_call(approvals.approve, db.session, pk, current_actor(),
                     success=lambda rf: f"Refund of {rf.amount} {rf.currency} approved: "
                                        + ("sent to the channel" if rf.status == "pending" else "made"))
        return redirect(url_for("RefundApprovalView.index"))

    @expose("/<int:pk>/reject", methods=["POST"])
    @has_access
    def reject(self, pk):
        service_call(approvals.reject, db.session, pk, request.form.get("reason"), current_actor(),
                     success=lambda rf: f"Refund of {rf.amount} {rf.currency} rejected")
        return redirect(url_for("RefundApprovalView.index"))


class ReturnReasonView(BaseView):
    """The reason codes admins keep (Settings: Admin writes; a code is never deleted, only
    switched off: old returns name it)."""
    route_base = "/return-reasons"
    default_view = "index"
    class_permission_name = p.RESOURCE_SETTING
    method_permission_name = {"index": p.READ, "save": p.WRITE}

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        return self.render_template("oms/return_reasons.html",
                                    reasons=policy.reasons(db.session, active_only=False),
                                    can_write=can(p.WRITE, p.RESOURCE_SETTING))

    @expose("/save", methods=["POST"])
    @has_access
    def save(self):
        form = request.form
        values = {key: form.get(key) for key in ("code", "label", "position") if form.get(key) is not None}
        values |= {flag: form.get(flag) == "on" for flag in ("our_fault", "needs_note", "active")}
        service_call(policy.save_reason, db.session, values, current_actor(),
                     reason_id=form.get("id") or None, success=lambda r: f"Reason {r.code} saved")
        return redirect(url_for("ReturnReasonView.index"))


class ReturnQueueView(BaseView):
    """The returns list with filters by reason, state, channel and age (overdue: expected at
    the warehouse for longer than the policy's days)."""
    route_base = "/returns/queue"
    default_view = "index"
    class_permission_name = p.RESOURCE_RETURN
    method_permission_name = {"index": p.READ}

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        args = request.args
        channel = args.get("channel_id", "")
        rows = return_listing.search(db.session, reason=args.get("reason") or None,
                                     status=args.get("status") or None,
                                     channel_id=int(channel) if channel.isdigit() else None,
                                     overdue=args.get("age") == "overdue")
        return self.render_template(
            "oms/return_queue.html", rows=rows, args=args, statuses=RETURN_STATUSES,
            reasons=policy.reasons(db.session, active_only=False),
            channels=db.session.query(Channel).order_by(Channel.code).all(),
            expected_days=settings.get(db.session, "return_expected_days"))
