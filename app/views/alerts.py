"""Alerts (everyone reads; Admin and Operations acknowledge) and alert channels (Admin
only: a Slack-compatible incoming webhook whose URL is write-only). Every action is a POST
with a CSRF token that calls app/services/notify/."""
from __future__ import annotations

from flask import request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access

from ..extensions import db
from ..models import Alert, AlertChannel
from ..security import permissions as p
from app.services.notify import alert_channels, alerts
from .base import (
    EagerSQLAInterface, ReadOnlyModelView, can, current_actor, redirect_back, service_call,
)


class AlertView(ReadOnlyModelView):
    route_base = "/alerts"
    datamodel = EagerSQLAInterface(Alert)
    class_permission_name = p.RESOURCE_ALERT
    method_permission_name = p.method_map(acknowledge=p.ACKNOWLEDGE)
    include_route_methods = {"list", "acknowledge"}
    list_title = "Alerts"

    @expose("/list/")
    @has_access
    def list(self):
        show_all = request.args.get("all") == "1"
        return self.render_template(
            "oms/alerts.html", alerts=alerts.recent(db.session, include_resolved=show_all),
            show_all=show_all, can_ack=can(p.ACKNOWLEDGE, p.RESOURCE_ALERT))

    @expose("/<int:pk>/acknowledge", methods=["POST"])
    @has_access
    def acknowledge(self, pk):
        service_call(alerts.acknowledge, db.session, pk, current_actor(),
                     success=lambda a: f"Alert #{a.id} acknowledged")
        return redirect_back(url_for("AlertView.list"))


class AlertChannelView(ReadOnlyModelView):
    """Admin only, every method (even reading: the page is where the secret is set)."""

    route_base = "/alert-channels"
    datamodel = EagerSQLAInterface(AlertChannel)
    class_permission_name = p.RESOURCE_ALERT_CHANNEL
    method_permission_name = {"list": p.WRITE, "save": p.WRITE}
    include_route_methods = {"list", "save"}
    list_title = "Alert channels"

    @expose("/list/")
    @has_access
    def list(self):
        channels = db.session.query(AlertChannel).order_by(AlertChannel.name).all()
        return self.render_template("oms/alert_channels.html", channels=channels)

    @expose("/save", methods=["POST"])
    @has_access
    def save(self):
        form = request.form
        values = {"name": form.get("name"), "quiet_minutes": form.get("quiet_minutes") or 60,
                  "enabled": form.get("enabled") in ("1", "on", "y", "true")}
        service_call(alert_channels.save, db.session, values, current_actor(),
                     form.get("pk") or None, url=form.get("url") or None,
                     success=lambda c: f"Alert channel {c.name} saved")
        return redirect_back(url_for("AlertChannelView.list"))
