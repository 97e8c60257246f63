"""/api/v1/notification/ (Notification/read): the mail log — every customer mail as it was
rendered and sent (or kept when no SMTP server is configured), filtered by order, event,
status and address. Resending is on the order: POST /api/v1/order/<pk>/resend."""
from __future__ import annotations

from ..models import Notification
from ..security import permissions as p
from .base import ReadOnlyApi, WaybillInterface


class NotificationApi(ReadOnlyApi):
    resource_name = "notification"
    datamodel = WaybillInterface(Notification, count_cap=True)
    class_permission_name = p.RESOURCE_NOTIFICATION
    method_permission_name = p.method_map()
    openapi_spec_tag = "Mail log"
    list_columns = [
        "id", "order_id", "outbox_id", "to_address", "event", "language", "subject", "status",
        "message_id", "error", "created_at", "sent_at",
    ]
    show_columns = list_columns + ["text_body", "html_body"]
    order_columns = ["id"]
    base_order = ("id", "desc")
    search_operators = {
        "order": ["rel_o_m"], "event": ["eq"], "status": ["eq", "in"], "to_address": ["eq"],
        "created_at": ["gt", "lt"],
    }
