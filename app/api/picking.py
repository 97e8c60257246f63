"""/api/v1/pick_list/ (waves: create, preview, scan, short pick, cancel, PDF) and /api/v1/pack/
(the pack station: look an order up, pack and ship it, its packing slip). Thin: every change is
a call of services/fulfilment/picking.py or packing.py."""
from __future__ import annotations

from flask import Response
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..models import PickList
from ..security import permissions as p
from app.services.fulfilment import documents, packing, picking
from .base import ReadOnlyApi, WaybillBaseApi, WaybillInterface, current_actor, documented, domain_errors, load
from .schemas.common import EmptyInSchema
from .schemas.fulfillment import ShipmentDetailSchema
from .schemas.picking import BulkLabelsInSchema, PackInSchema, PickListDetailSchema, PickListInSchema, ScanInSchema, ShortInSchema


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


class PickListApi(ReadOnlyApi):
    resource_name = "pick_list"
    datamodel = WaybillInterface(PickList, count_cap=True)
    class_permission_name = p.RESOURCE_FULFILLMENT
    method_permission_name = p.method_map(create=p.WRITE, preview=p.WRITE, scan=p.WRITE, short=p.WRITE,
                                          cancel=p.WRITE, pdf=p.READ, labels=p.WRITE,
                                          labels_pdf=p.READ)
    openapi_spec_tag = "Fulfillment"
    openapi_spec_component_schemas = (PickListInSchema, ScanInSchema, ShortInSchema, PickListDetailSchema,
                                      BulkLabelsInSchema)
    list_columns = ["id", "warehouse_id", "warehouse.code", "status", "assigned_to", "created_by",
                    "created_at", "started_at", "completed_at"]
    order_columns = ["id"]
    base_order = ("id", "desc")
    search_operators = {"warehouse": ["rel_o_m"], "status": ["eq", "in"]}
    detail_schema = PickListDetailSchema()

    def load_detail(self, pk: int):
        db.session.expire_all()
        try:
            return picking.get(db.session, pk)
        except Exception:  # noqa: BLE001 - a missing list is a 404 here
            return None

    def _detail(self, status: int, pk: int):
        return self.response(status, id=pk, result=self.detail_schema.dump(self.load_detail(pk)))

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("create")
    @domain_errors
    @documented("Create a pick list from the allocated, unheld orders of a warehouse chosen by filters",
                path=(), body="PickListIn", result="PickListDetail", ok=201)
    def create(self):
        body = load(PickListInSchema())
        pick_list = picking.create(db.session, body["warehouse_id"], body["filters"], current_actor())
        return self._detail(201, pick_list.id)

    @expose("/preview", methods=["POST"])
    @protect()
    @safe
    @permission_name("preview")
    @domain_errors
    @documented("What a pick list with these filters would hold now", path=(), body="PickListIn")
    def preview(self):
        body = load(PickListInSchema())
        return self.response(200, result=picking.preview(db.session, body["warehouse_id"], body["filters"]))

    @expose("/<int:pk>/scan", methods=["POST"])
    @protect()
    @safe
    @permission_name("scan")
    @domain_errors
    @documented("Record units scanned (or typed) of an item at a bin; a wrong item or one too many is 422",
                body="ScanIn")
    def scan(self, pk: int):
        body = load(ScanInSchema())
        result = picking.scan_item(db.session, pk, body["bin"], body["item"], current_actor(), body["quantity"])
        return self.response(200, result=result)

    @expose("/<int:pk>/short", methods=["POST"])
    @protect()
    @safe
    @permission_name("short")
    @domain_errors
    @documented("Short pick: what is left of an item at a bin is missing (counted, sent back to allocation)",
                body="ShortIn")
    def short(self, pk: int):
        body = load(ShortInSchema())
        return self.response(200, result=picking.short_pick(db.session, pk, body["bin"], body["item"],
                                                            current_actor()))

    @expose("/<int:pk>/cancel", methods=["POST"])
    @protect()
    @safe
    @permission_name("cancel")
    @domain_errors
    @documented("Cancel a pick list: its orders go back to their allocation status", result="PickListDetail")
    def cancel(self, pk: int):
        load(EmptyInSchema())
        picking.cancel(db.session, pk, current_actor())
        return self._detail(200, pk)

    @expose("/<int:pk>/pdf", methods=["GET"])
    @protect()
    @safe
    @permission_name("pdf")
    @domain_errors
    @documented("The printable pick list (PDF)", method="get")
    def pdf(self, pk: int):
        return _pdf(documents.pick_list_pdf(db.session, pk), f"pick-list-{pk}")


    @expose("/<int:pk>/labels", methods=["POST"])
    @protect()
    @safe
    @permission_name("labels")
    @domain_errors
    @documented("Labels for every picked single-package order of the list, each packed and ship-confirmed; "
                "failures listed with the carrier's reason", body="BulkLabelsIn")
    def labels(self, pk: int):
        body = load(BulkLabelsInSchema())
        result = packing.bulk_labels(db.session, pk, body["packages"], current_actor(), carrier=body["carrier"],
                                     service=body["service"])
        return self.response(200, result=result)

    @expose("/<int:pk>/labels.pdf", methods=["GET"])
    @protect()
    @safe
    @permission_name("labels_pdf")
    @domain_errors
    @documented("All the list's PDF labels as one document, in slot order", method="get")
    def labels_pdf(self, pk: int):
        return _pdf(documents.labels_pdf(db.session, pk), f"labels-{pk}")


class PackApi(WaybillBaseApi):
    resource_name = "pack"
    class_permission_name = p.RESOURCE_FULFILLMENT
    method_permission_name = {"lookup": p.READ, "ship": p.WRITE, "slip": p.READ}
    openapi_spec_tag = "Fulfillment"
    openapi_spec_component_schemas = (PackInSchema,)

    @expose("/<code>", methods=["GET"])
    @protect()
    @safe
    @permission_name("lookup")
    @domain_errors
    @documented("The pack station's view of an order (by number, id or pick list slot PL000001-2)",
                method="get", path=())
    def lookup(self, code: str):
        return self.response(200, result=packing.station(db.session, code))

    @expose("/order/<int:order_id>", methods=["POST"])
    @protect()
    @safe
    @permission_name("ship")
    @domain_errors
    @documented("Pack (every picked unit scanned), buy the label and ship confirm in one action",
                path=("order_id",), body="PackIn", result="ShipmentDetail", ok=201)
    def ship(self, order_id: int):
        body = load(PackInSchema())
        shipment = packing.pack_and_ship(db.session, order_id, body["items"], body["packages"], current_actor(),
                                         carrier=body["carrier"], service=body["service"],
                                         tracking_number=body["tracking_number"])
        db.session.expire_all()
        status = 202 if shipment.status == "label_uncertain" else 201
        return self.response(status, id=shipment.id, result=ShipmentDetailSchema().dump(shipment))

    @expose("/order/<int:order_id>/slip", methods=["GET"])
    @protect()
    @safe
    @permission_name("slip")
    @domain_errors
    @documented("The order's packing slip (PDF)", method="get", path=("order_id",))
    def slip(self, order_id: int):
        return _pdf(documents.packing_slip_pdf(db.session, order_id), f"packing-slip-{order_id}")
