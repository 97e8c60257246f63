"""Outbound webhook subscriptions (Admin only, every method: the URL receives customer
data). The list adds a subscription and shows its secret once, in that answer only (never
flashed, stored or shown again); a subscription's page shows its delivery log and holds
its actions. Every action is a POST with a CSRF token that calls app/services/notify/."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access

from ..extensions import db
from ..models import WebhookSubscription
from ..security import permissions as p
from app.services.notify import webhooks
from .base import EagerSQLAInterface, ReadOnlyModelView, current_actor, service_call

ACTIONS = ("list", "create", "detail", "rotate", "pause", "resume", "test", "remove",
           "redeliver")


class WebhookSubscriptionView(ReadOnlyModelView):
    route_base = "/webhook-subscriptions"  # not /webhooks/: the inbound channel webhooks live there
    datamodel = EagerSQLAInterface(WebhookSubscription)
    class_permission_name = p.RESOURCE_WEBHOOK_SUBSCRIPTION
    method_permission_name = {name: p.WRITE for name in ACTIONS}
    include_route_methods = set(ACTIONS)
    list_title = "Webhooks"

    def _list_page(self, new_secret=None, new_id=None):
        return self.render_template(
            "oms/webhooks.html", subscriptions=webhooks.listing(db.session),
            event_types=webhooks.EVENT_TYPES, new_secret=new_secret, new_id=new_id)

    def _detail_page(self, pk, new_secret=None):
        subscription = webhooks.get(db.session, pk)
        return self.render_template(
            "oms/webhook_detail.html", s=subscription, new_secret=new_secret,
            deliveries=webhooks.deliveries(db.session, pk),
            held=webhooks.held_count(db.session, pk))

    @expose("/list/")
    @has_access
    def list(self):
        return self._list_page()

    @expose("/create", methods=["POST"])
    @has_access
    def create(self):
        result = service_call(webhooks.create, db.session, request.form.get("url"),
                              request.form.getlist("events"), current_actor(),
                              success="Subscription added: copy its secret now, it is not "
                                      "shown again")
        if not result:
            return redirect(url_for("WebhookSubscriptionView.list"))
        subscription, secret = result
        return self._list_page(new_secret=secret, new_id=subscription.id)

    @expose("/<int:pk>/")
    @has_access
    def detail(self, pk):
        return self._detail_page(pk)

    @expose("/<int:pk>/rotate", methods=["POST"])
    @has_access
    def rotate(self, pk):
        result = service_call(webhooks.rotate, db.session, pk, current_actor(),
                              success="New secret: copy it now; the old one signs too for 24 h")
        return self._detail_page(pk, new_secret=result[1] if result else None)

    def _call(self, fn, pk, success, *args):
        service_call(fn, db.session, pk, *args, current_actor(), success=success)
        return redirect(url_for("WebhookSubscriptionView.detail", pk=pk))

    @expose("/<int:pk>/pause", methods=["POST"])
    @has_access
    def pause(self, pk):
        return self._call(webhooks.pause, pk, "Paused: deliveries are held")

    @expose("/<int:pk>/resume", methods=["POST"])
    @has_access
    def resume(self, pk):
        return self._call(webhooks.resume, pk, "Resumed: held deliveries go out in order")

    @expose("/<int:pk>/test", methods=["POST"])
    @has_access
    def test(self, pk):
        return self._call(webhooks.send_test, pk, "Test event queued")

    @expose("/<int:pk>/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
    @has_access
    def redeliver(self, pk, delivery_id):
        return self._call(webhooks.redeliver, pk, "Queued again (same event id)", delivery_id)

    @expose("/<int:pk>/delete", methods=["POST"])
    @has_access
    def remove(self, pk):
        service_call(webhooks.delete, db.session, pk, current_actor(),
                     success="Subscription deleted")
        return redirect(url_for("WebhookSubscriptionView.list"))
