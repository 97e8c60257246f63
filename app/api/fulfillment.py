"""/api/v1/shipment/: shipments with their lines and tracking events (read only here;
picking, packing and shipping are later work)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import Shipment, ShipmentLine
from ..security import permissions as p
from .base import ReadOnlyApi, WaybillInterface
from .schemas.fulfillment import ShipmentDetailSchema


class ShipmentApi(ReadOnlyApi):
    resource_name = "shipment"
    datamodel = WaybillInterface(Shipment, count_cap=True)
    class_permission_name = p.RESOURCE_FULFILLMENT
    method_permission_name = p.method_map()
    openapi_spec_tag = "Fulfillment"
    list_columns = [
        "id", "order_id", "order.order_number", "warehouse_id", "warehouse.code", "carrier",
        "service", "tracking_number", "status", "cost", "currency", "created_at", "shipped_at",
        "delivered_at",
    ]
    order_columns = ["id"]
    base_order = ("id", "desc")
    search_operators = {
        "order": ["rel_o_m"], "warehouse": ["rel_o_m"], "tracking_number": ["eq"],
        "status": ["eq", "in"], "carrier": ["eq"],
    }
    detail_schema = ShipmentDetailSchema()

    def load_detail(self, pk: int):
        return db.session.scalar(
            select(Shipment).where(Shipment.id == pk).options(
                joinedload(Shipment.order), joinedload(Shipment.warehouse),
                selectinload(Shipment.lines).joinedload(ShipmentLine.line),
                selectinload(Shipment.tracking_events),
            ).execution_options(populate_existing=True)
        )
