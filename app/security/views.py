"""FAB's security views as Waybill needs them: the sign-ins with Waybill's limits
(app/services/core/logins.py) and one safe ``next=``, and the roles page as the roles matrix.

The classes keep FAB's names: FAB builds its URLs from the class name
(``AuthDBView.login``, ``RoleModelView.list``) and the URL-map test lists the sign-ins
as public.
"""
from __future__ import annotations

from flask import flash, g, jsonify, redirect, request
from flask_appbuilder._compat import as_unicode
from flask_appbuilder.api import safe
from flask_appbuilder.security import views as fab_views
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from flask_appbuilder.security.decorators import has_access, no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.views import expose
from flask_login import login_user

from app.services.core.logins import LoginRefused
from . import permissions as p
from .redirects import safe_next
from .roles import FAB_PERMISSIONS, ROLE_MATRIX, ROLES, ROW_LABELS, permissions_for


class AuthDBView(fab_views.AuthDBView):
    """FAB's form login, with ``next=`` checked by ``safe_next`` and a refused attempt
    (locked account, too many attempts) answered with its reason and 429."""

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        index = self.appbuilder.get_url_for_index
        next_url = safe_next(request.args.get("next"), index)
        if g.user is not None and g.user.is_authenticated:
            return redirect(next_url)
        form = LoginForm_db()
        headers = {}
        if form.validate_on_submit():
            try:
                user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
            except LoginRefused as err:
                flash(err.message, "danger")
                headers = {"Retry-After": str(err.retry_after)}
            else:
                if user:
                    login_user(user, remember=False)
                    return redirect(next_url)
                flash(as_unicode(self.invalid_login_message), "warning")
                return redirect(self.appbuilder.get_url_for_login_with(next_url))
        response = self.render_template(self.login_template, title=self.title, form=form,
                                        appbuilder=self.appbuilder)
        return (response, 429, headers) if headers else response


class SecurityApi(FabSecurityApi):
    """FAB's JSON login; a refused attempt answers 429 with the reason and Retry-After
    (FAB's ``@safe`` would turn it into a 500)."""

    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        try:
            return FabSecurityApi.login.__wrapped__(self)
        except LoginRefused as err:
            response = jsonify(err.to_dict())  # the API's error body (app/errors.py)
            response.status_code = err.status
            response.headers["Retry-After"] = str(err.retry_after)
            return response


class RoleModelView(fab_views.RoleModelView):
    """FAB's roles page shows the roles matrix of app/security/roles.py (permission x role,
    in words) instead of raw permission strings. Roles are defined in code and synced by
    ``flask oms init``, so they are read here, not edited (an edit would be undone by the
    next sync)."""

    include_route_methods = {"list", "show"}
    class_permission_name = p.RESOURCE_SECURITY
    method_permission_name = {"list": p.WRITE, "show": p.WRITE}
    list_columns = ["name"]
    show_columns = ["name"]
    copy_role = None  # FAB's "Copy Role" action: roles come from the code

    @expose("/list/")
    @has_access
    def list(self):
        rows = [{
            "label": ROW_LABELS[row], "resource": row[0], "action": row[1],
            "roles": roles,
            "grants": FAB_PERMISSIONS.get(row, [(f"can_{row[1]}", row[0])]),
        } for row, roles in ROLE_MATRIX.items()]
        counts = {role: len(permissions_for(role)) for role in ROLES}
        return self.render_template("oms/roles_matrix.html", rows=rows, roles=ROLES,
                                    counts=counts, title="Roles")
