"""Settings: typed settings (services/core/settings.py; Admin writes, Operations reads), exchange
rates (services/fx.set_rate) and the audit log of reference-data changes."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import DataRequired

from ..extensions import db
from ..models import AuditLog, ExchangeRate
from ..security import permissions as p
from app.services.core import fx
from app.services.core import settings as settings_service
from app.services.core.errors import DomainError
from .base import (
    EagerSQLAInterface, ReadOnlyModelView, ServiceModelView, can, current_actor, flash_error,
    form_error_status,
)
from .formatting import changes, utc


class SettingsView(BaseView):
    route_base = "/settings"
    default_view = "index"
    class_permission_name = p.RESOURCE_SETTING
    method_permission_name = {"index": p.READ, "update": p.WRITE}

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        return self._render()

    def _render(self, errors=None, submitted=None, status=200):
        return self.render_template(
            "oms/settings.html", settings=settings_service.all_settings(db.session),
            can_write=can(p.WRITE, p.RESOURCE_SETTING), errors=errors or {},
            submitted=submitted or {}, base_currency=fx.base_currency(),
        ), status

    @expose("/<key>", methods=["POST"])
    @has_access
    def update(self, key):
        if key not in settings_service.DEFINITIONS:
            abort(404)
        definition = settings_service.DEFINITIONS[key]
        raw = request.form.get("value")
        if definition.kind == "bool":
            raw = "true" if request.form.get("value") in ("true", "on", "1", "yes") else "false"
        try:
            value = settings_service.set_value(db.session, key, raw, current_actor())
        except DomainError as err:
            flash_error(err)
            return self._render(errors={key: err.message}, submitted={key: raw},
                                status=form_error_status(err))
        flash(f"{definition.label}: set to {value}", "success")
        return redirect(url_for("SettingsView.index"))


class ExchangeRateView(ServiceModelView):
    route_base = "/exchange-rates"
    datamodel = EagerSQLAInterface(
        ExchangeRate,
        display={"rate": lambda r: Markup("1 {} = <strong>{}</strong> {}").format(
            r.currency, r.rate.normalize() if r.rate is not None else "", r.base_currency),
            "valid_from": lambda r: utc(r.valid_from), "updated_at": lambda r: utc(r.updated_at)})
    class_permission_name = p.RESOURCE_SETTING
    method_permission_name = p.method_map()
    include_route_methods = {"list", "add"}

    list_title = "Exchange rates"
    add_title = "Add an exchange rate"
    list_columns = ["currency", "rate", "valid_from", "updated_by", "updated_at"]
    add_columns = ["currency", "rate"]
    order_columns = ["currency", "valid_from"]
    search_columns = ["currency", "valid_from"]
    base_order = ("valid_from", "desc")
    add_form_extra_fields = {
        "currency": StringField("Currency", validators=[DataRequired()],
                                description="Three-letter ISO code, e.g. EUR"),
        "rate": StringField("Rate", validators=[DataRequired()],
                            description="Units of the base currency one unit of this currency is "
                                        "worth; valid from now on"),
    }
    label_columns = {"currency": "Currency", "rate": "Rate", "valid_from": "Valid from",
                     "updated_by": "By", "updated_at": "Entered"}

    def save(self, form, pk):
        return fx.set_rate(db.session, form.currency.data, (form.rate.data or "").strip(),
                           current_actor())

    def describe(self, item):
        return f"Rate {item.currency}"


class AuditLogView(ReadOnlyModelView):
    route_base = "/audit-log"
    datamodel = EagerSQLAInterface(
        AuditLog, count_cap=True,
        display={"created_at": lambda a: utc(a.created_at, with_seconds=True),
                 "changes": lambda a: changes(a.changes)})
    class_permission_name = p.RESOURCE_SETTING
    method_permission_name = p.method_map()

    list_title = "Audit log"
    show_title = "Audit entry"
    list_columns = ["created_at", "actor", "entity", "entity_id", "action", "changes"]
    show_columns = list_columns
    order_columns = ["created_at", "entity", "actor"]
    search_columns = ["actor", "entity", "entity_id", "action", "created_at"]
    base_order = ("created_at", "desc")
    label_columns = {"created_at": "When", "actor": "Who", "entity": "What", "entity_id": "Id",
                     "action": "Action", "changes": "Changes"}
