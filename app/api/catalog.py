"""/api/v1/product/ and /api/v1/sku_alias/: products and SKU aliases. Writes go through
services/inventory/reference.py (validation, SKU normalisation, uniqueness, audit) and
services/catalog.map_sku; FAB's generic datamodel writes are never used."""
from __future__ import annotations

from ..extensions import db
from ..models import Channel, Product, SkuAlias
from ..security import permissions as p
from app.services.orders import api_reads
from app.services.inventory import catalog
from app.services.inventory import reference
from app.services.core.errors import UnknownRecord, ValidationFailed
from .base import ServiceWriteApi, WaybillInterface
from .schemas.reference import ProductAddSchema, ProductInSchema, SkuAliasInSchema


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
    add_model_schema = ProductAddSchema()
    edit_model_schema = ProductInSchema()

    def create(self, values: dict):
        return reference.save(db.session, "product", values, self.actor())

    def update(self, pk: int, values: dict):
        return reference.save(db.session, "product", values, self.actor(), pk=pk)

    def remove(self, pk: int) -> None:
        reference.delete(db.session, "product", pk, self.actor())


class SkuAliasApi(ServiceWriteApi):
    """A channel's SKU string mapped to one of our products ("map SKU"), created through
    services/catalog.map_sku. Aliases are not edited or deleted here."""

    resource_name = "sku_alias"
    datamodel = WaybillInterface(SkuAlias)
    class_permission_name = p.RESOURCE_CATALOG
    method_permission_name = p.method_map()
    exclude_route_methods = {"put", "delete"}
    openapi_spec_tag = "Catalog"
    list_columns = ["id", "alias", "product_id", "product.sku", "channel_id", "channel.code",
                    "created_by", "created_at"]
    order_columns = ["id", "alias"]
    base_order = ("alias", "asc")
    search_operators = {"alias": ["eq"], "product": ["rel_o_m"], "channel": ["rel_o_m"]}
    add_model_schema = SkuAliasInSchema()
    edit_model_schema = SkuAliasInSchema()

    def create(self, values: dict):
        product_id = values.get("product_id")
        if product_id is None:
            if not values.get("sku"):
                raise ValidationFailed.field("product_id", "is required (or give the sku)")
            product_id = api_reads.product_id_by_sku(db.session, values["sku"])
            if product_id is None:
                raise UnknownRecord.field("sku", f"unknown SKU '{values['sku']}'")
        channel_id = values.get("channel_id")
        if channel_id is not None and db.session.get(Channel, channel_id) is None:
            raise UnknownRecord.field("channel_id", f"unknown channel {channel_id}")
        return catalog.map_sku(db.session, values.get("alias"), product_id, self.actor(),
                               channel_id=channel_id)
