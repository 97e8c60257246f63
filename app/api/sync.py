"""/api/v1/sync_conflict/: what a channel sent that could not be applied (read only
here; resolving is later work)."""
from __future__ import annotations

from ..models import SyncConflict
from ..security import permissions as p
from .base import ReadOnlyApi, WaybillInterface


class SyncConflictApi(ReadOnlyApi):
    resource_name = "sync_conflict"
    datamodel = WaybillInterface(SyncConflict, count_cap=True)
    class_permission_name = p.RESOURCE_SYNC
    method_permission_name = p.method_map()
    openapi_spec_tag = "Sync"
    list_columns = [
        "id", "created_at", "channel_id", "channel.code", "order_id", "kind", "status",
        "external_id", "sku", "field", "error", "resolution", "resolved_by", "resolved_at",
    ]
    show_columns = [
        "id", "created_at", "channel_id", "channel.code", "order_id", "kind", "status",
        "external_id", "sku", "field", "local_value", "remote_value", "raw_payload", "error",
        "resolution", "resolution_note", "resolved_by", "resolved_at",
    ]
    order_columns = ["id"]
    base_order = ("id", "desc")
    search_operators = {
        "status": ["eq", "in"], "kind": ["eq", "in"], "channel": ["rel_o_m"],
        "order": ["rel_o_m"], "sku": ["eq"],
    }
