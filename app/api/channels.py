"""/api/v1/channel/: sales channels, written through services/channels.save_channel
(validation, Fernet encryption, audit).

Credentials and the webhook secret are write-only: no response — list, show, _info, a
write's answer — carries them, not even encrypted; only ``has_credentials`` /
``has_webhook_secret``. Filters and sorting are limited to plain columns, so no query can
probe the ciphertext either. Channels are not deleted (their orders refer to them):
disable them with ``enabled: false``."""
from __future__ import annotations

from ..extensions import db
from ..models import Channel
from ..security import permissions as p
from ..services import channels
from .base import ServiceWriteApi, WaybillInterface
from .schemas.reference import ChannelInSchema, ChannelOutSchema

SECRET_FIELDS = ("credentials", "webhook_secret")


class ChannelApi(ServiceWriteApi):
    resource_name = "channel"
    datamodel = WaybillInterface(Channel)
    class_permission_name = p.RESOURCE_CHANNEL
    method_permission_name = p.method_map()
    exclude_route_methods = {"delete"}
    openapi_spec_tag = "Channels"
    list_columns = [
        "id", "code", "name", "kind", "base_url", "poll_interval_seconds", "backfill_days",
        "stock_buffer", "enabled", "has_credentials", "updated_at",
    ]
    # has_credentials reads credentials_encrypted: select it (no lazy load per row); it is
    # never dumped — the list schema has only list_columns.
    list_select_columns = [c for c in list_columns if c != "has_credentials"] + [
        "credentials_encrypted"]
    order_columns = ["id", "code"]
    base_order = ("code", "asc")
    search_operators = {"code": ["eq", "in"], "kind": ["eq", "in"], "enabled": ["eq"]}
    add_model_schema = ChannelInSchema()
    edit_model_schema = ChannelInSchema()
    info_exclude = SECRET_FIELDS
    detail_schema = ChannelOutSchema()

    def load_detail(self, pk: int):
        return db.session.get(Channel, pk, populate_existing=True)

    @staticmethod
    def _split(values: dict) -> tuple[dict, dict]:
        secrets = {k: values.pop(k) for k in SECRET_FIELDS if k in values}
        return values, secrets

    def create(self, values: dict):
        values, secrets = self._split(values)
        return channels.save_channel(db.session, values, self.actor(), **secrets)

    def update(self, pk: int, values: dict):
        values, secrets = self._split(values)
        return channels.save_channel(db.session, values, self.actor(), pk, **secrets)
