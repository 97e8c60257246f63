"""Walk every URL of the app and check each role (and anonymous) against ROLE_MATRIX.

An endpoint whose permission is not a row of the matrix fails the test, so a new view or
API cannot ship without a decision about who may use it.
"""
import re

import pytest
from flask_appbuilder.api import BaseApi

from app.security.roles import ROLE_MATRIX, ROLES, matrix_row_for

# Endpoints anyone may call: signing in and out, static files, the language switch, the
# home page (it sends anonymous users to the login), token refresh (needs a refresh
# token), the channel webhooks (verified by their signatures instead) and the opt-out
# link of customer mails (a signed link), the self-service return page (order number +
# e-mail or a signed link; CSRF; rate-limited).
PUBLIC_ENDPOINTS = re.compile(
    r"^(static|appbuilder\.static|AuthDBView\.(login|logout)|UtilView\.back|LocaleView\.index"
    r"|.*IndexView\.index|SecurityApi\.(login|refresh)|webhooks\..*|mail_public\..*|returns_public\..*)$"
)
# FAB's @action dispatchers check the permission of the action they run (tested below).
ACTION_DISPATCHERS = re.compile(r"^.*\.(action|action_post)$")
ARG_VALUES = {"pk": "999999", "version": "v1", "filename": "missing_sep_file.csv", "name": "x",
              "col_name": "id", "order_id": "999999", "code": "nochannel"}


def endpoint_permissions(app):
    """[(rule, view, method, (permission, view-menu) or None for public)]"""
    views = {view.blueprint.name: view for view in app.appbuilder.baseviews
             if getattr(view, "blueprint", None) is not None}
    result = []
    for rule in app.url_map.iter_rules():
        if PUBLIC_ENDPOINTS.match(rule.endpoint) or ACTION_DISPATCHERS.match(rule.endpoint):
            result.append((rule, None, None, None))
            continue
        blueprint, _, method = rule.endpoint.partition(".")
        view = views.get(blueprint)
        assert view is not None, f"{rule.rule} ({rule.endpoint}) belongs to no FAB view: decide who may use it"
        fn = getattr(view, method)
        assert hasattr(fn, "_permission_name"), (
            f"{rule.rule} ({rule.endpoint}) has no permission check and is not declared public")
        action = (view.method_permission_name or {}).get(fn.__name__) or fn._permission_name
        permission = action if action.startswith("can_") or action == "menu_access" else f"can_{action}"
        result.append((rule, view, method, (permission, view.class_permission_name)))
    return result


def test_every_endpoint_is_a_row_of_the_matrix(app):
    problems = []
    for rule, view, _method, pair in endpoint_permissions(app):
        if pair is None:
            continue
        ours = type(view).__module__.startswith(("app.", "jobs.", "connectors."))
        action = pair[0][4:] if pair[0].startswith("can_") else pair[0]
        if ours and (pair[1], action) not in ROLE_MATRIX:
            problems.append(f"{rule.rule} -> {pair} is not a row of ROLE_MATRIX")
    assert not problems, "endpoints outside the roles matrix:\n" + "\n".join(sorted(set(problems)))


def test_every_bulk_action_is_a_row_of_the_matrix(app):
    problems = []
    for view in app.appbuilder.baseviews:
        if not type(view).__module__.startswith("app."):
            continue
        for name in getattr(view, "actions", {}) or {}:
            permission = view.get_action_permission_name(name)
            action = permission[4:] if permission.startswith("can_") else permission
            if (view.class_permission_name, action) not in ROLE_MATRIX:
                problems.append(f"{type(view).__name__} action {name} -> {permission}")
    assert not problems, "\n".join(problems)


def _url(rule):
    values = {}
    for arg in rule.arguments:
        values[arg] = ARG_VALUES.get(arg, "1")
    return rule.build(values, append_unknown=False)[1]


def _call(client, rule, url, headers=None, csrf=None):
    methods = rule.methods - {"HEAD", "OPTIONS"}
    if "GET" in methods:
        return client.get(url, headers=headers)
    method = sorted(methods)[0]
    if headers is not None:  # an API: JSON body
        return client.open(url, method=method, json={}, headers=headers)
    return client.open(url, method=method, data={"csrf_token": csrf or ""}, headers=headers)


def _refused(response, api: bool, anonymous: bool) -> bool:
    if api:
        return response.status_code in ((401,) if anonymous else (403,))
    if anonymous:
        location = response.headers.get("Location", "")
        return (response.status_code == 302 and "/login" in location) or response.status_code == 400
    return response.status_code == 403


@pytest.mark.parametrize("role", [None, *ROLES])
def test_each_role_gets_exactly_what_the_matrix_grants(app, client_for, api_headers, role):
    username = role.lower() if role else None
    html_client = client_for(username)
    api_client = app.test_client()
    headers = api_headers(username) if username else {}
    wrong = []
    for rule, view, _method, pair in endpoint_permissions(app):
        if pair is None:
            continue
        row = matrix_row_for(*pair)
        # FAB switches some generic routes off (a permission outside base_permissions,
        # e.g. add/edit on its read-only permission views): nobody may use those.
        enabled = pair[0] in (view.base_permissions or ())
        allowed = enabled and role is not None and role in ROLE_MATRIX.get(row, {"Admin"})
        api = isinstance(view, BaseApi)
        url = _url(rule)
        client = api_client if api else html_client
        response = _call(client, rule, url, headers=headers if api else None,
                         csrf=getattr(html_client, "csrf_token", None))
        refused = _refused(response, api, role is None)
        if allowed and (refused or response.status_code in (401, 403)):
            wrong.append(f"{role} refused {rule.endpoint} {url} ({response.status_code})")
        if not allowed and not refused:
            wrong.append(f"{role or 'anonymous'} reached {rule.endpoint} {url} ({response.status_code})")
        assert response.status_code < 500, f"{role} {rule.endpoint} {url}: {response.status_code}"
    assert not wrong, "\n".join(wrong)


def test_the_security_pages_are_walked_as_security_write(app):
    """The admins' pages (API keys, the roles matrix) are in the walk above, as the
    matrix's "users, roles, API keys" row: Admin only."""
    pairs = {rule.endpoint: pair for rule, _view, _method, pair in endpoint_permissions(app)}
    for endpoint in ("ApiKeyView.list", "ApiKeyView.create", "ApiKeyView.revoke",
                     "RoleModelView.list", "RoleModelView.show"):
        assert endpoint in pairs, endpoint
        assert matrix_row_for(*pairs[endpoint]) == ("Security", "write"), endpoint
    assert ROLE_MATRIX[("Security", "write")] == {"Admin"}
    assert not any("UserStatsChartView" in rule.endpoint for rule in app.url_map.iter_rules())
