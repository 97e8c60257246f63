"""/api/v1/carrier_account/ (written through services/fulfilment/carriers.py: validation,
encryption, audit; credentials and the webhook secret write-only, never returned) and
/api/v1/delivery_exception/ (the Support queue: contacted, correct address, resolve)."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import CarrierAccount, DeliveryException
from ..security import permissions as p
from app.services.fulfilment import carriers, exceptions
from .base import ReadOnlyApi, SecretsWriteOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.carriers import (AddressInSchema, CarrierAccountAddSchema, CarrierAccountInSchema,
                               CarrierAccountOutSchema, DeliveryExceptionOutSchema, ExceptionNoteInSchema)

class CarrierAccountApi(SecretsWriteOnlyApi):
    resource_name = "carrier_account"
    datamodel = WaybillInterface(CarrierAccount)
    class_permission_name = p.RESOURCE_CARRIER_ACCOUNT
    method_permission_name = p.method_map()
    exclude_route_methods = {"delete"}
    openapi_spec_tag = "Carriers"
    list_columns = ["id", "code", "name", "kind", "base_url", "tracking_url", "account_number", "label_format", "enabled",
                    "has_credentials", "updated_at"]
    list_select_columns = [c for c in list_columns if c != "has_credentials"] + ["credentials_encrypted"]
    order_columns = ["id", "code"]
    base_order = ("code", "asc")
    search_operators = {"code": ["eq", "in"], "kind": ["eq", "in"], "enabled": ["eq"]}
    add_model_schema = CarrierAccountAddSchema()
    edit_model_schema = CarrierAccountInSchema()
    detail_schema = CarrierAccountOutSchema()
    save = staticmethod(carriers.save_account)

    def load_detail(self, pk: int):
        return db.session.get(CarrierAccount, pk, populate_existing=True)


class DeliveryExceptionApi(ReadOnlyApi):
    resource_name = "delivery_exception"
    datamodel = WaybillInterface(DeliveryException)
    class_permission_name = p.RESOURCE_DELIVERY_EXCEPTION
    method_permission_name = p.method_map(contacted=p.RESOLVE, correct_address=p.RESOLVE, resolve=p.RESOLVE)
    openapi_spec_tag = "Carriers"
    openapi_spec_component_schemas = (DeliveryExceptionOutSchema, ExceptionNoteInSchema, AddressInSchema)
    list_columns = ["id", "order_id", "shipment_id", "problem", "status", "carrier_code", "description",
                    "occurred_at", "opened_at", "contacted_at", "resolved_at"]
    order_columns = ["id"]
    base_order = ("id", "asc")
    search_operators = {"status": ["eq"], "problem": ["eq", "in"]}
    detail_schema = DeliveryExceptionOutSchema()

    def load_detail(self, pk: int):
        return db.session.get(DeliveryException, pk, populate_existing=True,
                              options=[joinedload(DeliveryException.order), joinedload(DeliveryException.shipment)])

    def _item(self, pk: int):
        db.session.expire_all()
        return self.response(200, id=pk, result=self.detail_schema.dump(self.load_detail(pk)))

    @expose("/<int:pk>/contacted", methods=["POST"])
    @protect()
    @safe
    @permission_name("contacted")
    @domain_errors
    @documented("Note that the customer was contacted", body="ExceptionNoteIn", result="DeliveryExceptionOut")
    def contacted(self, pk: int):
        body = load(ExceptionNoteInSchema())
        exceptions.contacted(db.session, pk, self.actor(), body["text"])
        return self._item(pk)

    @expose("/<int:pk>/correct_address", methods=["POST"])
    @protect()
    @safe
    @permission_name("correct_address")
    @domain_errors
    @documented("Note the corrected address for the carrier", body="AddressIn", result="DeliveryExceptionOut")
    def correct_address(self, pk: int):
        body = load(AddressInSchema())
        exceptions.correct_address(db.session, pk, self.actor(), body)
        return self._item(pk)

    @expose("/<int:pk>/resolve", methods=["POST"])
    @protect()
    @safe
    @permission_name("resolve")
    @domain_errors
    @documented("Resolve the item", body="ExceptionNoteIn", result="DeliveryExceptionOut")
    def resolve(self, pk: int):
        body = load(ExceptionNoteInSchema())
        exceptions.resolve(db.session, pk, self.actor(), body["text"])
        return self._item(pk)
