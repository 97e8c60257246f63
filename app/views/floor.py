"""The warehouse floor's pages: the Warehouse role's home (open pick lists, ready to pick by
ship-by, packed not shipped, shipped today, a new pick list), scan-verified picking
(``/fulfillment/pick/<id>``) and the pack station (``/fulfillment/pack``). The scanning pages
call the pick list and pack APIs from app/static/js/floor.js (a scanner is a keyboard ending
in Enter); they hold no logic of their own."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from sqlalchemy import select

from ..extensions import db
from ..models import CarrierAccount
from ..security import permissions as p
from app.services.core.errors import DomainError
from app.services.fulfilment import floor, picking
from .base import can, current_actor, flash_error


class FloorView(BaseView):
    route_base = "/fulfillment"
    default_view = "index"
    class_permission_name = p.RESOURCE_FULFILLMENT
    method_permission_name = {"index": p.READ, "pick": p.READ, "pack": p.READ, "create_pick_list": p.WRITE}

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        return self.render_template("oms/floor_home.html", data=floor.home(db.session),
                                    can_write=can(p.WRITE, p.RESOURCE_FULFILLMENT))

    @expose("/pick-lists", methods=["POST"])
    @has_access
    def create_pick_list(self):
        form = request.form
        filters = {key: form.get(key) for key in ("shipping_method", "priority", "ship_by_before", "channel_id",
                                                   "max_orders", "max_units") if form.get(key)}
        if form.get("single_item"):
            filters["single_item"] = True
        try:
            pick_list = picking.create(db.session, form.get("warehouse_id"), filters, current_actor())
        except DomainError as err:
            flash_error(err)
            return redirect(url_for("FloorView.index"))
        return redirect(url_for("FloorView.pick", pick_list_id=pick_list.id))

    @expose("/pick/<int:pick_list_id>", methods=["GET"])
    @has_access
    def pick(self, pick_list_id: int):
        try:
            pick_list = picking.get(db.session, pick_list_id)
        except DomainError as err:
            flash_error(err)
            return redirect(url_for("FloorView.index"))
        return self.render_template("oms/floor_pick.html", pick_list=pick_list, stops=picking.walk(pick_list))

    @expose("/pack", methods=["GET"])
    @has_access
    def pack(self):
        accounts = db.session.scalars(select(CarrierAccount).where(CarrierAccount.enabled.is_(True))
                                      .order_by(CarrierAccount.code)).all()
        return self.render_template("oms/floor_pack.html", accounts=accounts)
