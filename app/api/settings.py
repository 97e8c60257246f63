"""/api/v1/setting/: the typed settings (services/core/settings.py) — read by Admin and
Operations (Setting/read), changed by Admin (Setting/write), every change audited."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from marshmallow import fields

from ..extensions import db
from ..security import permissions as p
from app.services.core import settings
from .base import WaybillBaseApi, documented, domain_errors, load
from .schemas.common import InSchema, OutSchema


class SettingOutSchema(OutSchema):
    key = fields.Str()
    label = fields.Str()
    kind = fields.Str()
    help = fields.Str()
    choices = fields.List(fields.Str())
    value = fields.Raw()
    default = fields.Raw()
    is_default = fields.Bool()
    minimum = fields.Raw(allow_none=True, metadata={"description": "lowest value allowed (numbers)"})
    maximum = fields.Raw(allow_none=True, metadata={"description": "highest value allowed (numbers)"})
    updated_by = fields.Str(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)


class SettingInSchema(InSchema):
    value = fields.Raw(required=True, allow_none=True, metadata={
        "description": "bool, whole number, decimal (as a string), or one of the choices"})


def _jsonable(row: dict) -> dict:
    row = dict(row)
    for key in ("value", "default", "minimum", "maximum"):
        if not isinstance(row.get(key), (bool, int, str, type(None))):
            row[key] = str(row[key])  # Decimal
    return row


class SettingApi(WaybillBaseApi):
    resource_name = "setting"
    class_permission_name = p.RESOURCE_SETTING
    method_permission_name = {"list_settings": p.READ, "get_setting": p.READ,
                              "put_setting": p.WRITE}
    openapi_spec_tag = "Settings"
    openapi_spec_component_schemas = (SettingOutSchema, SettingInSchema)
    schema = SettingOutSchema()

    def _one(self, key: str) -> dict:
        for row in settings.all_settings(db.session):
            if row["key"] == key:
                return self.schema.dump(_jsonable(row))
        settings.get(db.session, key)  # raises NotFound for an unknown key
        raise AssertionError("unreachable")

    @expose("/", methods=["GET"])
    @protect()
    @safe
    @permission_name("list_settings")
    @domain_errors
    @documented("Every setting with its value, default and help", method="get", path=(),
                errors=(401, 403))
    def list_settings(self):
        rows = [self.schema.dump(_jsonable(r)) for r in settings.all_settings(db.session)]
        return self.response(200, count=len(rows), result=rows)

    @expose("/<key>", methods=["GET"])
    @protect()
    @safe
    @permission_name("get_setting")
    @domain_errors
    def get_setting(self, key: str):
        """One setting
        ---
        get:
          summary: One setting
          parameters:
          - in: path
            name: key
            required: true
            schema:
              type: string
          responses:
            200:
              description: The setting
            404:
              $ref: '#/components/responses/404'
        """
        return self.response(200, id=key, result=self._one(key))

    @expose("/<key>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put_setting")
    @domain_errors
    def put_setting(self, key: str):
        """Change a setting (audited)
        ---
        put:
          summary: Change a setting (audited)
          parameters:
          - in: path
            name: key
            required: true
            schema:
              type: string
          requestBody:
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/SettingIn'
          responses:
            200:
              description: The setting after the change
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        body = load(SettingInSchema())
        settings.set_value(db.session, key, body["value"], self.actor())
        return self.response(200, id=key, result=self._one(key))
