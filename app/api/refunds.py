"""/api/v1/refund/ (Order/read): refunds with filters (status, order, who asked); the ones
above a Support agent's limit wait as ``pending_approval`` until an Admin (Order/refund_any)
approves them (POST /<pk>/approve: then they go to the channel as any refund) or rejects them
(POST /<pk>/reject): services/returns/approvals.py."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..models import Refund
from ..security import permissions as p
from app.services.returns import approvals
from .base import ReadOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.common import EmptyInSchema
from .schemas.returns import RefundOutSchema, RefundRejectInSchema


class RefundApi(ReadOnlyApi):
    resource_name = "refund"
    datamodel = WaybillInterface(Refund)
    # refunds are the order's money: read with the order, decided with "refund any amount"
    class_permission_name = p.RESOURCE_ORDER
    method_permission_name = p.method_map(approve=p.REFUND_ANY, reject=p.REFUND_ANY)
    openapi_spec_tag = "Refunds"
    openapi_spec_component_schemas = (RefundRejectInSchema,)
    list_columns = [
        "id", "order_id", "return_id", "amount", "currency", "shipping", "reason", "status", "source",
        "external_id", "error", "created_by", "created_at", "updated_at",
    ]
    show_columns = list_columns + ["lines"]
    order_columns = ["id"]
    base_order = ("id", "desc")
    search_operators = {"status": ["eq", "in"], "order": ["rel_o_m"], "created_by": ["eq"],
                        "created_at": ["gt", "lt"]}

    def _decided(self, row: Refund):
        db.session.expire_all()
        return self.response(200, id=row.id, result=RefundOutSchema().dump(db.session.get(Refund, row.id)))

    @expose("/<int:pk>/approve", methods=["POST"])
    @protect()
    @safe
    @permission_name("approve")
    @domain_errors
    @documented("Approve a refund waiting for approval (above the asker's limit): it goes to the channel "
                "as any refund (pending until the channel confirms it). Nobody approves their own",
                result="RefundOut")
    def approve(self, pk: int):
        load(EmptyInSchema())
        return self._decided(approvals.approve(db.session, pk, self.actor()))

    @expose("/<int:pk>/reject", methods=["POST"])
    @protect()
    @safe
    @permission_name("reject")
    @domain_errors
    @documented("Reject a refund waiting for approval, with the reason the asker reads: its amount may "
                "be refunded again", body="RefundRejectIn", result="RefundOut")
    def reject(self, pk: int):
        body = load(RefundRejectInSchema())
        return self._decided(approvals.reject(db.session, pk, body["reason"], self.actor()))
