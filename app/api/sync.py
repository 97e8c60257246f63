"""/api/v1/sync_conflict/ (+ resolve, bulk: Sync/resolve) and /api/v1/sync_run/ (+ poll:
Sync/resolve): what a channel sent that could not be applied, and the record of every
sync. Resolutions are services/channels/conflicts.py; polling is services/channels/ops.py."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..models import SyncConflict, SyncRun
from ..security import permissions as p
from app.services.orders import api_reads
from app.services.channels import ops as channel_ops
from app.services.channels import conflicts
from app.services.core import error_text
from app.services.core.errors import ValidationFailed
from .base import ReadOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.common import EmptyInSchema
from .schemas.sync import BulkResolveInSchema, BulkResultOutSchema, ResolveInSchema

CONFLICT_SHOW_COLUMNS = [
    "id", "created_at", "channel_id", "channel.code", "order_id", "kind", "status",
    "external_id", "sku", "field", "local_value", "remote_value", "raw_payload", "error",
    "resolution", "resolution_note", "resolved_by", "resolved_at",
]


class SyncConflictApi(ReadOnlyApi):
    resource_name = "sync_conflict"
    datamodel = WaybillInterface(SyncConflict, count_cap=True)
    class_permission_name = p.RESOURCE_SYNC
    method_permission_name = p.method_map(resolve=p.RESOLVE, bulk=p.RESOLVE)
    openapi_spec_tag = "Sync"
    openapi_spec_component_schemas = (ResolveInSchema, BulkResolveInSchema,
                                      BulkResultOutSchema)
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

    def _apply(self, pk: int, body: dict) -> dict:
        """Run one resolution; returns extra facts for the answer."""
        actor, resolution, note = self.actor(), body["resolution"], body["note"]
        if resolution == "close":
            conflicts.close(db.session, pk, "resolved", note, actor)
        elif resolution == "discard":
            conflicts.discard(db.session, pk, note, actor, field_name="note")
        elif resolution == "take_remote":
            conflicts.take_remote(db.session, pk, actor, note)
        elif resolution == "keep_local":
            conflicts.keep_local(db.session, pk, actor, note)
        elif resolution == "retry":
            conflicts.retry(db.session, pk, actor)
        elif resolution == "map_sku":
            product_id = body["product_id"]
            if product_id is None and body["product_sku"]:
                product_id = api_reads.product_id_by_sku(db.session, body["product_sku"])
                if product_id is None:
                    raise ValidationFailed.field("product_sku",
                                                 f"unknown SKU '{body['product_sku']}'")
            if product_id is None:
                raise ValidationFailed.field("product_id", "is required to map a SKU "
                                                           "(or give product_sku)")
            result = conflicts.map_sku(db.session, product_id, actor, conflict_id=pk,
                                       all_channels=body["all_channels"], note=note)
            return {"mapped": {"sku": result.sku, "product_sku": result.product_sku,
                               "conflict_ids": result.conflict_ids,
                               "order_ids": result.order_ids,
                               "released_order_ids": result.released_order_ids}}
        else:
            raise ValidationFailed.field("resolution", "must be one of take_remote, "
                                                       "keep_local, map_sku, retry, discard, close")
        return {}

    @expose("/<int:pk>/resolve", methods=["POST"])
    @protect()
    @safe
    @permission_name("resolve")
    @domain_errors
    @documented("Resolve a conflict: take_remote, keep_local, map_sku, retry, discard (with "
                "why) or close (resolved by hand, with how)", body="ResolveIn")
    def resolve(self, pk: int):
        body = load(ResolveInSchema())
        extra = self._apply(pk, body)
        db.session.expire_all()
        response = self.get_headless(pk)
        if extra and response.status_code == 200:
            data = response.get_json()
            data.update(extra)
            return self.response(200, **data)
        return response

    @expose("/bulk", methods=["POST"])
    @protect()
    @safe
    @permission_name("bulk")
    @domain_errors
    @documented("Apply one resolution to many conflicts; each succeeds or fails on its own",
                path=(), body="BulkResolveIn", errors=(401, 403, 422))
    def bulk(self):
        body = load(BulkResolveInSchema())
        result = conflicts.bulk(db.session, body["action"], body["ids"], self.actor(),
                                reason=body["reason"])
        return self.response(200, result=BulkResultOutSchema().dump(result))


class SyncRunApi(ReadOnlyApi):
    resource_name = "sync_run"
    datamodel = WaybillInterface(SyncRun, count_cap=True)
    class_permission_name = p.RESOURCE_SYNC
    method_permission_name = p.method_map(poll=p.RESOLVE)
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

    def pre_get(self, data) -> None:
        """Support and Viewer read an error's first line, without traceback or server
        paths; Operations and Admin read it whole (app/services/core/error_text.py)."""
        result = data.get("result") or {}
        if result.get("error_message") and not self.appbuilder.sm.has_access(
                p.can(p.RESOLVE), p.RESOURCE_SYNC):
            result["error_message"] = error_text.for_reader(result["error_message"])

    @expose("/poll/<int:channel_id>", methods=["POST"])
    @protect()
    @safe
    @permission_name("poll")
    @domain_errors
    @documented("Poll a channel now (under the scheduler's job lock); answers its sync run",
                path=("channel_id",), ok=201)
    def poll(self, channel_id: int):
        load(EmptyInSchema())
        summary = channel_ops.poll_now(db.session, channel_id, self.actor())
        db.session.expire_all()
        response = self.get_headless(summary.id)
        return self.response(201, **response.get_json())
