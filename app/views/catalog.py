"""Catalog: products (written through services/inventory/reference.py) and SKU aliases (created
through services/catalog.map_sku). Catalog READ / WRITE."""
from __future__ import annotations

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import DataRequired

from ..extensions import db
from ..models import Product, SkuAlias
from ..security import permissions as p
from flask_appbuilder import expose, has_access

from app.services.channels import stock_push
from app.services.inventory import catalog
from app.services.inventory import reference
from .base import EagerSQLAInterface, ServiceModelView, checkbox, current_actor
from .formatting import DASH, money, utc, yes_no


class ProductView(ServiceModelView):
    route_base = "/products"
    datamodel = EagerSQLAInterface(
        Product, count_cap=True,
        display={"sku": lambda pr: Markup("<code>{}</code>").format(pr.sku),
                 "price": lambda pr: money(pr.price),
                 "active": lambda pr: yes_no(pr.active),
                 "created_at": lambda pr: utc(pr.created_at),
                 "updated_at": lambda pr: utc(pr.updated_at)})
    class_permission_name = p.RESOURCE_CATALOG
    method_permission_name = p.method_map()
    include_route_methods = {"list", "show", "add", "edit", "delete"}

    list_title = "Products"
    list_columns = ["sku", "name", "barcode", "price", "weight_kg", "reorder_point", "active"]
    show_columns = list_columns + ["hs_code", "origin_country", "length_cm", "width_cm", "height_cm",
                                   "created_at", "updated_at"]
    add_columns = edit_columns = ["sku", "name", "barcode", "price", "weight_kg",
                                  "reorder_point", "active", "hs_code", "origin_country",
                                  "length_cm", "width_cm", "height_cm"]
    order_columns = ["sku", "name", "price", "reorder_point"]
    search_columns = ["sku", "name", "barcode", "active"]
    base_order = ("sku", "asc")
    label_columns = {"sku": "SKU", "name": "Name", "barcode": "Barcode", "price": "Price",
                     "weight_kg": "Weight (kg)", "reorder_point": "Reorder point",
                     "active": "Active", "created_at": "Created", "updated_at": "Updated",
                     "hs_code": "HS code", "origin_country": "Country of origin", "length_cm": "Length (cm)",
                     "width_cm": "Width (cm)", "height_cm": "Height (cm)"}
    description_columns = {
        "sku": "Stored trimmed and upper-case; the key channel SKUs are matched on",
        "reorder_point": "Low-stock warning when available units fall to this",
        "hs_code": "Harmonized System code for customs (6 to 10 digits); international labels need it",
        "origin_country": "Where the product was made (two-letter ISO code); sent with customs lines",
        "length_cm": "The item's own size: the smallest box that fits an order is suggested from it",
    }

    add_form_extra_fields = edit_form_extra_fields = {"active": checkbox("Active")}

    show_template = "oms/product_show.html"

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        """FAB's show, with what each channel shows of the product and what we last pushed."""
        pk = self._deserialize_pk_if_composite(pk)
        widgets = self._show(pk)
        stock = stock_push.product_channels(db.session, int(pk)) if str(pk).isdigit() else []
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views, channel_stock=stock)

    def save(self, form, pk):
        return reference.save(db.session, "product", self.form_values(form, self.add_columns),
                              current_actor(), pk)

    def remove(self, pk):
        return reference.delete(db.session, "product", pk, current_actor())

    def describe(self, item):
        return f"Product {item.sku}"


class SkuAliasView(ServiceModelView):
    """A channel's SKU string mapped to one of our products ("map SKU")."""

    route_base = "/sku-aliases"
    datamodel = EagerSQLAInterface(
        SkuAlias, eager=("product", "channel"), count_cap=True,
        display={"alias": lambda a: Markup("<code>{}</code>").format(a.alias),
                 "product": lambda a: Markup("<code>{}</code> {}").format(
                     a.product.sku, a.product.name) if a.product else DASH,
                 "channel": lambda a: Markup('<span class="label label-default">{}</span>').format(
                     a.channel.code) if a.channel else Markup(
                     '<span class="text-muted">all channels</span>'),
                 "created_at": lambda a: utc(a.created_at)})
    class_permission_name = p.RESOURCE_CATALOG
    method_permission_name = p.method_map()
    include_route_methods = {"list", "show", "add"}

    list_title = "SKU aliases"
    add_title = "Map a channel SKU to a product"
    list_columns = ["alias", "product", "channel", "created_by", "created_at"]
    show_columns = list_columns
    add_columns = ["alias", "product", "channel"]
    order_columns = ["alias", "created_at"]
    search_columns = ["alias", "channel"]
    base_order = ("alias", "asc")
    add_form_extra_fields = {
        # A text field, not FAB's dropdown of every product (FAB_NOTES 3.4).
        "product": StringField("Product SKU", validators=[DataRequired()],
                               widget=BS3TextFieldWidget(),
                               description="The SKU of our product this alias means"),
    }
    label_columns = {"alias": "Channel SKU", "product": "Product", "channel": "Channel",
                     "created_by": "Created by", "created_at": "Created"}
    description_columns = {"channel": "Leave empty to use the alias for every channel"}

    def save(self, form, pk):
        product = catalog.product_by_sku(db.session, form.product.data)
        channel = form.channel.data
        return catalog.map_sku(db.session, form.alias.data, product.id, current_actor(),
                               channel_id=channel.id if channel else None)

    def describe(self, item):
        return f"Alias {item.alias}"
