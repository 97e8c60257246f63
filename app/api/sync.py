"""/api/v1/sync_conflict/ (+ resolve) and /api/v1/sync_run/: what a channel sent that
could not be applied, and the record of every sync."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..models import SyncConflict, SyncRun
from ..security import permissions as p
from ..services import conflicts
from .base import ReadOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.sync import ConflictCloseInSchema

CONFLICT_SHOW_COLUMNS = [
    "id", "created_at", "channel_id", "channel.code", "order_id", "kind", "status",
    "external_id", "sku", "field", "local_value", "remote_value", "raw_payload", "error",
    "resolution", "resolution_note", "resolved_by", "resolved_at",
]


class SyncConflictApi(ReadOnlyApi):
    resource_name = "sync_conflict"
    datamodel = WaybillInterface(SyncConflict, count_cap=True)
    class_permission_name = p.RESOURCE_SYNC
    method_permission_name = p.method_map(resolve=p.RESOLVE)
    openapi_spec_tag = "Sync"
    openapi_spec_component_schemas = (ConflictCloseInSchema,)
    list_columns = [
        "id", "created_at", "channel_id", "channel.code", "order_id", "kind", "status",
        "external_id", "sku", "field", "error", "resolution", "resolved_by", "resolved_at",
    ]
    show_columns = CONFLICT_SHOW_COLUMNS
    order_columns = ["id"]
    base_order = ("id", "desc")
    search_operators = {
        "status": ["eq", "in"], "kind": ["eq", "in"], "channel": ["rel_o_m"],
        "order": ["rel_o_m"], "sku": ["eq"],
    }

    @expose("/<int:pk>/resolve", methods=["POST"])
    @protect()
    @safe
    @permission_name("resolve")
    @domain_errors
    @documented("Close a conflict: resolved (what was done, in the note) or discarded "
                "(why it needs nothing; note required)", body="ConflictCloseIn")
    def resolve(self, pk: int):
        body = load(ConflictCloseInSchema())
        conflicts.close(db.session, pk, body["status"], body["note"], self.actor())
        db.session.expire_all()
        return self.get_headless(pk)


class SyncRunApi(ReadOnlyApi):
    resource_name = "sync_run"
    datamodel = WaybillInterface(SyncRun, count_cap=True)
    class_permission_name = p.RESOURCE_SYNC
    method_permission_name = p.method_map()
    openapi_spec_tag = "Sync"
    list_columns = [
        "id", "channel_id", "channel.code", "job", "status", "started_at", "finished_at",
        "duration_ms", "fetched", "created", "updated", "unchanged", "conflicts", "errors",
    ]
    show_columns = list_columns + ["cursor_before", "cursor_after", "error_message"]
    # (channel_id, started_at) and started_at are indexed
    order_columns = ["id", "started_at"]
    base_order = ("started_at", "desc")
    search_operators = {"channel": ["rel_o_m"], "started_at": ["gt", "lt"], "job": ["eq"],
                        "status": ["eq", "in"]}
