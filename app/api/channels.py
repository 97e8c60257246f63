"""/api/v1/channel/: sales channels, written through services/channels.save_channel
(validation, Fernet encryption, audit).

Credentials and the webhook secret are write-only: no response — list, show, _info, a
write's answer — carries them, not even encrypted; only ``has_credentials`` /
``has_webhook_secret``. Filters and sorting are limited to plain columns, so no query can
probe the ciphertext either. Channels are not deleted (their orders refer to them):
disable them with ``enabled: false``. Channel/write also covers testing the connection and
re-pulling one order (services/channels/ops.py), as on the HTML page."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..models import Channel
from ..security import permissions as p
from app.services.channels import ops as channel_ops
from app.services.channels import config as channels
from .base import SecretsWriteOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.common import EmptyInSchema
from .schemas.reference import ChannelAddSchema, ChannelInSchema, ChannelOutSchema
from .schemas.sync import RepullInSchema

class ChannelApi(SecretsWriteOnlyApi):
    resource_name = "channel"
    datamodel = WaybillInterface(Channel)
    class_permission_name = p.RESOURCE_CHANNEL
    method_permission_name = p.method_map(test_connection=p.WRITE, repull=p.WRITE)
    exclude_route_methods = {"delete"}
    openapi_spec_component_schemas = (RepullInSchema,)
    openapi_spec_tag = "Channels"
    list_columns = [
        "id", "code", "name", "kind", "base_url", "api_version", "poll_interval_seconds", "backfill_days",
        "stock_buffer", "enabled", "has_credentials", "updated_at",
    ]
    # has_credentials reads credentials_encrypted: select it (no lazy load per row); it is
    # never dumped — the list schema has only list_columns.
    list_select_columns = [c for c in list_columns if c != "has_credentials"] + [
        "credentials_encrypted"]
    order_columns = ["id", "code"]
    base_order = ("code", "asc")
    search_operators = {"code": ["eq", "in"], "kind": ["eq", "in"], "enabled": ["eq"]}
    add_model_schema = ChannelAddSchema()
    edit_model_schema = ChannelInSchema()
    detail_schema = ChannelOutSchema()
    save = staticmethod(channels.save_channel)

    def load_detail(self, pk: int):
        return db.session.get(Channel, pk, populate_existing=True)

    @expose("/<int:pk>/test-connection", methods=["POST"])
    @protect()
    @safe
    @permission_name("test_connection")
    @domain_errors
    @documented("Ask the channel something cheap with the stored credentials",
                errors=(401, 403, 404, 422))
    def test_connection(self, pk: int):
        load(EmptyInSchema())
        check = channel_ops.test_connection(db.session, pk, self.actor())
        return self.response(200, id=pk, result={"ok": check.ok, "message": check.message})

    @expose("/<int:pk>/repull", methods=["POST"])
    @protect()
    @safe
    @permission_name("repull")
    @domain_errors
    @documented("Fetch one order from the channel by its id and import it as a poll would",
                body="RepullIn")
    def repull(self, pk: int):
        body = load(RepullInSchema())
        result = channel_ops.repull_order(db.session, pk, body["external_id"], self.actor())
        return self.response(200, id=pk, result={
            "outcome": result.outcome, "order_id": result.order_id,
            "conflict_id": result.conflict_id, "external_id": result.external_id})
