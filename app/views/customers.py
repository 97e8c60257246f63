"""Customers: the list and a customer page with orders across every channel."""
from __future__ import annotations

from flask import abort, request
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup
from flask import url_for

from ..extensions import db
from app.services.returns import listing as return_listing
from ..models import Customer
from ..security import permissions as p
from app.services.orders import queries as order_queries
from app.services.core.errors import NotFound
from .base import EagerSQLAInterface, ReadOnlyModelView


def _customer_link(customer: Customer) -> Markup:
    return Markup('<a href="{}"><strong>{}</strong></a>').format(
        url_for("CustomerView.show", pk=customer.id), customer.name or customer.email or customer.id)


class CustomerView(ReadOnlyModelView):
    route_base = "/customers"
    datamodel = EagerSQLAInterface(Customer, display={"name": _customer_link}, count_cap=True)
    class_permission_name = p.RESOURCE_CUSTOMER
    method_permission_name = p.method_map()

    list_title = "Customers"
    list_columns = ["name", "email", "phone"]
    order_columns = ["name", "email"]
    search_columns = ["name", "email", "phone"]
    base_order = ("id", "desc")
    label_columns = {"name": "Name", "email": "E-mail", "phone": "Phone", "note": "Note"}

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        try:
            page = int(request.args.get("page", 0))
            summary = order_queries.customer_summary(db.session, int(pk), page=page)
        except (ValueError, NotFound):
            abort(404)
        return self.render_template("oms/customer_show.html", summary=summary,
                                    customer=summary.customer,
                                    returns=return_listing.for_customer(db.session, summary.customer.id))
