"""/api/v1/shipment/: shipments with their lines and tracking events, and the fulfilment
actions (services/fulfilment/shipments.py): start picking, mark packed, ship an order, record a
tracking event. Shipments are never written through FAB's generic endpoints."""
from __future__ import annotations

from flask import Response
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import Shipment, ShipmentLine
from ..security import permissions as p
from app.services.orders import api_reads
from app.services.fulfilment import floor, labels, printing
from app.services.fulfilment import shipments as fulfillment
from .base import ReadOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.carriers import RateOutSchema, RatesInSchema, ShipWithLabelInSchema
from .schemas.common import EmptyInSchema
from .schemas.fulfillment import (ConfirmLabelledInSchema, ConfirmLabelledOutSchema, ShipmentDetailSchema,
                                  TrackingInSchema)
from .schemas.orders import OrderDetailSchema


class ShipmentApi(ReadOnlyApi):
    resource_name = "shipment"
    datamodel = WaybillInterface(Shipment, count_cap=True)
    class_permission_name = p.RESOURCE_FULFILLMENT
    # labels (buy, void, reprint) are Fulfillment/write: DESIGN's "labels" row has its roles
    method_permission_name = p.method_map(pick=p.WRITE, pack=p.WRITE, ship=p.WRITE,
                                          tracking=p.WRITE, rates=p.WRITE, label=p.WRITE, void=p.WRITE,
                                          print_label=p.WRITE, confirm=p.WRITE, confirm_labelled=p.WRITE)
    openapi_spec_tag = "Fulfillment"
    openapi_spec_component_schemas = (ShipWithLabelInSchema, TrackingInSchema, ShipmentDetailSchema,
                                      RatesInSchema, RateOutSchema, ConfirmLabelledInSchema, ConfirmLabelledOutSchema)
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
    order_schema = OrderDetailSchema()

    def load_detail(self, pk: int):
        return db.session.scalar(
            select(Shipment).where(Shipment.id == pk).options(
                joinedload(Shipment.order), joinedload(Shipment.warehouse),
                selectinload(Shipment.lines).joinedload(ShipmentLine.line),
                selectinload(Shipment.tracking_events),
            ).execution_options(populate_existing=True)
        )

    def _order(self, order_id: int):
        db.session.expire_all()
        order = api_reads.order_detail(db.session, order_id)
        return self.response(200, id=order_id, result=self.order_schema.dump(order))

    def _shipment(self, status: int, shipment_id: int):
        db.session.expire_all()
        return self.response(status, id=shipment_id,
                             result=self.detail_schema.dump(self.load_detail(shipment_id)))

    @expose("/order/<int:order_id>/pick", methods=["POST"])
    @protect()
    @safe
    @permission_name("pick")
    @domain_errors
    @documented("Start picking an allocated order (not while it is held)",
                path=("order_id",), result="OrderDetail")
    def pick(self, order_id: int):
        load(EmptyInSchema())
        fulfillment.start_picking(db.session, order_id, self.actor())
        return self._order(order_id)

    @expose("/order/<int:order_id>/pack", methods=["POST"])
    @protect()
    @safe
    @permission_name("pack")
    @domain_errors
    @documented("Mark a picked order packed", path=("order_id",), result="OrderDetail")
    def pack(self, order_id: int):
        load(EmptyInSchema())
        fulfillment.mark_packed(db.session, order_id, self.actor())
        return self._order(order_id)

    @expose("/order/<int:order_id>/ship", methods=["POST"])
    @protect()
    @safe
    @permission_name("ship")
    @domain_errors
    @documented("Ship what is reserved for a packed order: with packages, buys the label from a "
                "carrier account (202 when the purchase's outcome is not known)",
                path=("order_id",), body="ShipWithLabelIn", result="ShipmentDetail", ok=201)
    def ship(self, order_id: int):
        body = load(ShipWithLabelInSchema())
        packages, label_format = body.pop("packages"), body.pop("label_format")
        if packages is None:
            shipment = fulfillment.ship(db.session, order_id, self.actor(), **body)
            return self._shipment(201, shipment.id)
        shipment = labels.buy_label(db.session, order_id, self.actor(), carrier=body["carrier"] or "",
                                    packages=packages, service=body["service"] or "auto",
                                    warehouse_id=body["warehouse_id"], label_format=label_format)
        return self._shipment(202 if shipment.status == "label_uncertain" else 201, shipment.id)

    @expose("/rates", methods=["POST"])
    @protect()
    @safe
    @permission_name("rates")
    @domain_errors
    @documented("Rates of every enabled carrier account (or one) for an order's packages",
                path=(), body="RatesIn")
    def rates(self):
        body = load(RatesInSchema())
        quotes = labels.rates(db.session, body["order_id"], body["packages"], carrier=body["carrier"],
                              warehouse_id=body["warehouse_id"])
        return self.response(200, result=RateOutSchema(many=True).dump(quotes))

    @expose("/<int:pk>/label", methods=["GET"])
    @protect()
    @safe
    @permission_name("label")
    @domain_errors
    @documented("The shipment's label document (PDF or ZPL), for download and reprint", method="get")
    def label(self, pk: int):
        label = labels.reprint(db.session, pk, self.actor())
        kind, ext = ("application/pdf", "pdf") if label.format == "PDF" else ("application/zpl", "zpl")
        return Response(label.data, mimetype=kind, headers={
            "Content-Disposition": f'attachment; filename="label-{label.tracking_number}.{ext}"'})

    @expose("/<int:pk>/print", methods=["POST"])
    @protect()
    @safe
    @permission_name("label")
    @domain_errors
    @documented("Send the shipment's ZPL label to its warehouse's network printer (through the outbox); "
                "409 for a PDF label or a warehouse without a printer", result="ShipmentDetail", ok=202)
    def print_label(self, pk: int):
        load(EmptyInSchema())
        printing.send_to_printer(db.session, pk, self.actor())
        return self._shipment(202, pk)

    @expose("/<int:pk>/confirm", methods=["POST"])
    @protect()
    @safe
    @permission_name("confirm")
    @domain_errors
    @documented("Ship confirm with a label bought earlier whose order was not confirmed then (held or "
                "changed meanwhile, packed and free now)", result="ShipmentDetail")
    def confirm(self, pk: int):
        load(EmptyInSchema())
        labels.confirm_label(db.session, pk, self.actor())
        return self._shipment(200, pk)

    @expose("/confirm_labelled", methods=["POST"])
    @protect()
    @safe
    @permission_name("confirm_labelled")
    @domain_errors
    @documented("End of day: ship confirm every label bought and not shipped in a warehouse whose order "
                "is packed and free; the others listed with why", path=(), body="ConfirmLabelledIn",
                result="ConfirmLabelledOut", errors=(401, 403, 422))
    def confirm_labelled(self):
        body = load(ConfirmLabelledInSchema())
        result = floor.confirm_labelled(db.session, body["warehouse_id"], self.actor())
        return self.response(200, result=ConfirmLabelledOutSchema().dump(result))

    @expose("/<int:pk>/void", methods=["POST"])
    @protect()
    @safe
    @permission_name("void")
    @domain_errors
    @documented("Void the shipment's label (through the outbox: voided when the carrier confirms)",
                result="ShipmentDetail", ok=202)
    def void(self, pk: int):
        load(EmptyInSchema())
        labels.void(db.session, pk, self.actor())
        return self._shipment(202, pk)

    @expose("/<int:pk>/tracking", methods=["POST"])
    @protect()
    @safe
    @permission_name("tracking")
    @domain_errors
    @documented("Record a carrier tracking event (delivered closes the order)",
                body="TrackingIn", result="ShipmentDetail")
    def tracking(self, pk: int):
        body = load(TrackingInSchema())
        fulfillment.add_tracking_event(db.session, pk, body["status"], self.actor(),
                                       description=body["description"],
                                       location=body["location"])
        return self._shipment(200, pk)
