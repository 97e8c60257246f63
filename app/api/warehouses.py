"""/api/v1/warehouse/: warehouses, written through services/inventory/reference.py."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..models import Warehouse
from ..security import permissions as p
from app.services.fulfilment import shipping_rules
from app.services.inventory import reference
from .base import ServiceWriteApi, WaybillInterface, documented, domain_errors, load
from .schemas.reference import (WarehouseAddSchema, WarehouseCarriersInSchema, WarehouseCarriersOutSchema,
                                WarehouseInSchema)


class WarehouseApi(ServiceWriteApi):
    resource_name = "warehouse"
    datamodel = WaybillInterface(Warehouse)
    class_permission_name = p.RESOURCE_WAREHOUSE
    method_permission_name = p.method_map(carriers=p.READ, set_carriers=p.WRITE)
    openapi_spec_tag = "Warehouses"
    openapi_spec_component_schemas = (WarehouseCarriersInSchema, WarehouseCarriersOutSchema)
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

    @expose("/<int:pk>/carriers", methods=["GET"])
    @protect()
    @safe
    @permission_name("carriers")
    @domain_errors
    @documented("The carrier accounts the warehouse may ship with (empty: every enabled one)", method="get",
                result="WarehouseCarriersOut", errors=(401, 403, 404))
    def carriers(self, pk: int):
        return self._carriers(pk)

    @expose("/<int:pk>/carriers", methods=["PUT"])
    @protect()
    @safe
    @permission_name("set_carriers")
    @domain_errors
    @documented("Limit the warehouse to these carrier accounts (rate shopping asks only them; "
                "an empty list: every enabled one)", method="put", body="WarehouseCarriersIn",
                result="WarehouseCarriersOut", errors=(401, 403, 404, 422))
    def set_carriers(self, pk: int):
        body = load(WarehouseCarriersInSchema())
        shipping_rules.allow_carriers(db.session, pk, body["carriers"], self.actor())
        return self._carriers(pk)

    def _carriers(self, pk: int):
        if db.session.get(Warehouse, pk) is None:
            return self.response_404()
        return self.response(200, id=pk, result=WarehouseCarriersOutSchema().dump(
            {"warehouse_id": pk, "carriers": shipping_rules.carriers_of(db.session, pk)}))
