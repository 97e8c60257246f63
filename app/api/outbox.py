"""/api/v1/outbox/ (Outbox/read): the messages to the outside world, with filters
(topic, target, status, order, created_at for the age); POST /<pk>/retry, /<pk>/discard
and /bulk (Outbox/retry): services/core/outbox.py, audited with who did it."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..models.notifications import OutboxMessage
from ..security import permissions as p
from app.services.core import outbox
from .base import ReadOnlyApi, WaybillInterface, documented, domain_errors, load
from .schemas.outbox import OutboxActionInSchema, OutboxBulkInSchema, OutboxBulkResultOutSchema


class OutboxApi(ReadOnlyApi):
    resource_name = "outbox"
    datamodel = WaybillInterface(OutboxMessage, count_cap=True)
    class_permission_name = p.RESOURCE_OUTBOX
    method_permission_name = p.method_map(retry=p.RETRY, discard=p.RETRY, bulk=p.RETRY)
    openapi_spec_tag = "Outbox"
    openapi_spec_component_schemas = (OutboxActionInSchema, OutboxBulkInSchema,
                                      OutboxBulkResultOutSchema)
    list_columns = [
        "id", "message_id", "topic", "target", "status", "attempts", "next_attempt_at",
        "last_error", "remote_id", "order_id", "group_key", "dedupe_key", "created_at",
        "sent_at",
    ]
    show_columns = list_columns + ["payload", "claimed_at", "claimed_by"]
    order_columns = ["id"]
    base_order = ("id", "desc")
    search_operators = {
        "topic": ["eq"], "target": ["eq"], "status": ["eq", "in"], "order": ["rel_o_m"],
        "created_at": ["gt", "lt"], "group_key": ["eq"],
    }

    def _after(self, pk: int):
        db.session.expire_all()
        return self.get_headless(pk)

    @expose("/<int:pk>/retry", methods=["POST"])
    @protect()
    @safe
    @permission_name("retry")
    @domain_errors
    @documented("Send a pending, dead or uncertain message at the next pass (same message id, "
                "a fresh attempt budget)", body="OutboxActionIn")
    def retry(self, pk: int):
        body = load(OutboxActionInSchema())
        outbox.retry(db.session, pk, self.actor(), body["note"])
        return self._after(pk)

    @expose("/<int:pk>/discard", methods=["POST"])
    @protect()
    @safe
    @permission_name("discard")
    @domain_errors
    @documented("Drop a pending, dead or uncertain message (it no longer holds its group back)",
                body="OutboxActionIn")
    def discard(self, pk: int):
        body = load(OutboxActionInSchema())
        outbox.discard(db.session, pk, self.actor(), body["note"])
        return self._after(pk)

    @expose("/bulk", methods=["POST"])
    @protect()
    @safe
    @permission_name("bulk")
    @domain_errors
    @documented("Retry or discard many messages; each succeeds or fails on its own",
                path=(), body="OutboxBulkIn", errors=(401, 403, 422))
    def bulk(self):
        body = load(OutboxBulkInSchema())
        result = outbox.bulk(db.session, body["action"], body["ids"], self.actor(), body["note"])
        return self.response(200, result=OutboxBulkResultOutSchema().dump(result))
