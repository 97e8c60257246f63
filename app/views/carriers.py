"""Carriers in the UI: carrier accounts (Operations; credentials write-only, a new URL needs
them again), the delivery exceptions queue (Support: contacted, corrected address, resolved)
and the label actions of a shipment (download or reprint, void through the outbox). Every
action is a POST with a CSRF token that calls app/services/fulfilment/."""
from __future__ import annotations

from flask import Response, abort, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access

from ..extensions import db
from ..models import CarrierAccount, DeliveryException, Shipment
from ..models.fulfillment import CARRIER_KINDS, LABEL_FORMATS
from ..security import permissions as p
from app.services.fulfilment import carriers, exceptions, labels, tracking
from app.services.returns import parcels
from app.services.fulfilment.carriers import REQUIRED_CREDENTIALS
from .base import EagerSQLAInterface, ReadOnlyModelView, can, current_actor, redirect_back, service_call

PLAIN = ("code", "name", "kind", "base_url", "tracking_url", "account_number", "label_format")


class CarrierAccountView(ReadOnlyModelView):
    route_base = "/carrier-accounts"
    datamodel = EagerSQLAInterface(CarrierAccount)
    class_permission_name = p.RESOURCE_CARRIER_ACCOUNT
    method_permission_name = p.method_map(save=p.WRITE)
    include_route_methods = {"list", "save"}
    list_title = "Carrier accounts"

    @expose("/list/")
    @has_access
    def list(self):
        accounts = db.session.query(CarrierAccount).order_by(CarrierAccount.code).all()
        return self.render_template("oms/carrier_accounts.html", accounts=accounts, kinds=CARRIER_KINDS,
                                    formats=LABEL_FORMATS, required=REQUIRED_CREDENTIALS,
                                    can_write=can(p.WRITE, p.RESOURCE_CARRIER_ACCOUNT))

    @expose("/save", methods=["POST"])
    @has_access
    def save(self):
        form = request.form
        pk = form.get("id", type=int)
        values = {k: form.get(k) for k in PLAIN if form.get(k) is not None}
        if pk is not None:
            values.pop("kind", None) if not values.get("kind") else None
        values["enabled"] = form.get("enabled") == "on"
        # blank secret fields keep what is stored (write-only: nothing is shown to re-type)
        given = {k[len("cred_"):]: v for k, v in form.items() if k.startswith("cred_") and v}
        service_call(carriers.save_account, db.session, values, current_actor(), pk,
                     credentials=given or None, webhook_secret=form.get("webhook_secret") or None,
                     success=lambda a: f"Carrier account {a.code} saved")
        return redirect_back(url_for("CarrierAccountView.list"))


class DeliveryExceptionView(ReadOnlyModelView):
    route_base = "/delivery-exceptions"
    datamodel = EagerSQLAInterface(DeliveryException)
    class_permission_name = p.RESOURCE_DELIVERY_EXCEPTION
    method_permission_name = p.method_map(contacted=p.RESOLVE, correct_address=p.RESOLVE, resolve=p.RESOLVE,
                                          reship=p.RESOLVE, receive_back=p.RESOLVE)
    include_route_methods = {"list", "contacted", "correct_address", "resolve", "reship", "receive_back"}
    list_title = "Delivery exceptions"

    @expose("/list/")
    @has_access
    def list(self):
        status = request.args.get("status", "open")
        items = exceptions.queue(db.session, status=None if status == "all" else "open")
        return self.render_template("oms/delivery_exceptions.html", items=items, status=status,
                                    can_resolve=can(p.RESOLVE, p.RESOURCE_DELIVERY_EXCEPTION))

    def _back(self):
        return redirect_back(url_for("DeliveryExceptionView.list"))

    @expose("/<int:pk>/contacted", methods=["POST"])
    @has_access
    def contacted(self, pk):
        service_call(exceptions.contacted, db.session, pk, current_actor(), request.form.get("text"),
                     success="Noted: customer contacted")
        return self._back()

    @expose("/<int:pk>/address", methods=["POST"])
    @has_access
    def correct_address(self, pk):
        address = {k: request.form.get(k) for k in exceptions.ADDRESS_FIELDS if request.form.get(k)}
        service_call(exceptions.correct_address, db.session, pk, current_actor(), address,
                     success="Corrected address noted for the carrier")
        return self._back()

    @expose("/<int:pk>/resolve", methods=["POST"])
    @has_access
    def resolve(self, pk):
        service_call(exceptions.resolve, db.session, pk, current_actor(), request.form.get("text"),
                     success="Resolved")
        return self._back()


    def _open_item(self, pk):
        item = db.session.get(DeliveryException, pk)
        if item is None:
            abort(404)
        return item

    @expose("/<int:pk>/reship", methods=["POST"])
    @has_access
    def reship(self, pk):
        """Send the goods again: a replacement order (stock reserved), then the item resolved."""
        item = self._open_item(pk)
        new = service_call(parcels.reship, db.session, item.order_id, current_actor(), reference=str(pk),
                           success=lambda o: f"Replacement order {o.order_number} created")
        if new:
            service_call(exceptions.resolve, db.session, pk, current_actor(), f"reshipped as {new.order_number}")
        return self._back()

    @expose("/<int:pk>/receive-back", methods=["POST"])
    @has_access
    def receive_back(self, pk):
        """The parcel came back to us: a return received now, inspected at the receiving station."""
        item = self._open_item(pk)
        ret = service_call(parcels.receive_back, db.session, item.order_id, current_actor(),
                           success=lambda r: f"Return {r.rma_number} received back: inspect it")
        if ret:
            service_call(exceptions.resolve, db.session, pk, current_actor(), f"received back as {ret.rma_number}")
        return self._back()


class ShipmentLabelView(ReadOnlyModelView):
    """A shipment's label and tracking timeline (the carrier's code and words beside ours)."""

    route_base = "/shipment-labels"
    datamodel = EagerSQLAInterface(Shipment)
    class_permission_name = p.RESOURCE_FULFILLMENT
    method_permission_name = p.method_map(label=p.WRITE, void=p.WRITE, detail=p.READ, recover=p.WRITE,
                                          nothing_bought=p.WRITE, buy=p.WRITE)
    include_route_methods = {"detail", "label", "void", "recover", "nothing_bought", "buy"}

    @expose("/<int:pk>")
    @has_access
    def detail(self, pk):
        shipment = db.session.get(Shipment, pk)
        if shipment is None:
            abort(404)
        return self.render_template("oms/shipment_label.html", shipment=shipment,
                                    events=tracking.timeline(db.session, pk),
                                    label=next((l for l in shipment.labels if l.voided_at is None), None),
                                    can_write=can(p.WRITE, p.RESOURCE_FULFILLMENT),
                                    voidable=shipment.status in labels.VOIDABLE)

    @expose("/<int:pk>/label", methods=["POST"])
    @has_access
    def label(self, pk):
        label = service_call(labels.reprint, db.session, pk, current_actor())
        if label is None:
            return redirect_back(url_for("ShipmentLabelView.detail", pk=pk))
        kind, ext = ("application/pdf", "pdf") if label.format == "PDF" else ("application/zpl", "zpl")
        return Response(label.data, mimetype=kind, headers={
            "Content-Disposition": f'attachment; filename="label-{label.tracking_number}.{ext}"'})

    @expose("/order/<int:pk>/buy", methods=["POST"])
    @has_access
    def buy(self, pk):
        """Buy a label for a packed order (one package, typed) and ship it."""
        package = {k: request.form.get(k) for k in ("weight_kg", "length_cm", "width_cm", "height_cm")}
        shipment = service_call(labels.buy_label, db.session, pk, current_actor(),
                                carrier=request.form.get("carrier") or "", packages=[package],
                                service=request.form.get("service") or "auto",
                                success=lambda s: f"Label {s.tracking_number} bought" if s.tracking_number
                                else "The carrier did not answer: see the shipment")
        if shipment is None:
            return redirect_back(url_for("OrderView.show", pk=pk))
        return redirect(url_for("ShipmentLabelView.detail", pk=shipment.id))

    @expose("/<int:pk>/recover", methods=["POST"])
    @has_access
    def recover(self, pk):
        service_call(labels.recover, db.session, pk, current_actor(),
                     success=lambda s: "Label found at the carrier" if s.status != "label_uncertain"
                     else "Still no label at the carrier")
        return redirect_back(url_for("ShipmentLabelView.detail", pk=pk))

    @expose("/<int:pk>/nothing-bought", methods=["POST"])
    @has_access
    def nothing_bought(self, pk):
        shipment = db.session.get(Shipment, pk)
        if shipment is None:
            abort(404)
        order_id = shipment.order_id
        service_call(labels.nothing_bought, db.session, pk, current_actor(), request.form.get("note"),
                     success="Noted: nothing was bought; the order can get a label again")
        gone = db.session.get(Shipment, pk) is None  # the purchase record goes with it
        return redirect_back(url_for("OrderView.show", pk=order_id) if gone
                             else url_for("ShipmentLabelView.detail", pk=pk))

    @expose("/<int:pk>/void", methods=["POST"])
    @has_access
    def void(self, pk):
        service_call(labels.void, db.session, pk, current_actor(),
                     success="Void requested: the label is voided when the carrier confirms")
        return redirect_back(url_for("ShipmentLabelView.detail", pk=pk))
