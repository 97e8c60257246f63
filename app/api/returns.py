"""/api/v1/return/: returns (RMAs) with their lines and refunds, and the return actions
(services/returns/actions.py): create (Support), receive with restocking (Warehouse), refund
(Admin). Never written through FAB's generic endpoints."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import Return, ReturnLine
from ..security import permissions as p
from app.services.returns import actions as returns
from app.services.core.errors import NotFound
from app.services.core.validation import Errors
from .base import ReadOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.common import EmptyInSchema
from .schemas.returns import RefundInSchema, ReturnDetailSchema, ReturnInSchema


class ReturnApi(ReadOnlyApi):
    resource_name = "return"
    datamodel = WaybillInterface(Return)
    class_permission_name = p.RESOURCE_RETURN
    method_permission_name = p.method_map(create_return=p.CREATE, receive=p.RECEIVE,
                                          refund=p.REFUND)
    openapi_spec_tag = "Returns"
    openapi_spec_component_schemas = (ReturnInSchema, RefundInSchema, ReturnDetailSchema)
    list_columns = [
        "id", "rma_number", "order_id", "order.order_number", "status", "reason", "created_by",
        "created_at", "received_at",
    ]
    order_columns = ["id", "rma_number"]
    base_order = ("id", "desc")
    search_operators = {"order": ["rel_o_m"], "status": ["eq", "in"], "rma_number": ["eq"]}
    detail_schema = ReturnDetailSchema()

    def load_detail(self, pk: int):
        return db.session.scalar(
            select(Return).where(Return.id == pk).options(
                joinedload(Return.order),
                selectinload(Return.lines).joinedload(ReturnLine.line),
                selectinload(Return.refunds),
            ).execution_options(populate_existing=True)
        )

    def _result(self, status: int, pk: int):
        db.session.expire_all()
        return self.response(status, id=pk, result=self.detail_schema.dump(self.load_detail(pk)))

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("create_return")
    @domain_errors
    @documented("Open a return for shipped units of an order", path=(), body="ReturnIn",
                result="ReturnDetail", ok=201)
    def create_return(self):
        body = load(ReturnInSchema())
        quantities, errors = {}, Errors()
        for key, quantity in body["lines"].items():
            try:
                quantities[int(key)] = quantity
            except ValueError:
                errors.add(f"lines.{key}", "is not an order line id")
        errors.raise_if_any("The return is not valid")
        ret = returns.create_return(db.session, body["order_id"], quantities, body["reason"],
                                    self.actor())
        return self._result(201, ret.id)

    @expose("/<int:pk>/receive", methods=["POST"])
    @protect()
    @safe
    @permission_name("receive")
    @domain_errors
    @documented("The returned goods arrived: count them back into stock",
                result="ReturnDetail")
    def receive(self, pk: int):
        load(EmptyInSchema())
        returns.receive_return(db.session, pk, self.actor())
        return self._result(200, pk)

    @expose("/<int:pk>/refund", methods=["POST"])
    @protect()
    @safe
    @permission_name("refund")
    @domain_errors
    @documented("Refund money against a return (at most the order total)",
                body="RefundIn", result="ReturnDetail", ok=201)
    def refund(self, pk: int):
        body = load(RefundInSchema())
        order_id = db.session.scalar(select(Return.order_id).where(Return.id == pk))
        if order_id is None:
            raise NotFound(f"Return {pk} not found")
        returns.refund(db.session, order_id, body["amount"], body["reason"], self.actor(),
                       return_id=pk)
        return self._result(201, pk)
