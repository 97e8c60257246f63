"""Channels & Sync → Listings: what each channel sells, matched to our products or not.

Everyone who reads the catalog sees them (unmatched first when filtered "unmatched");
Operations (catalog write) map an unmatched listing to a product by SKU and sync a channel's
listings now. Both through services (listings.map_listing, channel_ops.sync_listings_now).
"""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup
from sqlalchemy import select

from ..extensions import db
from ..models import Channel, Listing
from ..security import permissions as p
from app.services.channels import ops as channel_ops
from app.services.channels import listings
from .base import (
    EagerSQLAInterface, FilterChoiceEqual, ReadOnlyModelView, can, current_actor, redirect_back, select_field,
    service_call,
)
from .common import code_cell
from .formatting import DASH, utc

MATCHES = ("unmatched", "sku", "alias", "manual")


def _match_badge(listing) -> Markup:
    style = {"unmatched": "danger", "manual": "info"}.get(listing.matched_by or "unmatched", "success")
    return Markup('<span class="label label-{}">{}</span>').format(style, listing.matched_by or "unmatched")


class ListingView(ReadOnlyModelView):
    route_base = "/listings"
    datamodel = EagerSQLAInterface(
        Listing, eager=("channel", "product"),
        display={"channel": code_cell("channel"), "matched_by": _match_badge,
                 "product": lambda r: Markup('<a href="{}">{}</a>').format(
                     url_for("ListingView.show", pk=r.id), r.product.sku) if r.product else DASH,
                 "synced_at": lambda r: utc(r.synced_at)},
        column_filters={"matched_by": [FilterChoiceEqual]},
    )
    class_permission_name = p.RESOURCE_CATALOG
    method_permission_name = p.method_map(map_listing=p.WRITE, sync_now=p.WRITE)
    include_route_methods = {"list", "show", "map_listing", "sync_now"}

    list_title = "Listings"
    show_title = "Listing"
    list_columns = ["channel", "sku", "title", "matched_by", "product", "external_key", "synced_at"]
    order_columns = ["sku", "matched_by", "synced_at"]
    search_columns = ["channel", "sku", "title", "matched_by"]
    search_form_extra_fields = {"matched_by": select_field("Matched by", [(m, m) for m in MATCHES])}
    base_order = ("sku", "asc")
    label_columns = {"channel": "Channel", "sku": "Channel SKU", "title": "Title", "matched_by": "Match",
                     "product": "Product", "external_key": "Channel id", "synced_at": "Synced"}

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        listing = db.session.get(Listing, int(pk)) if str(pk).isdigit() else None
        if listing is None:
            abort(404)
        return self.render_template("oms/listing_show.html", listing=listing,
                                    can_write=can(p.WRITE, p.RESOURCE_CATALOG),
                                    unmatched=listings.unmatched_count(db.session, listing.channel_id))

    @expose("/<int:pk>/map", methods=["POST"])
    @has_access
    def map_listing(self, pk):
        product_sku = (request.form.get("product_sku") or "").strip()
        service_call(listings.map_listing, db.session, pk, product_sku, current_actor(),
                     success=lambda row: f"Listing {row.sku or row.external_key} mapped to {product_sku}; "
                                         "its SKU is now an alias of that product on this channel")
        return redirect_back(url_for("ListingView.show", pk=pk))

    @expose("/sync/<int:channel_id>", methods=["POST"])
    @has_access
    def sync_now(self, channel_id):
        summary = service_call(channel_ops.sync_listings_now, db.session, channel_id, current_actor())
        if summary:
            flash(f"Listings sync {summary.status}: {summary.fetched} listings, {summary.created} new, "
                  f"{summary.conflicts} unmatched" + (f" — {summary.error_message}" if summary.error_message
                                                      else ""),
                  "success" if summary.status == "succeeded" else "danger")
        return redirect_back(url_for("ListingView.list"))
