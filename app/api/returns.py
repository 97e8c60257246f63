"""/api/v1/return/: returns (RMAs) with their lines and refunds (read only here)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import Return, ReturnLine
from ..security import permissions as p
from .base import ReadOnlyApi, WaybillInterface
from .schemas.returns import ReturnDetailSchema


class ReturnApi(ReadOnlyApi):
    resource_name = "return"
    datamodel = WaybillInterface(Return)
    class_permission_name = p.RESOURCE_RETURN
    method_permission_name = p.method_map()
    openapi_spec_tag = "Returns"
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
