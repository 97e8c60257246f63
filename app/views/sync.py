"""Channels & Sync (Operations): channels with their health, the channel page (test
connection, poll now, re-pull one order, recent runs), sync runs, and the conflicts queue
with its resolutions (single and bulk).

Permissions (app/security/permissions.py): Channel read for the channel pages, Channel
write for add/edit, test connection and re-pull; Sync read for runs and conflicts, Sync
resolve for every resolution and for "poll now". Every action is a POST with a CSRF token
that calls one service; a DomainError is flashed and nothing is stored.
"""
from __future__ import annotations

import json

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextAreaFieldWidget, BS3TextFieldWidget
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup
from sqlalchemy import select
from wtforms import IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import NumberRange, Optional

from ..extensions import db
from ..models import Channel, SyncConflict, SyncRun
from ..models.sync import CHANNEL_KINDS, CONFLICT_KINDS, CONFLICT_STATUSES, SYNC_RUN_STATUSES
from ..security import permissions as p
from app.services.inventory import catalog
from app.services.channels import health as channel_health
from app.services.channels import ops as channel_ops
from app.services.channels import config as channels
from app.services.channels import conflicts
from app.services.channels import stock_drift, stock_push
from app.services.core import error_text
from app.services.core import validation
from app.services.core.errors import DomainError, ValidationFailed
from .base import (
    EagerSQLAInterface, FilterChoiceEqual, FilterChoiceNotEqual, ReadOnlyModelView,
    ServiceModelView, can, checkbox, current_actor, flash_error, redirect_back, select_field,
    service_call,
)
from .common import code_cell
from .formatting import DASH, humanize, status_badge, utc

first_line = error_text.first_line

PLAIN_FIELDS = ["code", "name", "kind", "base_url", "api_version", "poll_interval_seconds",
                "backfill_days", "stock_buffer", "enabled"]
STOCK_NUMBERS = ["stock_buffer_percent", "stock_cap"]  # the warehouse lists: through the API
SHIP_BY_NUMBERS = ["ship_by_days", "sla_cutoff_hour"]  # and ship_by_methods, as text
SECRET_FIELDS = ["credentials", "webhook_secret"]
FLASH_LIST_MAX = 15  # reasons listed in a bulk summary before "and N more"


def _secret_state(present: bool) -> Markup:
    if present:
        return Markup('<span class="label label-success"><i class="fa fa-lock"></i> stored</span>')
    return Markup('<span class="label label-default">not set</span>')


def _duration(ms) -> str | Markup:
    if ms is None:
        return DASH
    return f"{ms / 1000:.1f} s"


def _lag(delta) -> str | Markup:
    if delta is None:
        return DASH
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "0 s"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


HEALTH_STYLES = {"ok": "success", "failing": "danger", "stale": "warning", "never": "default",
                 "disabled": "default"}


def _int_arg(name: str):
    """A whole-number argument (an id, a page); beyond what a column holds it is refused
    (422 naming it), not silently sent to the database."""
    value = request.values.get(name)
    if value in (None, ""):
        return None
    if not value.strip().lstrip("-").isdigit():
        return None
    return validation.integer(value, name)


# --- channels ----------------------------------------------------------------------------

class ChannelView(ServiceModelView):
    """Channels: the list with each one's sync health, the channel page with its actions;
    add/edit are FAB forms written through services/channels.save_channel (credentials and
    the webhook secret are write-only)."""

    route_base = "/channels"
    datamodel = EagerSQLAInterface(
        Channel,
        display={"code": lambda c: Markup("<strong>{}</strong>").format(c.code),
                 "kind": lambda c: Markup('<span class="label label-info">{}</span>').format(c.kind),
                 # never the secret itself, only whether one is stored
                 "credentials_encrypted": lambda c: _secret_state(bool(c.credentials_encrypted)),
                 "webhook_secret_encrypted": lambda c: _secret_state(
                     bool(c.webhook_secret_encrypted)),
                 "created_at": lambda c: utc(c.created_at),
                 "updated_at": lambda c: utc(c.updated_at)},
        column_filters={"kind": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_CHANNEL
    method_permission_name = p.method_map(test_connection=p.WRITE, repull=p.WRITE)
    include_route_methods = {"list", "show", "add", "edit", "test_connection", "repull"}
    secret_fields = tuple(SECRET_FIELDS)

    list_title = "Channels"
    show_title = "Channel"
    list_columns = ["code", "name", "kind", "base_url", "poll_interval_seconds", "enabled",
                    "credentials_encrypted"]
    show_columns = ["code", "name", "kind", "base_url", "api_version", "poll_interval_seconds", "backfill_days",
                    "stock_buffer", "enabled", "credentials_encrypted",
                    "webhook_secret_encrypted", "created_at", "updated_at"]
    add_columns = edit_columns = PLAIN_FIELDS + STOCK_NUMBERS + SHIP_BY_NUMBERS + ["ship_by_methods"] + SECRET_FIELDS
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
        # optional in the form (empty: 0 % and no cap); the service checks them again
        "stock_buffer_percent": IntegerField(
            "Stock buffer (%)", widget=BS3TextFieldWidget(), validators=[Optional(), NumberRange(0, 100)],
            description="Also held back: this share of what is available (rounded up)"),
        "stock_cap": IntegerField(
            "Stock cap", widget=BS3TextFieldWidget(), validators=[Optional(), NumberRange(0)],
            description="Show at most this many on the channel (empty: no cap)"),
        "ship_by_days": IntegerField(
            "Ship-by (business days)", widget=BS3TextFieldWidget(), validators=[Optional(), NumberRange(0, 90)],
            description="This channel's promise when its orders carry none (empty: the shop's setting)"),
        "sla_cutoff_hour": IntegerField(
            "Same-day cut-off (hour)", widget=BS3TextFieldWidget(), validators=[Optional(), NumberRange(0, 23)],
            description="Warehouse time; later orders count from the next business day (empty: the shop's setting)"),
        "ship_by_methods": StringField(
            "Ship-by per shipping method", widget=BS3TextFieldWidget(),
            description="method = business days, comma-separated, e.g. Express = 1, Next day = 0"),
    }
    label_columns = {"code": "Code", "name": "Name", "kind": "Kind", "base_url": "Base URL",
                     "api_version": "API version",
                     "poll_interval_seconds": "Poll every (s)", "backfill_days": "Backfill (days)",
                     "stock_buffer": "Stock buffer", "enabled": "Enabled",
                     "stock_buffer_percent": "Stock buffer (%)", "stock_cap": "Stock cap",
                     "ship_by_days": "Ship-by (business days)", "sla_cutoff_hour": "Same-day cut-off (hour)",
                     "ship_by_methods": "Ship-by per shipping method",
                     "credentials_encrypted": "Credentials", "webhook_secret_encrypted":
                     "Webhook secret", "credentials": "Credentials",
                     "webhook_secret": "Webhook secret", "created_at": "Created",
                     "updated_at": "Updated"}
    description_columns = {
        "code": "Used in URLs, the CLI and actor labels: 2-32 lower-case letters, digits, - or _",
        "stock_buffer": "Units held back when pushing stock to this channel",
        "stock_buffer_percent": "Also held back: this share of what is available (rounded up)",
        "stock_cap": "Show at most this many on the channel (empty: no cap)",
    }

    # --- writes through the service (FAB's add/edit forms) ------------------------------

    def prefill_form(self, form, pk):
        channel = db.session.get(Channel, pk)
        form.ship_by_methods.data = ", ".join(f"{name} = {days}" for name, days
                                              in (channel.ship_by_methods or {}).items())

    @staticmethod
    def _methods(text: str | None) -> dict:
        """"Express = 1, Next day = 0" as {"Express": 1, "Next day": 0} (the service checks it)."""
        methods = {}
        for part in filter(None, (p.strip() for p in (text or "").split(","))):
            name, equals, days = part.rpartition("=")
            if not equals or not name.strip() or not days.strip().isdigit():
                raise ValidationFailed.field("ship_by_methods", f"{part!r}: write method = business days")
            methods[name.strip()] = int(days)
        return methods

    def save(self, form, pk):
        values = self.form_values(form, PLAIN_FIELDS + STOCK_NUMBERS + SHIP_BY_NUMBERS)
        values["ship_by_methods"] = self._methods(form.ship_by_methods.data)
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

    # --- pages ----------------------------------------------------------------------------

    @staticmethod
    def _abilities() -> dict[str, bool]:
        return {"write": can(p.WRITE, p.RESOURCE_CHANNEL),
                "resolve": can(p.RESOLVE, p.RESOURCE_SYNC),
                "read_sync": can(p.READ, p.RESOURCE_SYNC)}

    @expose("/list/")
    @has_access
    def list(self):
        rows = channel_health.overview(db.session)
        return self.render_template("oms/sync_channels.html", rows=rows, can=self._abilities(),
                                    styles=HEALTH_STYLES, lag=_lag, first_line=first_line, shown_error=shown_error,
                                    window=channel_health.WINDOW)

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        try:
            channel = db.session.get(Channel, int(pk))
        except ValueError:
            channel = None
        if channel is None:
            abort(404)
        abilities = self._abilities()
        health = channel_health.for_channel(db.session, channel.id)
        runs = channel_health.recent_runs(db.session, channel.id) if abilities["read_sync"] else []
        return self.render_template(
            "oms/sync_channel_show.html", channel=channel, health=health, runs=runs,
            push=stock_push.push_health(db.session, channel),
            can=abilities, styles=HEALTH_STYLES, lag=_lag, duration=_duration,
            secret_state=_secret_state, window=channel_health.WINDOW, first_line=first_line, shown_error=shown_error,
            pullable=channel_ops_supported(channel))

    def _back(self, pk):
        return redirect(url_for("ChannelView.show", pk=pk))

    # --- actions --------------------------------------------------------------------------

    @expose("/<int:pk>/test-connection", methods=["POST"])
    @has_access
    def test_connection(self, pk):
        check = service_call(channel_ops.test_connection, db.session, pk, current_actor())
        if check and check is not True:
            flash(check.message, "success" if check.ok else "danger")
        return self._back(pk)

    @expose("/<int:pk>/repull", methods=["POST"])
    @has_access
    def repull(self, pk):
        external_id = request.form.get("external_id")
        result = service_call(channel_ops.repull_order, db.session, pk, external_id,
                              current_actor())
        if result and result is not True:
            if result.outcome == "quarantined":
                flash(Markup('Order {} could not be imported: it is quarantined as '
                             '<a href="{}">sync conflict #{}</a>').format(
                    result.external_id, url_for("SyncConflictView.show", pk=result.conflict_id),
                    result.conflict_id), "warning")
            else:
                flash(Markup('Order {} re-pulled: {} (<a href="{}">open the order</a>)').format(
                    result.external_id, result.outcome,
                    url_for("OrderView.show", pk=result.order_id)), "success")
        return self._back(pk)


def channel_ops_supported(channel: Channel) -> bool:
    from connectors.registry import supports

    return supports(channel.kind) and bool(channel.base_url)


# --- sync runs ---------------------------------------------------------------------------

def shown_error(text: str | None) -> str:
    """A stored error as this reader may see it: whole (with its traceback) for those who
    resolve sync problems (Operations, Admin), else its first line without server paths."""
    if not text or can(p.RESOLVE, p.RESOURCE_SYNC):
        return text or ""
    return error_text.for_reader(text)


def _short_error(run: SyncRun):
    if not (run.error_message or "").strip():
        return DASH
    shown = shown_error(run.error_message)
    return Markup('<span class="text-danger" title="{}">{}</span>').format(
        shown, first_line(shown))


class SyncRunView(ReadOnlyModelView):
    """Every sync run, newest first, with its figures, cursors and error; "poll now"."""

    route_base = "/sync-runs"
    datamodel = EagerSQLAInterface(
        SyncRun, eager=("channel",), count_cap=True,
        display={"channel": code_cell("channel"), "status": lambda r: status_badge(r.status),
                 "started_at": lambda r: utc(r.started_at, with_seconds=True),
                 "finished_at": lambda r: utc(r.finished_at, with_seconds=True),
                 "duration_ms": lambda r: _duration(r.duration_ms),
                 "error_message": _short_error,
                 "cursor_before": lambda r: Markup("<code>{}</code>").format(r.cursor_before)
                 if r.cursor_before else DASH,
                 "cursor_after": lambda r: Markup("<code>{}</code>").format(r.cursor_after)
                 if r.cursor_after else DASH},
        column_filters={"status": [FilterChoiceEqual, FilterChoiceNotEqual]},
    )
    class_permission_name = p.RESOURCE_SYNC
    method_permission_name = p.method_map(poll_now=p.RESOLVE)
    include_route_methods = {"list", "show", "poll_now"}

    list_title = "Sync runs"
    show_title = "Sync run"
    list_columns = ["started_at", "job", "channel", "status", "duration_ms", "fetched", "created",
                    "updated", "unchanged", "conflicts", "errors", "cursor_after",
                    "error_message"]  # the cursor before is the previous run's after: on the run's page
    show_columns = ["started_at", "finished_at", "job", "channel", "status", "duration_ms",
                    "fetched", "created", "updated", "unchanged", "conflicts", "errors",
                    "cursor_before", "cursor_after", "error_message"]
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

    @expose("/poll/<int:channel_id>", methods=["POST"])
    @has_access
    def poll_now(self, channel_id):
        summary = service_call(channel_ops.poll_now, db.session, channel_id, current_actor())
        if summary and summary is not True:
            text = (f"Poll {humanize(summary.status)}: {summary.fetched} fetched, "
                    f"{summary.created} created, {summary.updated} updated, "
                    f"{summary.unchanged} unchanged, {summary.conflicts} conflicts")
            if (summary.error_message or "").strip():
                text += f" — {first_line(summary.error_message, 300)}"
            flash(Markup('{} (<a href="{}">sync run #{}</a>)').format(
                text, url_for("SyncRunView.show", pk=summary.id), summary.id),
                {"succeeded": "success", "partial": "warning"}.get(summary.status, "danger"))
        return redirect_back(url_for("SyncRunView.list"))


# --- sync conflicts ----------------------------------------------------------------------

def _value(data):
    """The value half of a stored local/remote value ({"value": ..., metadata})."""
    if isinstance(data, dict) and "value" in data:
        return data["value"]
    return data


class SyncConflictView(ReadOnlyModelView):
    """The conflicts queue (filters, newest first, bulk resolution) and the conflict page
    (local and channel values side by side, the raw payload, the resolutions of its kind)."""

    route_base = "/sync-conflicts"
    datamodel = EagerSQLAInterface(SyncConflict, eager=("channel", "order"), count_cap=True)
    class_permission_name = p.RESOURCE_SYNC
    method_permission_name = p.method_map(
        take_remote=p.RESOLVE, keep_local=p.RESOLVE, map_sku=p.RESOLVE, retry=p.RESOLVE,
        discard=p.RESOLVE, bulk=p.RESOLVE, push_again=p.RESOLVE, accept_channel=p.RESOLVE,
    )
    include_route_methods = {"list", "show", "take_remote", "keep_local", "map_sku", "retry",
                             "discard", "bulk", "push_again", "accept_channel"}
    list_title = "Sync conflicts"
    show_title = "Sync conflict"
    page_size = 50

    # --- the queue ------------------------------------------------------------------------

    @expose("/list/")
    @has_access
    def list(self):
        kind = request.args.get("kind") or None
        status = request.args.get("status", "open")
        if kind not in (None, *CONFLICT_KINDS):
            kind = None
        if status not in ("", *CONFLICT_STATUSES):
            status = "open"
        channel_id = _int_arg("channel")
        sku = (request.args.get("sku") or "").strip() or None
        page = max(0, _int_arg("page") or 0)
        cap = int(current_app.config.get("OMS_LIST_COUNT_CAP") or 10_000)
        result = conflicts.queue(db.session, kind=kind, status=status or None,
                                 channel_id=channel_id, sku=sku, page=page,
                                 page_size=self.page_size, cap=cap)
        channel_choices = db.session.execute(
            select(Channel.id, Channel.code).order_by(Channel.code).limit(500)).all()
        filters = {"kind": kind or "", "status": status, "channel": channel_id or "",
                   "sku": sku or ""}
        return self.render_template(
            "oms/sync_conflicts.html", result=result, filters=filters, kinds=CONFLICT_KINDS,
            statuses=CONFLICT_STATUSES, channels=channel_choices,
            can_resolve=can(p.RESOLVE, p.RESOURCE_SYNC), bulk_actions=conflicts.BULK_ACTIONS,
            labels=conflicts.RESOLUTION_LABELS,
            page_url=lambda n: url_for("SyncConflictView.list", page=n,
                                       **{k: v for k, v in filters.items() if v != ""}),
            here=request.full_path)

    # --- one conflict ---------------------------------------------------------------------

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        try:
            conflict = db.session.get(SyncConflict, int(pk))
        except ValueError:
            conflict = None
        if conflict is None:
            abort(404)
        same_sku = (conflicts.unknown_sku_count(db.session, conflict.sku)
                    if conflict.kind == "unknown_sku" and conflict.status == "open" else 0)
        same_sku_channel = (conflicts.unknown_sku_count(db.session, conflict.sku,
                                                        conflict.channel_id)
                            if same_sku else 0)
        return self.render_template(
            "oms/sync_conflict_show.html", conflict=conflict,
            local=_value(conflict.local_value), remote=_value(conflict.remote_value),
            local_meta={k: v for k, v in (conflict.local_value or {}).items() if k != "value"}
            if isinstance(conflict.local_value, dict) else {},
            resolutions=conflicts.resolutions_for(conflict.kind),
            can_resolve=can(p.RESOLVE, p.RESOURCE_SYNC) and conflict.status == "open",
            can_repull=can(p.WRITE, p.RESOURCE_CHANNEL),
            same_sku=same_sku, same_sku_channel=same_sku_channel)

    def _back(self, pk):
        return redirect_back(url_for("SyncConflictView.show", pk=pk))

    @expose("/<int:pk>/take-remote", methods=["POST"])
    @has_access
    def take_remote(self, pk):
        service_call(conflicts.take_remote, db.session, pk, current_actor(),
                     request.form.get("note"),
                     success=lambda c: f"Took the channel's {humanize(c.field)} "
                                       f"(conflict #{c.id} resolved)")
        return self._back(pk)

    @expose("/<int:pk>/keep-local", methods=["POST"])
    @has_access
    def keep_local(self, pk):
        service_call(conflicts.keep_local, db.session, pk, current_actor(),
                     request.form.get("note"),
                     success=lambda c: f"Kept Waybill's {humanize(c.field)} "
                                       f"(conflict #{c.id} resolved)")
        return self._back(pk)

    @expose("/<int:pk>/map-sku", methods=["POST"])
    @has_access
    def map_sku(self, pk):
        product_sku = (request.form.get("product_sku") or "").strip()
        all_channels = request.form.get("all_channels") in ("1", "on", "y", "true")
        try:
            if not product_sku:
                raise ValidationFailed.field("product_sku", "say which product the SKU means")
            product = catalog.product_by_sku(db.session, product_sku)
            result = conflicts.map_sku(db.session, product.id, current_actor(), conflict_id=pk,
                                       all_channels=all_channels, note=request.form.get("note"))
        except DomainError as err:
            flash_error(err)
            return self._back(pk)
        released = len(result.released_order_ids)
        flash(f"SKU {result.sku} mapped to {result.product_sku} "
              f"({'every channel' if result.channel_id is None else 'this channel'}): "
              f"{len(result.conflict_ids)} conflict(s) resolved, {len(result.order_ids)} "
              f"order(s) updated, {released} released from the unknown-SKU hold", "success")
        return self._back(pk)

    @expose("/<int:pk>/retry", methods=["POST"])
    @has_access
    def retry(self, pk):
        service_call(conflicts.retry, db.session, pk, current_actor(),
                     success=lambda c: f"Conflict #{c.id}: {c.resolution_note}")
        return self._back(pk)

    @expose("/<int:pk>/push-again", methods=["POST"])
    @has_access
    def push_again(self, pk):
        """Stock drift: our figure wins, the listing is pushed again."""
        service_call(stock_drift.push_again, db.session, pk, current_actor(), request.form.get("note"),
                     success=lambda c: f"Conflict #{c.id}: the stock is pushed again")
        return self._back(pk)

    @expose("/<int:pk>/accept-channel", methods=["POST"])
    @has_access
    def accept_channel(self, pk):
        """Stock drift: the channel's figure is right, booked as a counted adjustment."""
        service_call(stock_drift.accept_channel, db.session, pk, request.form.get("reason"), current_actor(),
                     success=lambda c: f"Conflict #{c.id}: the channel's figure booked as an adjustment")
        return self._back(pk)

    @expose("/<int:pk>/discard", methods=["POST"])
    @has_access
    def discard(self, pk):
        service_call(conflicts.discard, db.session, pk, request.form.get("reason"),
                     current_actor(), success=lambda c: f"Conflict #{c.id} discarded")
        return self._back(pk)

    @expose("/bulk", methods=["POST"])
    @has_access
    def bulk(self):
        action = request.form.get("action") or ""
        ids = request.form.getlist("ids")
        try:
            result = conflicts.bulk(db.session, action, ids, current_actor(),
                                    reason=request.form.get("reason"))
        except DomainError as err:
            flash_error(err)
            return redirect_back(url_for("SyncConflictView.list"))
        label = conflicts.RESOLUTION_LABELS.get(action, action)
        if result.succeeded:
            flash(f"{label.capitalize()}: {len(result.succeeded)} of {result.total} done ("
                  + ", ".join(f"#{i}" for i in result.succeeded[:FLASH_LIST_MAX])
                  + (f" and {len(result.succeeded) - FLASH_LIST_MAX} more"
                     if len(result.succeeded) > FLASH_LIST_MAX else "") + ")", "success")
        if result.failed:
            reasons = "; ".join(f"#{i}: {why}" for i, why in result.failed[:FLASH_LIST_MAX])
            more = len(result.failed) - FLASH_LIST_MAX
            flash(f"{label.capitalize()}: {len(result.failed)} of {result.total} not done — "
                  + reasons + (f"; and {more} more" if more > 0 else ""), "danger")
        return redirect_back(url_for("SyncConflictView.list"))
