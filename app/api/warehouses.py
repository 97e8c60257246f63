"""/api/v1/warehouse/: warehouses, written through services/inventory/reference.py."""
from __future__ import annotations

from ..extensions import db
from ..models import Warehouse
from ..security import permissions as p
from app.services.inventory import reference
from .base import ServiceWriteApi, WaybillInterface
from .schemas.reference import WarehouseAddSchema, WarehouseInSchema


class WarehouseApi(ServiceWriteApi):
    resource_name = "warehouse"
    datamodel = WaybillInterface(Warehouse)
    class_permission_name = p.RESOURCE_WAREHOUSE
    method_permission_name = p.method_map()
    openapi_spec_tag = "Warehouses"
    list_columns = [
        "id", "code", "name", "country", "city", "postcode", "address_line1", "latitude",
        "longitude", "priority", "ships_to", "active", "label_format", "printer_address", "updated_at",
    ]
    show_columns = list_columns + ["created_at"]
    order_columns = ["id", "code"]
    base_order = ("code", "asc")
    search_operators = {"code": ["eq", "in"], "country": ["eq", "in"], "active": ["eq"]}
    add_model_schema = WarehouseAddSchema()
    edit_model_schema = WarehouseInSchema()

    def create(self, values: dict):
        return reference.save(db.session, "warehouse", values, self.actor())

    def update(self, pk: int, values: dict):
        return reference.save(db.session, "warehouse", values, self.actor(), pk=pk)

    def remove(self, pk: int) -> None:
        reference.delete(db.session, "warehouse", pk, self.actor())
