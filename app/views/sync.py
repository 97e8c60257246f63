"""Channels & Sync: channels (written through services/channels.save_channel; credentials and
the webhook secret are write-only), sync runs and sync conflicts (read-only for now)."""
from __future__ import annotations

import json

from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextAreaFieldWidget
from markupsafe import Markup
from wtforms import PasswordField, TextAreaField

from ..extensions import db
from ..models import Channel, SyncConflict, SyncRun
from ..models.sync import CHANNEL_KINDS, CONFLICT_KINDS, CONFLICT_STATUSES, SYNC_RUN_STATUSES
from ..security import permissions as p
from ..services import channels
from ..services.errors import ValidationFailed
from .base import (
    checkbox,    select_field,
    EagerSQLAInterface, FilterChoiceEqual, FilterChoiceNotEqual, ReadOnlyModelView,
    ServiceModelView, current_actor,
)
from .common import code_cell, order_cell
from .formatting import DASH, humanize, pretty_json, status_badge, utc, yes_no

PLAIN_FIELDS = ["code", "name", "kind", "base_url", "poll_interval_seconds", "backfill_days",
                "stock_buffer", "enabled"]
SECRET_FIELDS = ["credentials", "webhook_secret"]


def _secret_state(present: bool) -> Markup:
    if present:
        return Markup('<span class="label label-success"><i class="fa fa-lock"></i> stored</span>')
    return Markup('<span class="label label-default">not set</span>')


class ChannelView(ServiceModelView):
    route_base = "/channels"
    datamodel = EagerSQLAInterface(
        Channel,
        display={"code": lambda c: Markup("<strong>{}</strong>").format(c.code),
                 "kind": lambda c: Markup('<span class="label label-info">{}</span>').format(c.kind),
                 "enabled": lambda c: yes_no(c.enabled),
                 # never the secret itself, only whether one is stored
                 "credentials_encrypted": lambda c: _secret_state(bool(c.credentials_encrypted)),
                 "webhook_secret_encrypted": lambda c: _secret_state(
                     bool(c.webhook_secret_encrypted)),
                 "created_at": lambda c: utc(c.created_at),
                 "updated_at": lambda c: utc(c.updated_at)},
        column_filters={"kind": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_CHANNEL
    method_permission_name = p.method_map()
    include_route_methods = {"list", "show", "add", "edit"}
    secret_fields = tuple(SECRET_FIELDS)

    list_title = "Channels"
    list_columns = ["code", "name", "kind", "base_url", "poll_interval_seconds", "enabled",
                    "credentials_encrypted"]
    show_columns = ["code", "name", "kind", "base_url", "poll_interval_seconds", "backfill_days",
                    "stock_buffer", "enabled", "credentials_encrypted",
                    "webhook_secret_encrypted", "created_at", "updated_at"]
    add_columns = edit_columns = PLAIN_FIELDS + SECRET_FIELDS
    order_columns = ["code", "name", "kind"]
    search_columns = ["code", "name", "kind", "enabled"]
    base_order = ("code", "asc")
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": select_field("Kind", [(k, k) for k in CHANNEL_KINDS]),
        "enabled": checkbox("Enabled"),
        "credentials": TextAreaField(
            "Credentials", widget=BS3TextAreaFieldWidget(),
            description='A JSON object, e.g. {"access_token": "…"}. Write-only: it is stored '
                        "encrypted and never shown; leave empty to keep the stored value."),
        "webhook_secret": PasswordField(
            "Webhook secret", widget=BS3PasswordFieldWidget(),
            description="Write-only; leave empty to keep the stored value."),
    }
    label_columns = {"code": "Code", "name": "Name", "kind": "Kind", "base_url": "Base URL",
                     "poll_interval_seconds": "Poll every (s)", "backfill_days": "Backfill (days)",
                     "stock_buffer": "Stock buffer", "enabled": "Enabled",
                     "credentials_encrypted": "Credentials", "webhook_secret_encrypted":
                     "Webhook secret", "credentials": "Credentials",
                     "webhook_secret": "Webhook secret", "created_at": "Created",
                     "updated_at": "Updated"}
    description_columns = {
        "code": "Used in URLs, the CLI and actor labels: 2-32 lower-case letters, digits, - or _",
        "stock_buffer": "Units held back when pushing stock to this channel",
    }

    def save(self, form, pk):
        values = self.form_values(form, PLAIN_FIELDS)
        raw = (form.credentials.data or "").strip()
        credentials = None
        if raw:
            try:
                credentials = json.loads(raw)
            except ValueError:
                raise ValidationFailed.field("credentials", "is not valid JSON") from None
            if not isinstance(credentials, dict):
                raise ValidationFailed.field("credentials", "must be a JSON object")
        secret = form.webhook_secret.data or None
        return channels.save_channel(db.session, values, current_actor(), pk,
                                     credentials=credentials, webhook_secret=secret)

    def describe(self, item):
        return f"Channel {item.code}"


class SyncRunView(ReadOnlyModelView):
    route_base = "/sync-runs"
    datamodel = EagerSQLAInterface(
        SyncRun, eager=("channel",), count_cap=True,
        display={"channel": code_cell("channel"), "status": lambda r: status_badge(r.status),
                 "started_at": lambda r: utc(r.started_at, with_seconds=True),
                 "finished_at": lambda r: utc(r.finished_at, with_seconds=True),
                 "duration_ms": lambda r: f"{r.duration_ms / 1000:.1f} s"
                 if r.duration_ms is not None else DASH},
        column_filters={"status": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_SYNC
    method_permission_name = p.method_map()

    list_title = "Sync runs"
    show_title = "Sync run"
    list_columns = ["started_at", "job", "channel", "status", "duration_ms", "fetched", "created",
                    "updated", "unchanged", "conflicts", "errors"]
    show_columns = list_columns + ["finished_at", "cursor_before", "cursor_after", "error_message"]
    order_columns = ["started_at", "job", "status", "duration_ms"]
    search_columns = ["channel", "job", "status", "started_at"]
    search_form_extra_fields = {
        "status": select_field("Status", [(s, humanize(s)) for s in SYNC_RUN_STATUSES]),
    }
    base_order = ("started_at", "desc")
    label_columns = {"started_at": "Started", "finished_at": "Finished", "job": "Job",
                     "channel": "Channel", "status": "Status", "duration_ms": "Took",
                     "fetched": "Fetched", "created": "Created", "updated": "Updated",
                     "unchanged": "Unchanged", "conflicts": "Conflicts", "errors": "Errors",
                     "cursor_before": "Cursor before", "cursor_after": "Cursor after",
                     "error_message": "Error"}


class SyncConflictView(ReadOnlyModelView):
    route_base = "/sync-conflicts"
    datamodel = EagerSQLAInterface(
        SyncConflict, eager=("channel", "order"), count_cap=True,
        display={"channel": code_cell("channel"), "order": order_cell,
                 "kind": lambda c: Markup('<span class="label label-warning">{}</span>').format(
                     humanize(c.kind)),
                 "status": lambda c: status_badge(c.status),
                 "sku": lambda c: Markup("<code>{}</code>").format(c.sku) if c.sku else DASH,
                 "local_value": lambda c: pretty_json(c.local_value),
                 "remote_value": lambda c: pretty_json(c.remote_value),
                 "raw_payload": lambda c: pretty_json(c.raw_payload),
                 "created_at": lambda c: utc(c.created_at),
                 "resolved_at": lambda c: utc(c.resolved_at)},
        column_filters={"status": [FilterChoiceEqual, FilterChoiceNotEqual],
                        "kind": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_SYNC
    method_permission_name = p.method_map()

    list_title = "Sync conflicts"
    show_title = "Sync conflict"
    list_columns = ["created_at", "channel", "kind", "status", "external_id", "order", "sku",
                    "field", "error"]
    show_columns = ["created_at", "channel", "kind", "status", "external_id", "order", "sku",
                    "field", "error", "local_value", "remote_value", "resolution",
                    "resolution_note", "resolved_by", "resolved_at", "raw_payload"]
    order_columns = ["created_at", "kind", "status"]
    search_columns = ["channel", "kind", "status", "sku", "external_id", "created_at"]
    search_form_extra_fields = {
        "status": select_field("Status", [(s, humanize(s)) for s in CONFLICT_STATUSES]),
        "kind": select_field("Kind", [(k, humanize(k)) for k in CONFLICT_KINDS]),
    }
    base_order = ("created_at", "desc")
    label_columns = {"created_at": "When", "channel": "Channel", "kind": "Kind",
                     "status": "Status", "external_id": "Channel order id", "order": "Order",
                     "sku": "SKU", "field": "Field", "error": "Error",
                     "local_value": "Local value", "remote_value": "Channel value",
                     "resolution": "Resolution", "resolution_note": "Resolution note",
                     "resolved_by": "Resolved by", "resolved_at": "Resolved",
                     "raw_payload": "Raw payload"}
