"""The start page: orders by status, open holds by reason, open sync conflicts and low
stock, each one aggregate query (services/order_queries.dashboard), linking into the
filtered lists. "/" (FAB's index) sends people here; anonymous users go to the login."""
from __future__ import annotations

from flask import redirect, url_for
from flask_login import current_user
from flask_appbuilder import BaseView, IndexView, expose
from flask_appbuilder.security.decorators import has_access

from ..extensions import db
from ..security import permissions as p
from app.services.fulfilment import sla
from app.services.notify import alerts
from app.services.orders import queries as order_queries
from .base import can


class DashboardView(BaseView):
    route_base = "/dashboard"
    default_view = "index"
    class_permission_name = p.RESOURCE_ORDER
    method_permission_name = {"index": p.READ}

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        return self.render_template(
            "oms/dashboard.html", data=order_queries.dashboard(db.session),
            can_sync=can(p.READ, p.RESOURCE_SYNC), can_stock=can(p.READ, p.RESOURCE_STOCK),
            sla=sla.tile(db.session) if can(p.READ, p.RESOURCE_FULFILLMENT) else None,
            open_alerts=alerts.open_alerts(db.session, limit=50)
            if can(p.READ, p.RESOURCE_ALERT) else None,
        )


class WaybillIndexView(IndexView):
    """FAB's home page (config FAB_INDEX_VIEW): "/" goes to the dashboard, which asks
    anonymous visitors to sign in."""

    @expose("/")
    def index(self):
        # the Warehouse role lands on its floor (pick lists, ready to pick, packed, shipped today)
        roles = {role.name for role in getattr(current_user, "roles", None) or ()}
        if "Warehouse" in roles and "Admin" not in roles:
            return redirect(url_for("FloorView.index"))
        return redirect(url_for("DashboardView.index"))
