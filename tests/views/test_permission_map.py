"""Every endpoint of the admin UI maps to a row of the role matrix (the lead's URL-map test
checks the whole app; this one names the UI view that breaks it)."""
from __future__ import annotations

from app.security.roles import ROLE_MATRIX

UI_MODULE_PREFIX = "app.views."


def ui_views(app):
    return {view.endpoint: view for view in app.appbuilder.baseviews
            if type(view).__module__.startswith(UI_MODULE_PREFIX)}


def test_every_ui_endpoint_is_a_matrix_row(app):
    views = ui_views(app)
    assert len(views) >= 19
    problems, seen = [], 0
    for rule in app.url_map.iter_rules():
        blueprint, _, method = rule.endpoint.partition(".")
        view = views.get(blueprint)
        if view is None:
            continue
        seen += 1
        function = getattr(view, method)
        if not hasattr(function, "_permission_name"):
            problems.append(f"{rule.rule}: {blueprint}.{method} is not protected")
            continue
        action = view.method_permission_name.get(method)
        if action is None:
            problems.append(f"{rule.rule}: {blueprint}.{method} has no mapped action")
        elif (view.class_permission_name, action) not in ROLE_MATRIX:
            problems.append(f"{rule.rule}: ({view.class_permission_name}, {action}) not in matrix")
    assert seen > 40
    assert not problems, "\n".join(problems)


def test_menu_items_belong_to_resources(app):
    menu = {item.name: item.baseview.class_permission_name
            for category in app.appbuilder.menu.get_list() for item in (category.childs or [])
            if item.baseview is not None}
    assert menu["Orders"] == "Order" and menu["Stock levels"] == "Stock"
    assert menu["General settings"] == "Setting" and menu["Channels"] == "Channel"
    assert menu["Rules"] == "Rule" and menu["Review queue"] == "Order"
    categories = [c.name for c in app.appbuilder.menu.get_list()]
    expected = ["Orders", "Customers", "Fulfillment", "Returns", "Inventory", "Catalog",
                "Channels & Sync", "Settings"]
    assert [c for c in categories if c in expected] == expected
