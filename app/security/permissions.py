"""The permission vocabulary: one resource per business area, named actions on it.

A FAB permission is (``can_<action>``, resource). Every view and API of a resource sets
``class_permission_name = RESOURCE_X`` and maps each of its methods to one action through
``method_permission_name``, so the HTML pages and the REST API of a resource share the same
permissions (Superset's convention, FAB_NOTES §5).
"""
from __future__ import annotations

# --- resources ---------------------------------------------------------------------------
RESOURCE_ORDER = "Order"
RESOURCE_CUSTOMER = "Customer"
RESOURCE_STOCK = "Stock"
RESOURCE_FULFILLMENT = "Fulfillment"
RESOURCE_RETURN = "Return"
RESOURCE_CATALOG = "Catalog"
RESOURCE_WAREHOUSE = "Warehouse"
RESOURCE_RULE = "Rule"
RESOURCE_CHANNEL = "Channel"
RESOURCE_SYNC = "Sync"
RESOURCE_SETTING = "Setting"
RESOURCE_OUTBOX = "Outbox"  # the messages to the outside world (app/services/core/outbox.py)
RESOURCE_ALERT = "Alert"  # internal alerts (app/services/notify/alerts.py)
RESOURCE_ALERT_CHANNEL = "AlertChannel"  # where alerts go (a Slack URL is a secret)
RESOURCE_WEBHOOK_SUBSCRIPTION = "WebhookSubscription"  # outbound webhooks (get customer data)
RESOURCE_CARRIER_ACCOUNT = "CarrierAccount"  # carrier accounts (credentials write-only)
RESOURCE_DELIVERY_EXCEPTION = "DeliveryException"  # the delivery exceptions queue (Support)
RESOURCE_NOTIFICATION = "Notification"  # the mail log (customer mails as sent or kept)
RESOURCE_MAIL_TEMPLATE = "MailTemplate"  # customer mail templates, channel mail settings
RESOURCE_API_DOCS = "ApiDocs"
RESOURCE_PROFILE = "Profile"  # one's own user info and password
RESOURCE_SECURITY = "Security"  # users, roles, API keys (FAB's views)

# --- actions (without FAB's "can_" prefix) ----------------------------------------------
READ = "read"
WRITE = "write"
HOLD = "hold"  # orders: hold, release, note
AMEND = "amend"  # orders: cancel, edit (address, lines), review
REALLOCATE = "reallocate"
ADJUST = "adjust"  # stock: adjust, receive
CREATE = "create"
RECEIVE = "receive"
AUTHORIZE = "authorize"  # returns: authorize, reject
REFUND = "refund"  # returns: refund; orders: refund up to the Support limit
REFUND_ANY = "refund_any"  # orders: refund any amount; approve refunds above the Support limit
RESOLVE = "resolve"  # sync: resolve conflicts, poll now
RETRY = "retry"  # outbox: retry, discard
ACKNOWLEDGE = "acknowledge"  # alerts
RESEND = "resend"  # the mail log: send a customer mail again


def can(action: str) -> str:
    return f"can_{action}"


# FAB's generic ModelView / ModelRestApi methods -> read or write.
READ_METHODS = {
    "list": READ, "show": READ, "download": READ, "get": READ, "get_list": READ,
    "info": READ, "related": READ, "distinct": READ, "api": READ, "api_read": READ,
    "api_get": READ, "api_column_add": READ, "api_column_edit": READ,
    "api_readvalues": READ,
}
WRITE_METHODS = {
    "add": WRITE, "edit": WRITE, "delete": WRITE, "post": WRITE, "put": WRITE,
    "api_create": WRITE, "api_update": WRITE, "api_delete": WRITE, "action": WRITE,
    "action_post": WRITE,
}
RW_METHOD_MAP = {**READ_METHODS, **WRITE_METHODS}


def method_map(**business_actions: str) -> dict[str, str]:
    """The read/write map plus business methods, e.g. ``method_map(cancel=AMEND)``."""
    return {**RW_METHOD_MAP, **business_actions}
