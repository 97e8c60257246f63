"""Admin pages for API keys (Security/write): list with last use, create (the key is
shown once), revoke. Every change is audited (services/core/security_audit.py)."""
from __future__ import annotations

from flask import flash, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..extensions import db
from ..security import permissions as p
from app.services.core import users
from app.services.core.errors import DomainError
from .base import flash_error, form_error_status


class ApiKeyView(BaseView):
    route_base = "/api-keys"
    default_view = "list"
    class_permission_name = p.RESOURCE_SECURITY
    method_permission_name = {"list": p.WRITE, "create": p.WRITE, "revoke": p.WRITE}

    def _render(self, new_key=None, new_key_name=None, form=None, status=200):
        sm = self.appbuilder.sm
        response = make_response(self.render_template(
            "oms/api_keys.html", keys=users.list_api_keys(db.session),
            usernames=sorted(u.username for u in sm.get_all_users() if u.active),
            new_key=new_key, new_key_name=new_key_name, form=form or {},
        ), status)
        # The page may carry a new key: never cached, by the browser or anyone between.
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/", methods=["GET"])
    @has_access
    def list(self):
        return self._render()

    @expose("/create", methods=["POST"])
    @has_access
    def create(self):
        form = {"username": request.form.get("username", ""), "name": request.form.get("name", "")}
        try:
            key = users.create_api_key(self.appbuilder.sm, form["username"], form["name"])
        except DomainError as err:
            flash_error(err)
            return self._render(form=form, status=form_error_status(err))
        flash(f"API key '{form['name'].strip()}' created for {form['username']}: copy it now, "
              "it is not shown again.", "success")
        return self._render(new_key=key, new_key_name=form["name"].strip(), status=201)

    @expose("/<key_uuid>/revoke", methods=["POST"])
    @has_access
    def revoke(self, key_uuid):
        try:
            key = users.revoke_api_key(self.appbuilder.sm, key_uuid)
        except DomainError as err:
            flash_error(err)
        else:
            flash(f"API key '{key.name}' of {key.user.username} revoked", "success")
        return redirect(url_for("ApiKeyView.list"))
