"""Menus follow the resources of the role matrix (tests/security/test_roles_url_map.py
checks every endpoint of the app against it)."""
from __future__ import annotations

from app.security.roles import ROLE_MATRIX


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
    ours = {item.baseview.class_permission_name
            for category in app.appbuilder.menu.get_list() for item in (category.childs or [])
            if item.baseview is not None and type(item.baseview).__module__.startswith("app.")}
    assert ours <= {resource for resource, _action in ROLE_MATRIX}
