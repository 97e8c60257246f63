"""/api/v1/return/: returns (RMAs) with their lines and refunds, and the return actions
(services/returns/actions.py): create (Support), authorize / reject (Support), receive with
inspection and disposition (Warehouse), refund by the policy's calculation (Support up to
their limit). Never written through FAB's generic endpoints."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import Return, ReturnLine
from ..security import permissions as p
from app.services.core import settings
from app.services.fulfilment import return_labels
from app.services.returns import actions as returns, exchanges, policy
from app.services.core.validation import Errors
from .base import ReadOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.common import EmptyInSchema
from .schemas.returns import (ExchangeInSchema, ReturnReceiveInSchema, RefundInSchema, RejectInSchema, ReturnDetailSchema,
                              ReturnInSchema)


class ReturnApi(ReadOnlyApi):
    resource_name = "return"
    datamodel = WaybillInterface(Return)
    class_permission_name = p.RESOURCE_RETURN
    method_permission_name = p.method_map(create_return=p.CREATE, receive=p.RECEIVE,
                                          refund=p.REFUND, authorize=p.AUTHORIZE, reject=p.AUTHORIZE,
                                          exchange=p.AUTHORIZE, exchange_paid=p.AUTHORIZE)
    openapi_spec_tag = "Returns"
    openapi_spec_component_schemas = (ReturnInSchema, RefundInSchema, ReturnDetailSchema, RejectInSchema,
                                      ReturnReceiveInSchema, ExchangeInSchema)
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
        ret = self.load_detail(pk)
        result = self.detail_schema.dump(ret)
        result["breakdown"] = policy.breakdown(db.session, ret).as_dict()
        return self.response(status, id=pk, result=result)

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("create_return")
    @domain_errors
    @documented("Open a return for shipped units of an order", path=(), body="ReturnIn",
                result="ReturnDetail", ok=201)
    def create_return(self):
        body = load(ReturnInSchema())
        quantities, errors = {}, Errors()  # the keys are line ids
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
    @documented("The returned goods arrived: count every unit back, grade and dispose of each line "
                "(only restock adds stock)", body="ReturnReceiveIn", result="ReturnDetail")
    def receive(self, pk: int):
        body = load(ReturnReceiveInSchema())
        returns.receive_and_inspect(db.session, pk, body["lines"], self.actor())
        return self._result(200, pk)

    @expose("/<int:pk>/authorize", methods=["POST"])
    @protect()
    @safe
    @permission_name("authorize")
    @domain_errors
    @documented("Authorize a requested return (a return label is bought when the policy says we pay)",
                result="ReturnDetail")
    def authorize(self, pk: int):
        load(EmptyInSchema())
        returns.authorize(db.session, pk, self.actor())
        if returns.label_due(db.session, pk):
            return_labels.buy(db.session, pk, self.actor())
        return self._result(200, pk)

    @expose("/<int:pk>/exchange", methods=["POST"])
    @protect()
    @safe
    @permission_name("exchange")
    @domain_errors
    @documented("Exchange instead of (or in part of) a refund: a new order linked to the return, "
                "stock reserved now; a dearer one is held (payment) until the difference is marked paid",
                body="ExchangeIn", result="ReturnDetail", ok=201)
    def exchange(self, pk: int):
        body = load(ExchangeInSchema())
        exchanges.create_exchange(db.session, pk, body["items"], self.actor())
        return self._result(201, pk)

    @expose("/<int:pk>/exchange/paid", methods=["POST"])
    @protect()
    @safe
    @permission_name("exchange_paid")
    @domain_errors
    @documented("The customer paid the exchange's difference: its payment hold is released",
                result="ReturnDetail")
    def exchange_paid(self, pk: int):
        load(EmptyInSchema())
        exchanges.mark_paid(db.session, pk, self.actor())
        return self._result(200, pk)

    @expose("/<int:pk>/reject", methods=["POST"])
    @protect()
    @safe
    @permission_name("authorize")
    @domain_errors
    @documented("Reject a requested return, with the reason the customer is told", body="RejectIn",
                result="ReturnDetail")
    def reject(self, pk: int):
        body = load(RejectInSchema())
        returns.reject(db.session, pk, body["reason"], self.actor())
        return self._result(200, pk)

    @expose("/<int:pk>/refund", methods=["POST"])
    @protect()
    @safe
    @permission_name("refund")
    @domain_errors
    @documented("Refund a return: the policy's calculation, or an amount (never more than paid less "
                "refunded; Support up to the support refund limit)", body="RefundIn", result="ReturnDetail",
                ok=201)
    def refund(self, pk: int):
        body = load(RefundInSchema())
        limit = None
        if not self.appbuilder.sm.has_access(p.can(p.REFUND_ANY), p.RESOURCE_ORDER):
            limit = settings.get(db.session, "support_refund_limit")
        returns.refund_return(db.session, pk, self.actor(), amount=body["amount"], reason=body["reason"],
                              limit=limit)
        return self._result(201, pk)
