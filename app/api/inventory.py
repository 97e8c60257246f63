"""/api/v1/stock_level/ (+ adjust, receive, bin: Stock/adjust) and /api/v1/stock_movement/
(the ledger)."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..models import StockLevel, StockMovement
from ..security import permissions as p
from app.services.orders import api_reads
from app.services.inventory import stock as inventory
from app.services.core.errors import NotFound, UnknownRecord
from app.services.core.validation import Errors
from .base import ReadOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.inventory import (
    AdjustInSchema, BinInSchema, ReceiveInSchema, StockLevelOutSchema, StockMovementOutSchema,
)

class StockLevelApi(ReadOnlyApi):
    """On hand / reserved per warehouse and product. Changes only through adjust and
    receive, each of which writes a stock movement."""

    resource_name = "stock_level"
    datamodel = WaybillInterface(StockLevel)
    class_permission_name = p.RESOURCE_STOCK
    method_permission_name = p.method_map(adjust=p.ADJUST, receive=p.ADJUST, set_bin=p.ADJUST)
    openapi_spec_tag = "Stock"
    openapi_spec_component_schemas = (
        AdjustInSchema, BinInSchema, ReceiveInSchema, StockLevelOutSchema,
        StockMovementOutSchema,
    )
    list_columns = [
        "id", "warehouse_id", "warehouse.code", "product_id", "product.sku", "product.name",
        "on_hand", "reserved", "available", "bin", "updated_at",
    ]
    show_columns = list_columns
    order_columns = ["id", "warehouse_id", "product_id"]
    base_order = ("id", "asc")
    search_operators = {"warehouse": ["rel_o_m"], "product": ["rel_o_m"], "bin": ["eq"]}
    level_schema = StockLevelOutSchema()
    movement_schema = StockMovementOutSchema()

    def _result(self, status: int, movement):
        db.session.expire_all()
        level = api_reads.level_detail(db.session, movement.stock_level_id)
        return self.response(status, id=level.id, result=self.level_schema.dump(level),
                             movement=self.movement_schema.dump(movement))

    @expose("/<int:pk>/adjust", methods=["POST"])
    @protect()
    @safe
    @permission_name("adjust")
    @domain_errors
    def adjust(self, pk: int):
        """Correct the on-hand quantity of a stock level (counted, damaged, found, ...)
        ---
        post:
          summary: Adjust on hand by delta, with a reason
          parameters:
          - in: path
            name: pk
            required: true
            schema:
              type: integer
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/AdjustIn'
          responses:
            200:
              description: The stock level after the change and the ledger row written
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        body = load(AdjustInSchema())
        level = db.session.get(StockLevel, pk)
        if level is None:
            raise NotFound(f"Stock level {pk} not found")
        movement = inventory.adjust(db.session, level.warehouse_id, level.product_id,
                                    body["delta"], body["reason"], self.actor())
        return self._result(200, movement)

    @expose("/receive", methods=["POST"])
    @protect()
    @safe
    @permission_name("receive")
    @domain_errors
    def receive(self):
        """Receive units into a warehouse (creates the stock level when new)
        ---
        post:
          summary: Receive stock (warehouse_id or warehouse code, product_id or sku)
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/ReceiveIn'
          responses:
            201:
              description: The stock level after the receipt and the ledger row written
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            422:
              $ref: '#/components/responses/422'
        """
        body = load(ReceiveInSchema())
        errors, unknown = Errors(), Errors()
        warehouse_id = body["warehouse_id"]
        if warehouse_id is None and body["warehouse"]:
            warehouse_id = api_reads.warehouse_id_by_code(db.session, body["warehouse"])
            if warehouse_id is None:
                unknown.add("warehouse", f"unknown warehouse '{body['warehouse']}'")
        elif warehouse_id is None:
            errors.add("warehouse_id", "is required (or give the warehouse code)")
        product_id = body["product_id"]
        if product_id is None and body["sku"]:
            product_id = api_reads.product_id_by_sku(db.session, body["sku"])
            if product_id is None:
                unknown.add("sku", f"unknown SKU '{body['sku']}'")
        elif product_id is None:
            errors.add("product_id", "is required (or give the sku)")
        errors.raise_if_any("The receipt is not valid")
        if unknown.errors:
            raise UnknownRecord.fields(unknown.errors, lead="The receipt names what does not exist")
        movement = inventory.receive(db.session, warehouse_id, product_id, body["quantity"],
                                     self.actor(), reference=body["reference"])
        return self._result(201, movement)


    @expose("/<int:pk>/bin", methods=["POST"])
    @protect()
    @safe
    @permission_name("set_bin")
    @domain_errors
    @documented("Set the shelf location (bin) of a stock level", body="BinIn",
                result="StockLevelOut")
    def set_bin(self, pk: int):
        body = load(BinInSchema())
        inventory.set_bin(db.session, pk, body["bin"], self.actor())
        db.session.expire_all()
        level = api_reads.level_detail(db.session, pk)
        return self.response(200, id=pk, result=self.level_schema.dump(level))


class StockMovementApi(ReadOnlyApi):
    """The stock ledger: one row per change of on hand or reserved. Read only."""

    resource_name = "stock_movement"
    datamodel = WaybillInterface(StockMovement, count_cap=True)
    class_permission_name = p.RESOURCE_STOCK
    method_permission_name = p.method_map()
    openapi_spec_tag = "Stock"
    list_columns = [
        "id", "created_at", "stock_level_id", "warehouse_id", "warehouse.code", "product_id",
        "product.sku", "on_hand_delta", "reserved_delta", "reason", "reference", "order_id",
        "note", "actor",
    ]
    show_columns = list_columns
    order_columns = ["id", "created_at"]
    base_order = ("created_at", "desc")
    search_operators = {
        "stock_level": ["rel_o_m"], "warehouse": ["rel_o_m"], "product": ["rel_o_m"],
        "order": ["rel_o_m"], "reason": ["eq", "in"], "created_at": ["gt", "lt"],
    }
