"""/api/v1/product/: products. Writes go through services/reference.py (validation,
SKU normalisation, uniqueness, audit); FAB's generic datamodel writes are never used."""
from __future__ import annotations

from ..extensions import db
from ..models import Product
from ..security import permissions as p
from ..services import reference
from .base import ServiceWriteApi, WaybillInterface
from .schemas.reference import ProductInSchema


class ProductApi(ServiceWriteApi):
    resource_name = "product"
    datamodel = WaybillInterface(Product)
    class_permission_name = p.RESOURCE_CATALOG
    method_permission_name = p.method_map()
    openapi_spec_tag = "Catalog"
    list_columns = [
        "id", "sku", "name", "barcode", "price", "weight_kg", "reorder_point", "active",
        "updated_at",
    ]
    show_columns = list_columns + ["created_at"]
    order_columns = ["id", "sku"]
    base_order = ("sku", "asc")
    search_operators = {"sku": ["eq", "in"], "barcode": ["eq"], "active": ["eq"]}
    add_model_schema = ProductInSchema()
    edit_model_schema = ProductInSchema()

    def create(self, values: dict):
        return reference.save(db.session, "product", values, self.actor())

    def update(self, pk: int, values: dict):
        return reference.save(db.session, "product", values, self.actor(), pk=pk)

    def remove(self, pk: int) -> None:
        reference.delete(db.session, "product", pk, self.actor())
