"""Carriers II in the UI: shipping rules with their dry run over recent shipments and the
channel shipping-method map (rate shopping), box presets per warehouse, and the manifests list
(close the day per carrier account and warehouse, download the document). Rules and boxes share
the carrier accounts' permissions (DESIGN.md: "carrier accounts, shipping rules, box presets");
manifests the fulfilment ones ("labels ...; manifests"). Every write is a POST with a CSRF
token that calls app/services/fulfilment/."""
from __future__ import annotations

from flask import Response, abort, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from sqlalchemy import select

from ..extensions import db
from ..models import BoxPreset, CarrierAccount, Manifest, ShippingMethodMap, ShippingRule, Warehouse
from ..models.shipping import RULE_STRATEGIES, SERVICE_LEVELS
from ..security import permissions as p
from app.services.fulfilment import boxes, dry_run, manifests, shipping_rules
from .base import EagerSQLAInterface, ReadOnlyModelView, can, current_actor, redirect_back, service_call

RULE_FORM = ("name", "priority", "service_level", "countries", "min_weight_kg", "max_weight_kg", "min_value",
             "max_value", "carriers", "services", "strategy")
BOX_FORM = ("name", "length_cm", "width_cm", "height_cm", "tare_kg", "max_weight_kg")


class ShippingRuleView(ReadOnlyModelView):
    route_base = "/shipping-rules"
    datamodel = EagerSQLAInterface(ShippingRule)
    class_permission_name = p.RESOURCE_CARRIER_ACCOUNT
    method_permission_name = p.method_map(save=p.WRITE, map_method=p.WRITE)
    include_route_methods = {"list", "save", "map_method"}
    list_title = "Shipping rules"

    @expose("/list/")
    @has_access
    def list(self):
        session = db.session
        rules = session.scalars(select(ShippingRule).order_by(ShippingRule.priority, ShippingRule.id)).all()
        dry_id = request.args.get("dry_run", type=int)
        dry = service_call(dry_run.dry_run, session, dry_id) if dry_id else None
        return self.render_template(
            "oms/shipping_rules.html", rules=rules, dry=dry, dry_id=dry_id, levels=SERVICE_LEVELS,
            strategies=RULE_STRATEGIES, maps=session.scalars(select(ShippingMethodMap)
                                                            .order_by(ShippingMethodMap.method)).all(),
            accounts=session.scalars(select(CarrierAccount.code).order_by(CarrierAccount.code)).all(),
            can_write=can(p.WRITE, p.RESOURCE_CARRIER_ACCOUNT))

    @expose("/save", methods=["POST"])
    @has_access
    def save(self):
        form = request.form
        values = {k: form.get(k) for k in RULE_FORM}
        values.update(enabled=form.get("enabled") == "on", use_promise=form.get("use_promise") == "on")
        service_call(shipping_rules.save_rule, db.session, values, current_actor(), form.get("id", type=int),
                     success=lambda r: f"Shipping rule {r.name!r} saved")
        return redirect_back(url_for("ShippingRuleView.list"))

    @expose("/map-method", methods=["POST"])
    @has_access
    def map_method(self):
        form = request.form
        service_call(shipping_rules.map_method, db.session, form.get("method"), form.get("service_level"),
                     current_actor(), channel_id=form.get("channel_id", type=int),
                     promise_days=form.get("promise_days", type=int),
                     success=lambda m: f"Shipping method {m.method!r} mapped to {m.service_level}")
        return redirect_back(url_for("ShippingRuleView.list"))


class BoxPresetView(ReadOnlyModelView):
    route_base = "/box-presets"
    datamodel = EagerSQLAInterface(BoxPreset)
    class_permission_name = p.RESOURCE_CARRIER_ACCOUNT
    method_permission_name = p.method_map(save=p.WRITE)
    include_route_methods = {"list", "save"}
    list_title = "Box presets"

    @expose("/list/")
    @has_access
    def list(self):
        boxes = db.session.scalars(select(BoxPreset).order_by(BoxPreset.warehouse_id, BoxPreset.name)).all()
        warehouses = db.session.scalars(select(Warehouse).order_by(Warehouse.code)).all()
        return self.render_template("oms/box_presets.html", boxes=boxes, warehouses=warehouses,
                                    can_write=can(p.WRITE, p.RESOURCE_CARRIER_ACCOUNT))

    @expose("/save", methods=["POST"])
    @has_access
    def save(self):
        form = request.form
        values = {k: form.get(k) for k in BOX_FORM}
        values["enabled"] = form.get("enabled") == "on"
        service_call(boxes.save_box, db.session, form.get("warehouse_id", type=int) or 0, values, current_actor(),
                     form.get("id", type=int), success=lambda b: f"Box {b.name!r} saved")
        return redirect_back(url_for("BoxPresetView.list"))


class ManifestView(ReadOnlyModelView):
    route_base = "/manifests"
    datamodel = EagerSQLAInterface(Manifest)
    class_permission_name = p.RESOURCE_FULFILLMENT
    method_permission_name = p.method_map(close=p.WRITE, document=p.READ)
    include_route_methods = {"list", "close", "document"}
    list_title = "Manifests"

    @expose("/list/")
    @has_access
    def list(self):
        session = db.session
        rows = session.scalars(select(Manifest).order_by(Manifest.id.desc()).limit(200)).all()
        return self.render_template(
            "oms/manifests.html", manifests=rows,
            accounts=session.scalars(select(CarrierAccount).where(CarrierAccount.kind != "manual")
                                     .order_by(CarrierAccount.code)).all(),
            warehouses=session.scalars(select(Warehouse).order_by(Warehouse.code)).all(),
            can_write=can(p.WRITE, p.RESOURCE_FULFILLMENT))

    @expose("/close", methods=["POST"])
    @has_access
    def close(self):
        form = request.form
        service_call(manifests.close, db.session, form.get("carrier") or "", form.get("warehouse_id", type=int) or 0,
                     current_actor(), success=lambda m: f"Manifest {m.reference or m.id}: {m.shipment_count} shipment(s)"
                     + ("" if m.document else ", sent to the carrier (its document follows)"))
        return redirect_back(url_for("ManifestView.list"))

    @expose("/<int:pk>/document")
    @has_access
    def document(self, pk):
        manifest = db.session.get(Manifest, pk)
        if manifest is None or manifest.document is None:
            abort(404)
        pdf = manifest.document.startswith(b"%PDF")
        return Response(manifest.document, mimetype="application/pdf" if pdf else "text/plain", headers={
            "Content-Disposition": f'attachment; filename="manifest-{manifest.id}.{"pdf" if pdf else "txt"}"'})
