"""Orders: the list (filters by channel, status, hold reason, dates), the order page with its
whole history, and the support actions (hold, release, note, cancel, edit address).

Every action is a POST with a CSRF token that calls one service function; a DomainError is
flashed and nothing is stored, success redirects back to the order with a flash.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup

from ..extensions import db
from ..models import Order
from ..models.orders import FINANCIAL_STATUSES, HOLD_REASONS, ORDER_STATUSES
from ..security import permissions as p
from app.services.channels.writeback import status as channel_status
from app.services.core import settings
from app.services.orders import edits as order_edits
from app.services.returns import actions as returns, policy as return_policy
from app.services.lifecycle import order_actions
from app.services.orders import queries as order_queries
from app.services.orders import actions as order_service
from app.services.core.errors import DomainError, NotFound, ValidationFailed
from app.services.core.validation import ADDRESS_FIELDS
from app.services.notify import customer_mail, mail_templates
from .base import (
    select_field,
    form_error_status,
    EagerSQLAInterface, FilterChoiceEqual, FilterChoiceNotEqual, FilterOpenHoldReason,
    OmsListWidget, OmsModelView, can, current_actor, flash_error, service_call,
)
from .formatting import HOLD_LABELS, hold_badges, humanize, money, status_badge, utc
from .returns import refund_made


def _order_link(order: Order) -> Markup:
    return Markup('<a href="{}"><strong>{}</strong></a>').format(
        url_for("OrderView.show", pk=order.id), order.order_number)


def _customer_cell(order: Order) -> Markup:
    name = order.customer_name or order.email or "—"
    if order.customer_id:
        return Markup('<a href="{}">{}</a>').format(
            url_for("CustomerView.show", pk=order.customer_id), name)
    return Markup("{}").format(name)


def _status_cell(order: Order) -> Markup:
    cell = status_badge(order.status)
    if order.local_edits:
        cell += Markup(' <i class="fa fa-exclamation-circle text-warning" '
                       'title="Changed in Waybill, not synced to the channel"></i>')
    return cell


def _choices(values, blank=None):
    items = [(v, humanize(v)) for v in values]
    return ([("", blank)] if blank else []) + items


ORDER_DISPLAY = {
    "order_number": _order_link,
    "channel": lambda o: Markup('<span class="label label-default">{}</span>').format(
        o.channel.code if o.channel else "—"),
    "customer_name": _customer_cell,
    "total": lambda o: money(o.total, o.currency),
    "status": _status_cell,
    "financial_status": lambda o: status_badge(o.financial_status),
    "holds": lambda o: hold_badges(o.holds),
    "placed_at": lambda o: utc(o.placed_at),
    "ship_by": lambda o: utc(o.ship_by),
}


# Bulk action name -> the permission (on Order) it needs: the list offers only these.
BULK_PERMISSIONS = {"hold": p.HOLD, "release": p.HOLD, "cancel": p.AMEND,
                    "reallocate": p.REALLOCATE}
BULK_DONE = {"hold": "Held", "release": "Released", "cancel": "Cancelled",
             "reallocate": "Re-allocated"}


class OrderListWidget(OmsListWidget):
    """The order list offers the bulk actions the signed-in user may run, no others."""

    def __init__(self, **kwargs):
        actions = kwargs.get("actions") or {}
        kwargs["actions"] = {name: item for name, item in actions.items()
                             if name in BULK_PERMISSIONS
                             and can(BULK_PERMISSIONS[name], p.RESOURCE_ORDER)}
        super().__init__(**kwargs)


class OrderView(OmsModelView):
    route_base = "/orders"
    datamodel = EagerSQLAInterface(
        Order, eager=("channel", "holds"), display=ORDER_DISPLAY, count_cap=True,
        column_filters={
            "holds": [FilterOpenHoldReason],
            "status": [FilterChoiceEqual, FilterChoiceNotEqual],
            "financial_status": [FilterChoiceEqual, FilterChoiceNotEqual],
            "sla_state": [FilterChoiceEqual],
        },
    )
    class_permission_name = p.RESOURCE_ORDER
    method_permission_name = p.method_map(
        hold=p.HOLD, release=p.HOLD, note=p.HOLD, cancel=p.AMEND, edit_address=p.AMEND,
        cancel_lines=p.AMEND, edit_lines=p.AMEND, refund=p.REFUND,
        # bulk actions on the list (FAB @action: the permission of the action's method)
        action_hold=p.HOLD, action_release=p.HOLD, action_cancel=p.AMEND,
        action_reallocate=p.REALLOCATE, bulk_hold=p.HOLD, bulk_cancel=p.AMEND,
        resend=p.RESEND,
    )
    include_route_methods = {"list", "show", "hold", "release", "note", "cancel", "edit_address",
                             "cancel_lines", "edit_lines", "action_post", "bulk_hold",
                             "bulk_cancel", "refund", "resend"}
    list_widget = OrderListWidget

    list_title = "Orders"
    show_title = "Order"
    list_columns = ["order_number", "channel", "customer_name", "email", "total", "status",
                    "holds", "placed_at", "ship_by"]
    order_columns = ["order_number", "email", "total", "status", "placed_at", "ship_by"]
    base_order = ("placed_at", "desc")
    search_columns = ["order_number", "email", "channel", "status", "financial_status", "holds",
                      "sla_state", "placed_at", "ship_by"]
    search_form_extra_fields = {
        "status": select_field("Status", _choices(ORDER_STATUSES)),
        "financial_status": select_field("Payment", _choices(FINANCIAL_STATUSES)),
        "holds": select_field("Open hold", [("*", "any reason")] + [
            (r, HOLD_LABELS.get(r, humanize(r))) for r in HOLD_REASONS]),
        "sla_state": select_field("SLA", [("at_risk", "at risk"), ("late", "late")]),
    }
    label_columns = {
        "order_number": "Order", "channel": "Channel", "customer_name": "Customer",
        "email": "E-mail", "total": "Total", "status": "Status", "financial_status": "Payment",
        "holds": "Open hold", "placed_at": "Placed", "ship_by": "Ship by", "sla_state": "SLA",
    }

    # --- the order page -----------------------------------------------------------------

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        detail = self._detail(pk)
        sync = channel_status.channel_view(db.session, detail.order.id)
        abilities = self._abilities()
        return self.render_template(
            "oms/order_show.html", detail=detail, order=detail.order, can=abilities, sync=sync,
            unsynced_edits=self._unsynced_edits(detail.order, sync),
            refund_limit=None if abilities["refund_any"] else settings.get(db.session, "support_refund_limit"),
            hold_reasons=[(r, HOLD_LABELS.get(r, humanize(r))) for r in HOLD_REASONS],
            return_reasons=return_policy.reasons(db.session) if abilities.get("create_return") else [],
            return_breakdowns={r.id: return_policy.breakdown(db.session, r) for r in detail.order.returns},
            editable=detail.order.status in order_service.EDITABLE_STATUSES,
            holdable=detail.order.status in order_service.HOLDABLE_STATUSES,
            cancellable=detail.order.status not in order_service.SHIPPED_STATUSES
            and detail.order.status != "cancelled",
            lines_cancellable=detail.order.status in order_edits.LINE_CANCELLABLE_STATUSES
            and any(line.quantity_open > 0 for line in detail.order.lines),
            mails=customer_mail.log_for_order(db.session, detail.order.id)
            if can(p.READ, p.RESOURCE_NOTIFICATION) else None,
            mail_events=mail_templates.EVENTS,
            ledger=order_queries.stock_ledger(db.session, detail.order.id)
            if can(p.READ, p.RESOURCE_STOCK) else None,
        )

    @staticmethod
    def _unsynced_edits(order, sync) -> dict:
        """Fields changed here the channel does not have: a cancel it confirmed is synced."""
        edits = dict(order.local_edits or {})
        if sync.cancel is not None and sync.cancel.status == "confirmed":
            edits.pop("status", None)
        return edits

    def _detail(self, pk):
        try:
            return order_queries.order_detail(db.session, int(pk))
        except (ValueError, NotFound):
            abort(404)

    @staticmethod
    def _abilities() -> dict[str, bool]:
        return {
            "hold": can(p.HOLD, p.RESOURCE_ORDER),
            "amend": can(p.AMEND, p.RESOURCE_ORDER),
            "fulfill": can(p.WRITE, p.RESOURCE_FULFILLMENT),
            "create_return": can(p.CREATE, p.RESOURCE_RETURN),
            "receive_return": can(p.RECEIVE, p.RESOURCE_RETURN),
            "refund": can(p.REFUND, p.RESOURCE_ORDER),
            "refund_any": can(p.REFUND_ANY, p.RESOURCE_ORDER),
            "retry_outbox": can(p.RETRY, p.RESOURCE_OUTBOX),
            "resend": can(p.RESEND, p.RESOURCE_ORDER),
        }

    def _back(self, pk):
        return redirect(url_for("OrderView.show", pk=pk))

    # --- actions ------------------------------------------------------------------------

    @expose("/<int:pk>/resend", methods=["POST"])
    @has_access
    def resend(self, pk):
        form = request.form
        service_call(customer_mail.resend, db.session, pk, current_actor(),
                     notification_id=form.get("notification_id") or None,
                     event=form.get("event") or None, to=(form.get("to") or "").strip() or None,
                     success="Mail queued: the outbox sends it within seconds")
        return self._back(pk)

    @expose("/<int:pk>/hold", methods=["POST"])
    @has_access
    def hold(self, pk):
        service_call(order_service.place_hold, db.session, pk, request.form.get("reason") or "",
                     request.form.get("note"), current_actor(),
                     success=lambda h: f"Order held: {HOLD_LABELS.get(h.reason, h.reason)}")
        return self._back(pk)

    @expose("/<int:pk>/release", methods=["POST"])
    @has_access
    def release(self, pk):
        note = (request.form.get("note") or "").strip()
        hold_id = request.form.get("hold_id") or None
        if not note:
            flash_error(ValidationFailed.field("note", "say why the hold is released"))
            return self._back(pk)
        try:
            hold_id = int(hold_id) if hold_id else None
        except ValueError:
            abort(400)
        service_call(order_service.release_hold, db.session, pk, current_actor(),
                     hold_id=hold_id, note=note,
                     success=lambda holds: "Released: " + ", ".join(
                         HOLD_LABELS.get(h.reason, h.reason) for h in holds))
        return self._back(pk)

    @expose("/<int:pk>/note", methods=["POST"])
    @has_access
    def note(self, pk):
        service_call(order_service.add_note, db.session, pk, request.form.get("text"),
                     current_actor(), success="Note added")
        return self._back(pk)

    @expose("/<int:pk>/cancel", methods=["POST"])
    @has_access
    def cancel(self, pk):
        service_call(order_service.cancel_order, db.session, pk, request.form.get("reason"),
                     current_actor(), refund=bool(request.form.get("refund")),
                     restock=bool(request.form.get("restock")), success="Order cancelled")
        return self._back(pk)

    @expose("/<int:pk>/refund", methods=["POST"])
    @has_access
    def refund(self, pk):
        form = request.form
        lines = {key[len("refund_"):]: value for key, value in form.items()
                 if key.startswith("refund_") and value.strip() not in ("", "0")}
        limit = None if can(p.REFUND_ANY, p.RESOURCE_ORDER) else settings.get(db.session, "support_refund_limit")
        service_call(returns.refund, db.session, pk, form.get("amount") or None, form.get("reason"),
                     current_actor(), lines=lines or None, shipping=form.get("shipping") or None, limit=limit,
                     success=refund_made)
        return self._back(pk)

    @expose("/<int:pk>/address", methods=["GET", "POST"])
    @has_access
    def edit_address(self, pk):
        kind = request.values.get("kind", "shipping")
        if kind not in ("shipping", "billing"):
            abort(404)
        order = self._detail(pk).order
        values = dict(getattr(order, f"{kind}_address") or {})
        version = order.version
        status, field_errors = 200, {}
        if request.method == "POST":
            values = {key: (request.form.get(key) or "").strip() or None for key in ADDRESS_FIELDS}
            version = request.form.get("version")
            try:
                order_service.edit_address(db.session, order.id, kind, values, version,
                                           current_actor())
            except DomainError as err:
                flash_error(err)
                status = form_error_status(err)
                field_errors = {name.rsplit(".", 1)[-1]: messages
                                for name, messages in (err.errors or {}).items()}
                db.session.rollback()
                order = self._detail(pk).order
            else:
                flash(f"{kind.capitalize()} address changed", "success")
                return self._back(pk)
        return self.render_template(
            "oms/order_address.html", order=order, kind=kind, values=values, version=version,
            fields=list(ADDRESS_FIELDS), field_errors=field_errors, editable=order.status in order_service.EDITABLE_STATUSES,
        ), status

    # --- lines: cancel units, edit before picking ----------------------------------------

    @expose("/<int:pk>/cancel_lines", methods=["POST"])
    @has_access
    def cancel_lines(self, pk):
        """Form fields ``cancel_<line id>`` (units to cancel), ``reason`` and ``version``."""
        quantities = {key.removeprefix("cancel_"): value.strip()
                      for key, value in request.form.items()
                      if key.startswith("cancel_") and value.strip() not in ("", "0")}
        service_call(order_edits.cancel_lines, db.session, pk, quantities,
                     request.form.get("reason"), request.form.get("version"), current_actor(),
                     success=lambda order: "Lines cancelled" + (
                         " — nothing open remains: the order is cancelled"
                         if order.status == "cancelled" else ""))
        return self._back(pk)

    @expose("/<int:pk>/lines", methods=["POST"])
    @has_access
    def edit_lines(self, pk):
        """Form fields ``qty_<line id>`` (new quantity), ``remove_<line id>`` (a ticked box),
        ``add_sku``/``add_quantity``/``add_price`` (one new line) and ``version``."""
        form = request.form
        removed = [key.removeprefix("remove_") for key in form if key.startswith("remove_")]
        quantities = {key.removeprefix("qty_"): value.strip() for key, value in form.items()
                      if key.startswith("qty_") and key.removeprefix("qty_") not in removed}
        add = []
        if (form.get("add_sku") or "").strip():
            add.append({"sku": form.get("add_sku"), "quantity": (form.get("add_quantity") or "").strip(),
                        "unit_price": (form.get("add_price") or "").strip() or None})
        service_call(order_edits.edit_lines, db.session, pk, current_actor(),
                     expected_version=form.get("version"), quantities=quantities,
                     remove=removed, add=add, success="Lines changed and stock reserved again")
        return self._back(pk)

    # --- bulk actions on the list -----------------------------------------------------------

    @action("hold", "Hold", icon="fa-pause", single=False)
    def action_hold(self, items):
        return self._bulk_confirm("hold", items)

    @action("release", "Release holds", "Release every open hold of the selected orders?",
            icon="fa-play", single=False)
    def action_release(self, items):
        return self._bulk_run("release", [item.id for item in items if item is not None],
                              reason="bulk release")

    @action("reallocate", "Re-allocate", "Release and allocate the selected orders again?",
            icon="fa-refresh", single=False)
    def action_reallocate(self, items):
        return self._bulk_run("reallocate", [item.id for item in items if item is not None])

    @action("cancel", "Cancel", icon="fa-ban", single=False)
    def action_cancel(self, items):
        return self._bulk_confirm("cancel", items)

    def _bulk_confirm(self, name, items):
        """Hold and cancel need a reason: a small page with the selection and the form."""
        items = [item for item in items if item is not None]
        if not items:
            flash("Select at least one order", "warning")
            return redirect(url_for("OrderView.list"))
        return self.render_template(
            "oms/order_bulk_confirm.html", bulk_action=name, orders=items,
            endpoint=f"OrderView.bulk_{name}",
            hold_reasons=[(r, HOLD_LABELS.get(r, humanize(r))) for r in HOLD_REASONS])

    def _bulk_run(self, name, ids, reason=None, hold_reason="manual"):
        try:
            result = order_actions.bulk(db.session, name, ids, current_actor(), reason=reason,
                                      hold_reason=hold_reason)
        except DomainError as err:
            flash_error(err)
            return redirect(url_for("OrderView.list"))
        done, failed = result["succeeded"], result["failed"]
        total = len(done) + len(failed)
        flash(f"{BULK_DONE[name]} {len(done)} of {total} order(s)",
              "success" if not failed else "warning")
        for entry in failed[:25]:
            label = entry["order_number"] or f"#{entry['id']}"
            flash(f"Not {BULK_DONE[name].lower()}: {label} — {entry['message']}", "danger")
        if len(failed) > 25:
            flash(f"… and {len(failed) - 25} more not {BULK_DONE[name].lower()}", "danger")
        return redirect(url_for("OrderView.list"))

    def _bulk_ids(self):
        return [value for value in request.form.getlist("ids") if value.strip()]

    @expose("/bulk/hold", methods=["POST"])
    @has_access
    def bulk_hold(self):
        return self._bulk_run("hold", self._bulk_ids(), reason=request.form.get("reason"),
                              hold_reason=request.form.get("hold_reason") or "manual")

    @expose("/bulk/cancel", methods=["POST"])
    @has_access
    def bulk_cancel(self):
        return self._bulk_run("cancel", self._bulk_ids(), reason=request.form.get("reason"))
