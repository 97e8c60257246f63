"""Waybill's security manager and the role sync run by ``flask oms init``."""
from __future__ import annotations

import logging
from contextlib import contextmanager

from flask import current_app, g, has_request_context, request, session
from flask_appbuilder.security.manager import BaseSecurityManager
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import (
    Permission, PermissionView, ViewMenu, assoc_permissionview_role,
)
from flask_login import user_logged_in, user_logged_out
from sqlalchemy import select

from ..extensions import db
from app.services.core import logins
from app.services.core.transaction import sqlite_write_lock
from app.services.core import security_audit  # noqa: F401 (registers the audit listener)
from .permissions import READ
from .roles import ADMIN, FAB_PERMISSIONS, ROLE_MATRIX, ROLES, permissions_for
from .views import AuthDBView, RoleModelView, SecurityApi

log = logging.getLogger(__name__)


SESSION_TOKEN_KEY = "_wb_session"


class WaybillSecurityManager(SecurityManager):
    """FAB's SQLAlchemy security manager, plus: sign-in limits and lockout held in the
    database (app/services/core/logins.py), server-side browser sessions (signing out ends
    them), a log line for sign-in events (no secrets), no "User's Statistics" page (it
    loads Google Charts from the internet), and one permission query per request instead
    of one per menu item and button."""

    authdbview = AuthDBView
    security_api = SecurityApi
    rolemodelview = RoleModelView
    userstatschartview = None

    def create_login_manager(self, app):
        lm = super().create_login_manager(app)
        lm.user_loader(self.load_session_user)
        real_app = app._get_current_object() if hasattr(app, "_get_current_object") else app
        user_logged_in.connect(_start_session, real_app)  # FAB passes current_app (a proxy)
        user_logged_out.connect(_end_session, real_app)
        return lm

    def load_session_user(self, pk):
        """Flask-Login's loader for the session cookie: the user, if the cookie's session
        is still live on the server (JWTs and API keys use their own loaders)."""
        user = self.load_user(pk)
        if user is None or not logins.session_is_live(self.session, user.id,
                                                      session.get(SESSION_TOKEN_KEY)):
            return None
        return user

    def auth_user_db(self, username, password):
        """FAB's password check, counted by the limiter: refused (LoginRefused) before the
        check when the account is locked or the address over its limit."""
        policy = logins.LoginPolicy.from_config(current_app.config)
        attempt = logins.begin_attempt(self.session, policy, username, request.remote_addr)
        user = None
        try:
            # FAB reads the user, then writes the sign-in (last_login, counts) and commits. On
            # SQLite a transaction that began as a reader cannot write once another connection
            # (the scheduler) has committed since ("database is locked" at once, no busy
            # wait): so FAB's transaction takes the write lock when it begins.
            with sqlite_write_lock(self.session):
                user = super().auth_user_db(username, password)
        finally:
            if user:
                logins.attempt_succeeded(self.session, attempt, username)
            else:
                known = self.find_user(username=username) if username else None
                logins.attempt_failed(self.session, policy, attempt, username,
                                      known.id if known else None)
        return user

    def exist_permission_on_roles(self, view_name, permission_name, role_ids) -> bool:
        if not has_request_context():
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        key = tuple(sorted(role_ids))
        return (permission_name, view_name) in self._granted(
            key, assoc_permissionview_role.c.role_id.in_(key))

    def is_item_public(self, permission_name, view_name) -> bool:
        """FAB reads the public role and its permissions from the database for every check
        (one or two per API request, the costliest part of a small request): once per
        request here."""
        if not has_request_context():
            return super().is_item_public(permission_name, view_name)
        public = current_app.config.get("AUTH_ROLE_PUBLIC", "Public")
        return (permission_name, view_name) in self._granted(
            ("public", public), assoc_permissionview_role.c.role_id.in_(
                select(self.role_model.id).where(self.role_model.name == public)))

    def _granted(self, key, roles_clause) -> set[tuple[str, str]]:
        """(permission, view) pairs the roles hold, read once per request."""
        cache = g.setdefault("_waybill_permissions", {})
        if key not in cache:
            cache[key] = set(self.session.execute(
                select(Permission.name, ViewMenu.name)
                .join(PermissionView, PermissionView.permission_id == Permission.id)
                .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
                .join(assoc_permissionview_role,
                      assoc_permissionview_role.c.permission_view_id == PermissionView.id)
                .where(roles_clause)
            ).all())
        return cache[key]

    def on_user_login(self, user):
        log.info("sign-in: %s", user.username)

    def on_user_login_failed(self, user):
        log.warning("failed sign-in for %s", getattr(user, "username", "unknown user"))


def _start_session(app, user, **_):
    session.pop(SESSION_TOKEN_KEY, None)
    session[SESSION_TOKEN_KEY] = logins.start_session(db.session, user.id)


def _end_session(app, user, **_):
    logins.end_session(db.session, session.pop(SESSION_TOKEN_KEY, None))


# FAB warnings that a role sync always meets and that need nothing from anyone:
# - create_db finds no user yet ("use flask fab command"): `flask oms init` creates the admin
#   right after;
# - several views share one resource (e.g. Order: the orders list, the review queue), so FAB's
#   per-view sync proposes to delete the other views' permissions and refuses, because Admin
#   holds them: they stay, which is what we want.
EXPECTED_FAB_WARNINGS = ("No user yet created", "Refused to delete permission view")
FAB_SECURITY_LOGGERS = ("flask_appbuilder.security.manager", "flask_appbuilder.security.sqla.manager")


class _DropExpected(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(EXPECTED_FAB_WARNINGS)


@contextmanager
def _without_expected_fab_warnings():
    quiet = _DropExpected()
    loggers = [logging.getLogger(name) for name in FAB_SECURITY_LOGGERS]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def sync_roles(appbuilder) -> dict[str, int]:
    """Create FAB's roles and permissions, then make each Waybill role hold exactly the
    permissions of the matrix plus the menus it can use. Idempotent."""
    with security_audit.batched(appbuilder.sm.session):
        return _sync_roles(appbuilder)


def _sync_roles(appbuilder) -> dict[str, int]:
    sm = appbuilder.sm
    with _without_expected_fab_warnings():
        BaseSecurityManager.create_db(sm)  # Admin and Public (FAB_CREATE_DB=False skips it)
        appbuilder.add_permissions(update_perms=True)  # every view's permissions; Admin gets all
    menu_access = _menu_access_by_row(appbuilder)
    counts = {}
    _admin_holds_matrix_only_rows(sm)
    for name in ROLES:
        if name == ADMIN:
            continue
        role = sm.add_role(name)
        wanted = permissions_for(name)
        # Menus follow Waybill's own resources only: the profile rows grant FAB views
        # (e.g. UserDBModelView.userinfo) whose menus (List Users) stay Admin's.
        rows = {row for row, roles in ROLE_MATRIX.items()
                if name in roles and row not in FAB_PERMISSIONS}
        for row in rows:
            wanted.extend(("menu_access", menu) for menu in menu_access.get(row, ()))
        pvms = []
        for perm, view in dict.fromkeys(wanted):
            pvm = sm.find_permission_view_menu(perm, view) or sm.add_permission_view_menu(
                perm, view
            )
            pvms.append(pvm)
        role.permissions = pvms
        counts[name] = len(pvms)
    sm.session.commit()
    return counts


def _admin_holds_matrix_only_rows(sm) -> None:
    """Admin gets every view's permissions from FAB; a matrix row no view method declares
    (a check inside an endpoint, e.g. Order/refund_any) is added here."""
    admin = sm.find_role(ADMIN)
    held = set(admin.permissions)
    for perm, view in permissions_for(ADMIN):
        pvm = sm.find_permission_view_menu(perm, view) or sm.add_permission_view_menu(perm, view)
        if pvm not in held:
            admin.permissions.append(pvm)
            held.add(pvm)


def _menu_access_by_row(appbuilder) -> dict[tuple[str, str], set[str]]:
    """{(resource, action): menu names (items and their categories)}: a menu item belongs
    to the permission its view's landing page needs (e.g. the review queue is Order/amend,
    not every role that reads orders)."""
    result: dict[tuple[str, str], set[str]] = {}
    for category in appbuilder.menu.get_list():
        items = category.childs or [category]
        for item in items:
            view = item.baseview
            if view is None or item.name == "-":
                continue
            action = (view.method_permission_name or {}).get(view.default_view, READ)
            names = result.setdefault((view.class_permission_name, action), set())
            names.add(item.name)
            if item is not category:
                names.add(category.name)
    return result
