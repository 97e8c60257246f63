"""/api/v1/webhook_subscription/ (Admin only, every method: the URL receives customer
data): POST {url, events} -> 201 with the secret, shown this once; GET the list or one;
DELETE; POST /<pk>/rotate (a new secret, the old one signs too for a grace period),
/<pk>/pause, /<pk>/resume (sends what was held), /<pk>/test (a webhook.test event);
GET /<pk>/deliveries (the delivery log), POST /<pk>/deliveries/<delivery_id>/redeliver.
Thin: app/services/notify/webhooks.py does the work."""
from __future__ import annotations

from datetime import timedelta

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from ..extensions import db
from ..security import permissions as p
from app.services.notify import webhooks
from .base import WaybillBaseApi, documented, domain_errors, load
from .schemas.webhooks import (
    WebhookDeliveryOutSchema, WebhookRotateInSchema, WebhookSubscriptionInSchema,
    WebhookSubscriptionOutSchema,
)

METHODS = ("list_all", "show", "create", "remove", "rotate", "pause", "resume", "test",
           "deliveries", "redeliver")


class WebhookSubscriptionApi(WaybillBaseApi):
    resource_name = "webhook_subscription"
    class_permission_name = p.RESOURCE_WEBHOOK_SUBSCRIPTION
    method_permission_name = {name: p.WRITE for name in METHODS}
    openapi_spec_tag = "Webhook subscriptions"
    openapi_spec_component_schemas = (WebhookSubscriptionInSchema, WebhookRotateInSchema,
                                      WebhookSubscriptionOutSchema, WebhookDeliveryOutSchema)
    out = WebhookSubscriptionOutSchema()

    def _one(self, subscription, status: int = 200, secret: str | None = None):
        result = self.out.dump(subscription)
        if secret is not None:
            result["secret"] = secret  # this answer only: it is never shown again
        return self.response(status, id=subscription.id, result=result)

    @expose("/", methods=["GET"])
    @protect()
    @safe
    @permission_name("list_all")
    @domain_errors
    @documented("Webhook subscriptions (never their secrets)", method="get", path=(),
                errors=(401, 403))
    def list_all(self):
        rows = webhooks.listing(db.session)
        return self.response(200, count=len(rows), result=self.out.dump(rows, many=True))

    @expose("/<int:pk>", methods=["GET"])
    @protect()
    @safe
    @permission_name("show")
    @domain_errors
    @documented("One webhook subscription", method="get", errors=(401, 403, 404))
    def show(self, pk: int):
        return self._one(webhooks.get(db.session, pk))

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("create")
    @domain_errors
    @documented("Subscribe a URL to event types; the answer shows the signing secret once",
                body="WebhookSubscriptionIn", path=(), ok=201, errors=(401, 403, 422))
    def create(self):
        body = load(WebhookSubscriptionInSchema())
        subscription, secret = webhooks.create(db.session, body["url"], body["events"],
                                               self.actor())
        return self._one(subscription, 201, secret)

    @expose("/<int:pk>", methods=["DELETE"])
    @protect()
    @safe
    @permission_name("remove")
    @domain_errors
    @documented("Delete a subscription (its queued deliveries are discarded)", method="delete",
                errors=(401, 403, 404))
    def remove(self, pk: int):
        webhooks.delete(db.session, pk, self.actor())
        return self.response(200, message="deleted")

    @expose("/<int:pk>/rotate", methods=["POST"])
    @protect()
    @safe
    @permission_name("rotate")
    @domain_errors
    @documented("A new signing secret, shown once; the old one also signs for grace_hours",
                body="WebhookRotateIn", errors=(401, 403, 404, 422))
    def rotate(self, pk: int):
        body = load(WebhookRotateInSchema())
        subscription, secret = webhooks.rotate(db.session, pk, self.actor(),
                                               timedelta(hours=body["grace_hours"]))
        return self._one(subscription, 200, secret)

    @expose("/<int:pk>/pause", methods=["POST"])
    @protect()
    @safe
    @permission_name("pause")
    @domain_errors
    @documented("Hold this subscription's deliveries", errors=(401, 403, 404))
    def pause(self, pk: int):
        return self._one(webhooks.pause(db.session, pk, self.actor()))

    @expose("/<int:pk>/resume", methods=["POST"])
    @protect()
    @safe
    @permission_name("resume")
    @domain_errors
    @documented("Active again: what was held is sent, in order", errors=(401, 403, 404, 409))
    def resume(self, pk: int):
        return self._one(webhooks.resume(db.session, pk, self.actor()))

    @expose("/<int:pk>/test", methods=["POST"])
    @protect()
    @safe
    @permission_name("test")
    @domain_errors
    @documented("Queue a webhook.test event to this subscription", errors=(401, 403, 404))
    def test(self, pk: int):
        message_id = webhooks.send_test(db.session, pk, self.actor())
        return self.response(202, outbox_message_id=message_id)

    @expose("/<int:pk>/deliveries", methods=["GET"])
    @protect()
    @safe
    @permission_name("deliveries")
    @domain_errors
    @documented("The delivery log: every attempt, newest first (the last 100)", method="get",
                errors=(401, 403, 404))
    def deliveries(self, pk: int):
        webhooks.get(db.session, pk)
        rows = webhooks.deliveries(db.session, pk)
        return self.response(200, count=len(rows),
                             result=WebhookDeliveryOutSchema().dump(rows, many=True))

    @expose("/<int:pk>/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
    @protect()
    @safe
    @permission_name("redeliver")
    @domain_errors
    @documented("Send a logged delivery's event again, with the same id",
                path=("pk", "delivery_id"), errors=(401, 403, 404))
    def redeliver(self, pk: int, delivery_id: int):
        message_id = webhooks.redeliver(db.session, pk, delivery_id, self.actor())
        return self.response(202, outbox_message_id=message_id)
