"""Roles in code (DESIGN.md "Roles and permissions"), synced by ``flask oms init``.

``ROLE_MATRIX`` is the single source: README's table is this, and the URL-map test checks
every endpoint against it. Admin is FAB's AUTH_ROLE_ADMIN and receives every permission.
"""
from __future__ import annotations

from . import permissions as p

ADMIN, SUPPORT, WAREHOUSE, OPERATIONS, VIEWER = (
    "Admin", "Support", "Warehouse", "Operations", "Viewer",
)
ROLES = (ADMIN, SUPPORT, WAREHOUSE, OPERATIONS, VIEWER)
_ALL = set(ROLES)

# (resource, action) -> roles that hold it.
ROLE_MATRIX: dict[tuple[str, str], set[str]] = {
    (p.RESOURCE_ORDER, p.READ): _ALL,
    (p.RESOURCE_CUSTOMER, p.READ): _ALL,
    (p.RESOURCE_ORDER, p.HOLD): {ADMIN, SUPPORT, OPERATIONS},
    (p.RESOURCE_ORDER, p.AMEND): {ADMIN, SUPPORT},
    (p.RESOURCE_ORDER, p.REALLOCATE): {ADMIN, OPERATIONS},
    (p.RESOURCE_ORDER, p.REFUND): {ADMIN, SUPPORT},
    (p.RESOURCE_ORDER, p.REFUND_ANY): {ADMIN},
    (p.RESOURCE_STOCK, p.READ): _ALL,
    (p.RESOURCE_STOCK, p.ADJUST): {ADMIN, WAREHOUSE},
    (p.RESOURCE_FULFILLMENT, p.READ): _ALL,
    (p.RESOURCE_FULFILLMENT, p.WRITE): {ADMIN, WAREHOUSE},
    (p.RESOURCE_RETURN, p.READ): _ALL,
    (p.RESOURCE_RETURN, p.CREATE): {ADMIN, SUPPORT},
    (p.RESOURCE_RETURN, p.AUTHORIZE): {ADMIN, SUPPORT},
    (p.RESOURCE_RETURN, p.RECEIVE): {ADMIN, WAREHOUSE},
    (p.RESOURCE_RETURN, p.REFUND): {ADMIN, SUPPORT},
    (p.RESOURCE_CATALOG, p.READ): _ALL,
    (p.RESOURCE_CATALOG, p.WRITE): {ADMIN, OPERATIONS},
    (p.RESOURCE_WAREHOUSE, p.READ): _ALL,
    (p.RESOURCE_WAREHOUSE, p.WRITE): {ADMIN, OPERATIONS},
    (p.RESOURCE_RULE, p.READ): _ALL,
    (p.RESOURCE_RULE, p.WRITE): {ADMIN, OPERATIONS},
    (p.RESOURCE_CHANNEL, p.READ): {ADMIN, OPERATIONS, VIEWER},
    (p.RESOURCE_CHANNEL, p.WRITE): {ADMIN, OPERATIONS},
    (p.RESOURCE_SYNC, p.READ): {ADMIN, SUPPORT, OPERATIONS, VIEWER},
    (p.RESOURCE_SYNC, p.RESOLVE): {ADMIN, OPERATIONS},
    (p.RESOURCE_SETTING, p.READ): {ADMIN, OPERATIONS},
    (p.RESOURCE_SETTING, p.WRITE): {ADMIN},
    (p.RESOURCE_OUTBOX, p.READ): {ADMIN, SUPPORT, OPERATIONS, VIEWER},
    (p.RESOURCE_OUTBOX, p.RETRY): {ADMIN, OPERATIONS},
    (p.RESOURCE_ALERT, p.READ): _ALL,
    (p.RESOURCE_ALERT, p.ACKNOWLEDGE): {ADMIN, OPERATIONS},
    (p.RESOURCE_ALERT_CHANNEL, p.WRITE): {ADMIN},
    (p.RESOURCE_WEBHOOK_SUBSCRIPTION, p.WRITE): {ADMIN},
    (p.RESOURCE_CARRIER_ACCOUNT, p.READ): _ALL,
    (p.RESOURCE_CARRIER_ACCOUNT, p.WRITE): {ADMIN, OPERATIONS},
    (p.RESOURCE_DELIVERY_EXCEPTION, p.READ): _ALL,
    (p.RESOURCE_DELIVERY_EXCEPTION, p.RESOLVE): {ADMIN, SUPPORT, OPERATIONS},
    (p.RESOURCE_NOTIFICATION, p.READ): {ADMIN, SUPPORT, OPERATIONS},
    (p.RESOURCE_ORDER, p.RESEND): {ADMIN, SUPPORT},
    (p.RESOURCE_MAIL_TEMPLATE, p.READ): _ALL,
    (p.RESOURCE_MAIL_TEMPLATE, p.WRITE): {ADMIN, OPERATIONS},
    (p.RESOURCE_SECURITY, p.WRITE): {ADMIN},
    # Not in DESIGN.md's table: the API's own documentation and one's own profile.
    (p.RESOURCE_API_DOCS, p.READ): _ALL,
    (p.RESOURCE_PROFILE, p.WRITE): _ALL,
}

# FAB's built-in views keep their own permission names; these rows say which matrix row
# each belongs to. Every other FAB security view (users, roles, ...) is Security/write.
FAB_PERMISSIONS: dict[tuple[str, str], list[tuple[str, str]]] = {
    (p.RESOURCE_API_DOCS, p.READ): [("can_get", "OpenApi"), ("can_show", "SwaggerView")],
    (p.RESOURCE_PROFILE, p.WRITE): [
        ("can_userinfo", "UserDBModelView"),
        ("resetmypassword", "UserDBModelView"),
        ("can_this_form_get", "ResetMyPasswordView"),
        ("can_this_form_post", "ResetMyPasswordView"),
        ("can_this_form_get", "UserInfoEditView"),
        ("can_this_form_post", "UserInfoEditView"),
        ("can_get", "MenuApi"),
    ],
}


def matrix_row_for(permission: str, view_menu: str) -> tuple[str, str]:
    """Which row of the matrix grants FAB's (permission, view-menu) pair."""
    for row, pairs in FAB_PERMISSIONS.items():
        if (permission, view_menu) in pairs:
            return row
    if permission.startswith("can_") and (view_menu, permission[4:]) in ROLE_MATRIX:
        return view_menu, permission[4:]
    return p.RESOURCE_SECURITY, p.WRITE


def permissions_for(role: str) -> list[tuple[str, str]]:
    """(FAB permission name, view-menu name) pairs the role holds, menus excluded."""
    perms = []
    for row, roles in ROLE_MATRIX.items():
        if role in roles:
            perms.extend(FAB_PERMISSIONS.get(row, [(p.can(row[1]), row[0])]))
    return perms


# What each row means, for README's table (tests/security/test_readme_matrix.py keeps
# README and ROLE_MATRIX identical).
ROW_LABELS: dict[tuple[str, str], str] = {
    (p.RESOURCE_ORDER, p.READ): "orders: read",
    (p.RESOURCE_CUSTOMER, p.READ): "customers: read",
    (p.RESOURCE_ORDER, p.HOLD): "orders: hold, release, note",
    (p.RESOURCE_ORDER, p.AMEND): "orders: cancel, edit (address, lines), review",
    (p.RESOURCE_ORDER, p.REALLOCATE): "orders: re-allocate (single and bulk)",
    (p.RESOURCE_ORDER, p.REFUND): "orders: refund (Support up to the support refund limit)",
    (p.RESOURCE_ORDER, p.REFUND_ANY): "orders: refund any amount, approve or reject refunds above the limit",
    (p.RESOURCE_STOCK, p.READ): "stock: read",
    (p.RESOURCE_STOCK, p.ADJUST): "stock: adjust, receive",
    (p.RESOURCE_FULFILLMENT, p.READ): "fulfillment: read",
    (p.RESOURCE_FULFILLMENT, p.WRITE): "fulfillment: pick, pack, ship; labels: buy, void, reprint",
    (p.RESOURCE_RETURN, p.READ): "returns: read",
    (p.RESOURCE_RETURN, p.CREATE): "returns: create",
    (p.RESOURCE_RETURN, p.AUTHORIZE): "returns: authorize, reject",
    (p.RESOURCE_RETURN, p.RECEIVE): "returns: receive, inspect, dispose",
    (p.RESOURCE_RETURN, p.REFUND): "returns: refund (Support up to the support refund limit)",
    (p.RESOURCE_CATALOG, p.READ): "catalog (products, SKU aliases): read",
    (p.RESOURCE_CATALOG, p.WRITE): "catalog (products, SKU aliases): write",
    (p.RESOURCE_WAREHOUSE, p.READ): "warehouses: read",
    (p.RESOURCE_WAREHOUSE, p.WRITE): "warehouses: write",
    (p.RESOURCE_RULE, p.READ): "rules: read",
    (p.RESOURCE_RULE, p.WRITE): "rules: write",
    (p.RESOURCE_CHANNEL, p.READ): "channels: read (credentials never readable)",
    (p.RESOURCE_CHANNEL, p.WRITE): "channels: write",
    (p.RESOURCE_SYNC, p.READ): "sync runs, conflicts: read",
    (p.RESOURCE_SYNC, p.RESOLVE): "sync conflicts: resolve, poll now",
    (p.RESOURCE_SETTING, p.READ): "settings, exchange rates, audit log: read",
    (p.RESOURCE_SETTING, p.WRITE): "settings, exchange rates: write",
    (p.RESOURCE_OUTBOX, p.READ): "outbox: read",
    (p.RESOURCE_OUTBOX, p.RETRY): "outbox: retry, discard",
    (p.RESOURCE_ALERT, p.READ): "alerts: read",
    (p.RESOURCE_ALERT, p.ACKNOWLEDGE): "alerts: acknowledge",
    (p.RESOURCE_ALERT_CHANNEL, p.WRITE): "alert channels (a Slack URL is a secret: write-only)",
    (p.RESOURCE_WEBHOOK_SUBSCRIPTION, p.WRITE): "outbound webhook subscriptions (the URL receives customer data)",
    (p.RESOURCE_CARRIER_ACCOUNT, p.READ): "carrier accounts: read (credentials never readable)",
    (p.RESOURCE_CARRIER_ACCOUNT, p.WRITE): "carrier accounts: write",
    (p.RESOURCE_DELIVERY_EXCEPTION, p.READ): "delivery exceptions: read",
    (p.RESOURCE_DELIVERY_EXCEPTION, p.RESOLVE): "delivery exceptions: contact, correct address, resolve",
    (p.RESOURCE_NOTIFICATION, p.READ): "mail log: read",
    (p.RESOURCE_ORDER, p.RESEND): "mail log: resend (from the order page)",
    (p.RESOURCE_MAIL_TEMPLATE, p.READ): "notification templates, channel mail settings: read",
    (p.RESOURCE_MAIL_TEMPLATE, p.WRITE): "notification templates, channel mail settings, alert mail recipients: write",
    (p.RESOURCE_SECURITY, p.WRITE): "users, roles, API keys",
    (p.RESOURCE_API_DOCS, p.READ): "API documentation (OpenAPI, Swagger UI)",
    (p.RESOURCE_PROFILE, p.WRITE): "own profile and password",
}


def matrix_markdown() -> str:
    header = "| permission | resource/action | " + " | ".join(ROLES) + " |"
    lines = [header, "|" + "---|" * (len(ROLES) + 2)]
    for row, roles in ROLE_MATRIX.items():
        marks = " | ".join("✓" if role in roles else "" for role in ROLES)
        lines.append(f"| {ROW_LABELS[row]} | `{row[0]}/{row[1]}` | {marks} |")
    return "\n".join(lines)
