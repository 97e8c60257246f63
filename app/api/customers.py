"""/api/v1/customer/: customers (read only), with their latest orders on GET /<pk>."""
from __future__ import annotations

from ..extensions import db
from ..models import Customer
from ..security import permissions as p
from app.services.orders import api_reads
from .base import ReadOnlyApi, WaybillInterface


class CustomerApi(ReadOnlyApi):
    resource_name = "customer"
    datamodel = WaybillInterface(Customer, count_cap=True)
    class_permission_name = p.RESOURCE_CUSTOMER
    method_permission_name = p.method_map()
    openapi_spec_tag = "Customers"
    list_columns = ["id", "email", "name", "phone", "created_at"]
    show_columns = ["id", "email", "name", "phone", "note", "created_at", "updated_at"]
    order_columns = ["id", "email"]
    base_order = ("id", "desc")
    # e-mail is stored lower-cased (unique index): equality is exact and fast.
    # Names: /api/v1/search/ (prefix search on an expression index).
    search_operators = {"email": ["eq"]}

    def pre_get(self, data: dict) -> None:
        recent = api_reads.recent_orders_of_customer(db.session, int(data["id"]))
        data["result"]["recent_orders"] = [
            {"id": o.id, "order_number": o.order_number, "channel_code": o.channel.code,
             "status": o.status, "total": None if o.total is None else str(o.total),
             "currency": o.currency, "placed_at": o.placed_at.isoformat()}
            for o in recent
        ]
