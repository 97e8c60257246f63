"""Channels & Sync → Outbox: every message to the outside world, with filters (topic,
target, status, order, age), its attempts, next try and last error; retry and discard one
or many (Outbox/retry: Admin and Operations), recorded with who did it (audit log, and the
order's timeline when the message is an order's). Every action is a POST with a CSRF
token that calls app/services/core/outbox.py."""
from __future__ import annotations

from flask import abort, current_app, flash, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access

from ..extensions import db
from ..models.notifications import OUTBOX_STATUSES, OutboxMessage
from ..security import permissions as p
from app.services.core import outbox
from app.services.core.errors import DomainError
from .base import (
    EagerSQLAInterface, ReadOnlyModelView, can, current_actor, flash_error, redirect_back,
    service_call,
)

FLASH_LIST_MAX = 15
ACTION_LABELS = {"retry": "Retry", "discard": "Discard"}


def _int_arg(name: str):
    try:
        return int(request.args.get(name) or 0)
    except ValueError:
        return 0


class OutboxView(ReadOnlyModelView):
    route_base = "/outbox"
    datamodel = EagerSQLAInterface(OutboxMessage)
    class_permission_name = p.RESOURCE_OUTBOX
    method_permission_name = p.method_map(retry=p.RETRY, discard=p.RETRY, bulk=p.RETRY)
    include_route_methods = {"list", "show", "retry", "discard", "bulk"}
    list_title = "Outbox"
    show_title = "Outbox message"
    page_size = 50

    @expose("/list/")
    @has_access
    def list(self):
        status = request.args.get("status", "")
        if status not in ("", *OUTBOX_STATUSES):
            status = ""
        topic = (request.args.get("topic") or "").strip() or None
        target = (request.args.get("target") or "").strip() or None
        order_ref = (request.args.get("order") or "").strip()
        age = request.args.get("age") or ""
        order_id = outbox.order_id_for(db.session, order_ref)
        cap = int(current_app.config.get("OMS_LIST_COUNT_CAP") or 10_000)
        result = outbox.page(db.session, topic=topic, target=target, status=status or None,
                             order_id=order_id, older_than=age or None,
                             page=_int_arg("page"), page_size=self.page_size, cap=cap)
        filters = {"status": status, "topic": topic or "", "target": target or "",
                   "order": order_ref, "age": age}
        return self.render_template(
            "oms/outbox.html", result=result, filters=filters, statuses=OUTBOX_STATUSES,
            topics=outbox.known_topics(db.session), ages=list(outbox.AGES),
            counts=outbox.counts_by_status(db.session),
            can_retry=can(p.RETRY, p.RESOURCE_OUTBOX), actions=ACTION_LABELS,
            actionable=outbox.RETRYABLE_BY_HAND,
            page_url=lambda n: url_for("OutboxView.list", page=n,
                                       **{k: v for k, v in filters.items() if v}),
            here=request.full_path)

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        try:
            message = db.session.get(OutboxMessage, int(pk))
        except ValueError:
            message = None
        if message is None:
            abort(404)
        return self.render_template(
            "oms/outbox_show.html", message=message,
            can_retry=can(p.RETRY, p.RESOURCE_OUTBOX),
            retryable=message.status in outbox.RETRYABLE_BY_HAND,
            discardable=message.status in outbox.DISCARDABLE)

    def _back(self, pk):
        return redirect_back(url_for("OutboxView.show", pk=pk))

    @expose("/<int:pk>/retry", methods=["POST"])
    @has_access
    def retry(self, pk):
        service_call(outbox.retry, db.session, pk, current_actor(), request.form.get("note"),
                     success=lambda m: f"Outbox message #{m.id} will be sent at the next pass")
        return self._back(pk)

    @expose("/<int:pk>/discard", methods=["POST"])
    @has_access
    def discard(self, pk):
        service_call(outbox.discard, db.session, pk, current_actor(), request.form.get("note"),
                     success=lambda m: f"Outbox message #{m.id} discarded")
        return self._back(pk)

    @expose("/bulk", methods=["POST"])
    @has_access
    def bulk(self):
        action = request.form.get("action") or ""
        try:
            result = outbox.bulk(db.session, action, request.form.getlist("ids"),
                                 current_actor(), request.form.get("note"))
        except DomainError as err:
            flash_error(err)
            return redirect_back(url_for("OutboxView.list"))
        label = ACTION_LABELS.get(action, action)
        if result.succeeded:
            shown = ", ".join(f"#{i}" for i in result.succeeded[:FLASH_LIST_MAX])
            more = len(result.succeeded) - FLASH_LIST_MAX
            flash(f"{label}: {len(result.succeeded)} of {result.total} done ({shown}"
                  + (f" and {more} more" if more > 0 else "") + ")", "success")
        if result.failed:
            reasons = "; ".join(f"#{i}: {why}" for i, why in result.failed[:FLASH_LIST_MAX])
            more = len(result.failed) - FLASH_LIST_MAX
            flash(f"{label}: {len(result.failed)} of {result.total} not done — {reasons}"
                  + (f"; and {more} more" if more > 0 else ""), "danger")
        return redirect_back(url_for("OutboxView.list"))
