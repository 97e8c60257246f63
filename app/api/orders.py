"""/api/v1/order/: orders (read) and the order actions hold, release, note (Order/hold),
cancel, edit (Order/amend) and reallocate (Order/reallocate), each one service call."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..models import Order
from ..security import permissions as p
from app.services.orders import api_reads
from app.services.orders import edits as order_edits
from app.services.lifecycle import order_actions
from app.services.orders import actions as orders
from app.services.notify import customer_mail
from app.services.core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from .base import ReadOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.common import EmptyInSchema
from .schemas.orders import (
    AddLineInSchema, BulkInSchema, BulkOutSchema, CancelInSchema, CancelLinesInSchema,
    EditInSchema, EditLinesInSchema, HoldInSchema, NoteInSchema, OrderDetailSchema,
    OrderRefundInSchema, ReleaseInSchema, ResendInSchema, ResendOutSchema,
)
from .schemas.returns import RefundOutSchema
from app.services.core import settings
from app.services.returns import actions as returns

# POST /bulk: the permission (on Order) each action needs, checked per request.
BULK_PERMISSIONS = {"hold": p.HOLD, "release": p.HOLD, "cancel": p.AMEND,
                    "reallocate": p.REALLOCATE}

ORDER_LIST_COLUMNS = [
    "id", "order_number", "external_id", "channel_id", "channel.code", "customer_id",
    "customer_name", "email", "ship_country", "status", "financial_status",
    "fulfillment_status", "fulfilled_by_channel", "currency", "total", "total_base",
    "placed_at", "ship_by", "priority", "risk_score", "tags", "version",
]


class OrderApi(ReadOnlyApi):
    """Orders. Lists carry the number of open holds; GET /<pk> the whole order."""

    resource_name = "order"
    datamodel = WaybillInterface(Order, count_cap=True)
    class_permission_name = p.RESOURCE_ORDER
    method_permission_name = p.method_map(
        hold=p.HOLD, release=p.HOLD, note=p.HOLD, cancel=p.AMEND, edit=p.AMEND, refund=p.REFUND,
        reallocate=p.REALLOCATE, edit_lines=p.AMEND, cancel_lines=p.AMEND,
        # reachable by every reader of orders; the action's own permission is checked inside
        bulk=p.READ, resend=p.RESEND,
    )
    openapi_spec_tag = "Orders"
    openapi_spec_component_schemas = (
        OrderDetailSchema, HoldInSchema, ReleaseInSchema, CancelInSchema, NoteInSchema,
        EditInSchema, EmptyInSchema, CancelLinesInSchema, EditLinesInSchema, AddLineInSchema,
        BulkInSchema, BulkOutSchema, OrderRefundInSchema, RefundOutSchema, ResendInSchema,
        ResendOutSchema,
    )
    list_columns = ORDER_LIST_COLUMNS
    # Sorting only on indexed columns (placed_at, ship_by, order_number, customer_name,
    # status via (status, placed_at)); FAB adds the pk as tie-breaker.
    order_columns = ["id", "placed_at", "ship_by", "order_number", "customer_name", "status"]
    base_order = ("placed_at", "desc")
    # Equality on indexed keys and ranges on indexed dates only: no "contains" scans.
    # Free text (e-mail, name, tracking number) is /api/v1/search/.
    search_operators = {
        "status": ["eq", "neq", "in"],
        "financial_status": ["eq", "in"],
        "fulfillment_status": ["eq", "in"],
        "channel": ["rel_o_m"],
        "customer": ["rel_o_m"],
        "order_number": ["eq"],
        "external_id": ["eq"],
        "ship_country": ["eq", "in"],
        "placed_at": ["gt", "lt"],
        "ship_by": ["gt", "lt"],
    }
    detail_schema = OrderDetailSchema()

    def load_detail(self, pk: int):
        return api_reads.order_detail(db.session, pk)

    def pre_get_list(self, data: dict) -> None:
        super().pre_get_list(data)
        counts = api_reads.open_hold_counts(db.session, data.get("ids", []))
        for pk, row in zip(data.get("ids", []), data.get("result", [])):
            row["open_holds"] = counts.get(pk, 0)
            row["is_held"] = bool(counts.get(pk))

    def _order_response(self, pk: int):
        db.session.expire_all()
        order = api_reads.order_detail(db.session, pk)
        return self.response(200, id=pk, result=self.detail_schema.dump(order))

    @expose("/<int:pk>/hold", methods=["POST"])
    @protect()
    @safe
    @permission_name("hold")
    @domain_errors
    @documented("Place a hold on an order", body="HoldIn", result="OrderDetail")
    def hold(self, pk: int):
        body = load(HoldInSchema())
        orders.place_hold(db.session, pk, body["reason"] or "manual", body["note"], self.actor())
        return self._order_response(pk)

    @expose("/<int:pk>/release", methods=["POST"])
    @protect()
    @safe
    @permission_name("release")
    @domain_errors
    @documented("Release one hold (hold_id), the holds of a reason, or every open hold",
                body="ReleaseIn", result="OrderDetail")
    def release(self, pk: int):
        body = load(ReleaseInSchema())
        if not api_reads.order_exists(db.session, pk):
            raise NotFound(f"Order {pk} not found")
        holds = api_reads.open_holds(db.session, pk)
        if not holds:
            raise InvalidTransition(f"Order {pk} is not on hold",
                                    errors={"hold_id": ["the order has no open hold"]})
        if body["hold_id"] is not None and body["hold_id"] not in {h.id for h in holds}:
            raise ValidationFailed.field("hold_id", f"{body['hold_id']} is not an open hold "
                                                    "of this order")
        if body["reason"] is not None and body["reason"] not in {h.reason for h in holds}:
            raise ValidationFailed.field("reason", f"the order has no open '{body['reason']}' "
                                                   "hold")
        orders.release_hold(db.session, pk, self.actor(), hold_id=body["hold_id"],
                            reason=body["reason"], note=body["note"])
        return self._order_response(pk)

    @expose("/<int:pk>/cancel", methods=["POST"])
    @protect()
    @safe
    @permission_name("cancel")
    @domain_errors
    @documented("Cancel an order (releases its reservations)", body="CancelIn",
                result="OrderDetail")
    def cancel(self, pk: int):
        body = load(CancelInSchema())
        orders.cancel_order(db.session, pk, body["reason"], self.actor(), refund=body["refund"],
                            restock=body["restock"])
        return self._order_response(pk)

    @expose("/<int:pk>/refund", methods=["POST"])
    @protect()
    @safe
    @permission_name("refund")
    @domain_errors
    @documented("Refund an order without a return: an amount, or lines and shipping (never more than "
                "paid less refunded; Support up to the support refund limit). The refund is pending "
                "until the channel confirms it", body="OrderRefundIn", result="RefundOut", ok=201)
    def refund(self, pk: int):
        body = load(OrderRefundInSchema())
        limit = None
        if not self.appbuilder.sm.has_access(p.can(p.REFUND_ANY), p.RESOURCE_ORDER):
            limit = settings.get(db.session, "support_refund_limit")
        made = returns.refund(db.session, pk, body["amount"], body["reason"], self.actor(),
                              lines=body["lines"], shipping=body["shipping"], limit=limit)
        return self.response(201, id=made.id, result=RefundOutSchema().dump(made))
    @expose("/<int:pk>/resend", methods=["POST"])
    @protect()
    @safe
    @permission_name("resend")
    @domain_errors
    @documented("Send a customer mail again (a logged one, or the latest of an event), to "
                "the customer or another address; rendered afresh when the outbox sends it",
                body="ResendIn", result="ResendOut", ok=202, errors=(401, 403, 404, 422))
    def resend(self, pk: int):
        body = load(ResendInSchema())
        outbox_id = customer_mail.resend(db.session, pk, self.actor(),
                                         notification_id=body["notification_id"],
                                         event=body["event"], to=body["to"])
        return self.response(202, id=pk,
                             result=ResendOutSchema().dump({"outbox_id": outbox_id}))

    @expose("/<int:pk>/note", methods=["POST"])
    @protect()
    @safe
    @permission_name("note")
    @domain_errors
    @documented("Add a note to the order's timeline", body="NoteIn", result="OrderDetail")
    def note(self, pk: int):
        body = load(NoteInSchema())
        orders.add_note(db.session, pk, body["text"], self.actor())
        return self._order_response(pk)

    @expose("/<int:pk>/edit", methods=["POST"])
    @protect()
    @safe
    @permission_name("edit")
    @domain_errors
    @documented("Change the shipping and/or billing address (before picking), the contact "
                "e-mail or phone; expected_version is required", body="EditIn",
                result="OrderDetail")
    def edit(self, pk: int):
        body = load(EditInSchema())
        order_edits.edit_order(
            db.session, pk, self.actor(), expected_version=body["expected_version"],
            shipping_address=body["shipping_address"], billing_address=body["billing_address"],
            email=body["email"], phone=body["phone"],
        )
        return self._order_response(pk)

    @expose("/<int:pk>/reallocate", methods=["POST"])
    @protect()
    @safe
    @permission_name("reallocate")
    @domain_errors
    @documented("Release the order's reservations and allocate it again (before picking)",
                result="OrderDetail")
    def reallocate(self, pk: int):
        load(EmptyInSchema())
        order_actions.reallocate(db.session, pk, self.actor())
        return self._order_response(pk)

    @expose("/<int:pk>/lines", methods=["POST"])
    @protect()
    @safe
    @permission_name("edit_lines")
    @domain_errors
    @documented("Edit lines before picking: change quantities ({line id: quantity}), remove "
                "lines ([line id]), add lines by SKU ([{sku, quantity, unit_price}]); all or "
                "nothing, re-reserved at once; expected_version is required",
                body="EditLinesIn", result="OrderDetail")
    def edit_lines(self, pk: int):
        body = load(EditLinesInSchema())
        order_edits.edit_lines(db.session, pk, self.actor(),
                               expected_version=body["expected_version"],
                               quantities=body["quantities"], remove=body["remove"],
                               add=body["add"])
        return self._order_response(pk)

    @expose("/<int:pk>/cancel_lines", methods=["POST"])
    @protect()
    @safe
    @permission_name("cancel_lines")
    @domain_errors
    @documented("Cancel open (unshipped) units of lines ({line id: units}) with a reason; "
                "releases their reservations; the order is cancelled when nothing open "
                "remains; expected_version is required", body="CancelLinesIn",
                result="OrderDetail")
    def cancel_lines(self, pk: int):
        body = load(CancelLinesInSchema())
        order_edits.cancel_lines(db.session, pk, body["lines"], body["reason"],
                                 body["expected_version"], self.actor())
        return self._order_response(pk)

    @expose("/bulk", methods=["POST"])
    @protect()
    @safe
    @permission_name("bulk")
    @domain_errors
    @documented("Run hold, release, cancel or reallocate on many orders (each order its own "
                "transaction); answers which succeeded and which did not, and why. Needs the "
                "action's own permission (Order hold, amend or reallocate)", body="BulkIn",
                result="BulkOut", path=())
    def bulk(self):
        body = load(BulkInSchema())
        action = body["action"]
        if action not in BULK_PERMISSIONS:
            raise ValidationFailed.field("action", "must be one of " + ", ".join(BULK_PERMISSIONS))
        if not self.appbuilder.sm.has_access(p.can(BULK_PERMISSIONS[action]), p.RESOURCE_ORDER):
            raise PermissionDenied(f"You may not {action} orders",
                                   errors={"action": [f"needs Order/{BULK_PERMISSIONS[action]}"]})
        result = order_actions.bulk(db.session, action, body["ids"], self.actor(),
                                  reason=body["reason"], hold_reason=body["hold_reason"])
        return self.response(200, result=BulkOutSchema().dump(result))
