"""/api/v1/search/?q=: the support search box as JSON (services/orders/search.py): orders by
number, channel order id, e-mail, customer name prefix or tracking number, and customers
by e-mail or name prefix. Bounded queries on indexed keys only."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from marshmallow import fields

from ..extensions import db
from ..security import permissions as p
from app.services.orders import search as search_service
from app.services.core.errors import ValidationFailed
from .base import WaybillBaseApi, domain_errors
from .schemas.common import Money, OutSchema

DEFAULT_LIMIT, MAX_LIMIT = 25, 100


class SearchOrderSchema(OutSchema):
    id = fields.Int()
    order_number = fields.Str()
    external_id = fields.Str()
    channel_code = fields.Function(lambda o: o.channel.code if o.channel else None)
    customer_name = fields.Str(allow_none=True)
    email = fields.Str(allow_none=True)
    status = fields.Str()
    is_held = fields.Bool()
    total = Money(allow_none=True)
    currency = fields.Str()
    placed_at = fields.DateTime()


class SearchCustomerSchema(OutSchema):
    id = fields.Int()
    email = fields.Str(allow_none=True)
    name = fields.Str(allow_none=True)
    phone = fields.Str(allow_none=True)


class SearchApi(WaybillBaseApi):
    resource_name = "search"
    class_permission_name = p.RESOURCE_ORDER
    method_permission_name = {"search": p.READ}
    openapi_spec_tag = "Search"
    openapi_spec_component_schemas = (SearchOrderSchema, SearchCustomerSchema)

    @expose("/", methods=["GET"])
    @protect()
    @safe
    @permission_name("search")
    @domain_errors
    def search(self):
        """Find orders and customers from one search box
        ---
        get:
          summary: Search orders and customers
          parameters:
          - in: query
            name: q
            schema:
              type: string
            description: order number, channel order id, e-mail, name (prefix) or tracking
              number; left out or blank, nothing is found
          - in: query
            name: limit
            schema:
              type: integer
              minimum: 1
              maximum: 100
          responses:
            200:
              description: Matching orders and customers
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      query:
                        type: string
                      count:
                        type: integer
                      orders:
                        type: array
                        items:
                          $ref: '#/components/schemas/SearchOrder'
                      customers:
                        type: array
                        items:
                          $ref: '#/components/schemas/SearchCustomer'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            422:
              $ref: '#/components/responses/422'
        """
        raw_limit = request.args.get("limit", DEFAULT_LIMIT)
        try:
            limit = int(raw_limit)
        except (TypeError, ValueError):
            raise ValidationFailed.field("limit", "must be a whole number") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationFailed.field("limit", f"must be between 1 and {MAX_LIMIT}")
        query = request.args.get("q", "")
        if len(query) > search_service.MAX_QUERY:
            raise ValidationFailed.field(
                "q", f"is too long ({len(query)} > {search_service.MAX_QUERY} characters)")
        result = search_service.search(db.session, query, limit=limit)
        return self.response(
            200, query=result.query, count=result.total,
            orders=SearchOrderSchema(many=True).dump(result.orders),
            customers=SearchCustomerSchema(many=True).dump(result.customers),
        )
