"""The search box on every page: orders by number, channel order id, e-mail, customer name
or tracking number, and customers by e-mail or name (services/orders/search.py). One hit goes
straight to it."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..extensions import db
from ..models import Customer
from ..security import permissions as p
from app.services.orders import search as search_service


class SearchView(BaseView):
    route_base = "/search"
    default_view = "search"
    class_permission_name = p.RESOURCE_ORDER
    method_permission_name = {"search": p.READ}

    @expose("", methods=["GET"])
    @expose("/", methods=["GET"])
    @has_access
    def search(self):
        query = request.args.get("q", "")
        result = search_service.search(db.session, query)
        single = result.single
        if single is not None:
            if isinstance(single, Customer):
                return redirect(url_for("CustomerView.show", pk=single.id))
            return redirect(url_for("OrderView.show", pk=single.id))
        return self.render_template("oms/search.html", result=result, query=result.query)
