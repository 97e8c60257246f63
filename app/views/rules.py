"""Rules (Settings → Rules) and the review queue (Orders → Review queue).

Rules: everyone may read them (list, rule page with its version history); Operations
(Rule write) create and edit them with a structured form (rows of field / operator / value
and rows of action / value), see the dry run over recent orders on the edit page before
enabling, enable/disable, reorder and delete. Every write goes through services/lifecycle/rules.py,
which validates and keeps a version of each change.

Review queue (Order amend: Support): the orders with an open review hold and why; approve
(the pipeline continues) or reject (cancelled with a reason, stock released), one by one
or in bulk with a summary of what was done and what was not, and why.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup

from ..extensions import db
from ..models import Rule
from ..security import permissions as p
from app.services.lifecycle import risk
from app.services.lifecycle import rules
from app.services.core.errors import DomainError, NotFound
from app.services.core import validation
from .base import can, current_actor, flash_error, form_error_status, redirect_back, service_call

FLASH_LIST_MAX = 15


def _int_arg(name: str, default: int = 0) -> int:
    value = request.args.get(name)
    if value is None or not value.strip().lstrip("-").isdigit():
        return default
    return validation.integer(value, name, minimum=0, maximum=100_000)


def _value_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def definition_from_form(form) -> dict:
    """The rule as the editor posted it: rows of conditions and actions (blank rows are
    left out); values stay text, the service parses and validates them."""
    conditions = []
    for field, op, value in zip(form.getlist("cond_field"), form.getlist("cond_op"),
                                form.getlist("cond_value")):
        if not field and not op and not (value or "").strip():
            continue
        conditions.append({"field": field, "op": op, "value": value})
    actions = []
    for kind, value in zip(form.getlist("act_type"), form.getlist("act_value")):
        if not kind and not (value or "").strip():
            continue
        actions.append({"type": kind, "value": value})
    return {
        "name": form.get("name"), "description": form.get("description"),
        "stage": form.get("stage") or "on_import", "match": form.get("match") or "all",
        "stop_processing": form.get("stop_processing") in ("1", "on", "true", "y"),
        "conditions": conditions, "actions": actions,
    }


class RuleView(BaseView):
    route_base = "/rules"
    default_view = "list"
    class_permission_name = p.RESOURCE_RULE
    method_permission_name = {
        "list": p.READ, "show": p.READ, "add": p.WRITE, "edit": p.WRITE, "enable": p.WRITE,
        "disable": p.WRITE, "move": p.WRITE, "delete": p.WRITE,
    }

    # --- reading --------------------------------------------------------------------------

    @expose("/list/")
    @has_access
    def list(self):
        return self.render_template(
            "oms/rules_list.html", rules=rules.list_rules(db.session),
            can_write=can(p.WRITE, p.RESOURCE_RULE), describe_condition=rules.describe_condition,
            describe_action=rules.describe_action)

    def _rule(self, pk) -> Rule:
        try:
            return rules.get_rule(db.session, pk)
        except NotFound:
            abort(404)

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        rule = self._rule(pk)
        return self.render_template(
            "oms/rule_show.html", rule=rule, history=rules.versions(db.session, rule.id),
            can_write=can(p.WRITE, p.RESOURCE_RULE), describe_condition=rules.describe_condition,
            describe_action=rules.describe_action, changed_fields=rules.changed_fields)

    # --- the editor -----------------------------------------------------------------------

    def _form(self, *, rule: Rule | None, definition: dict, errors=None, dry=None,
              status: int = 200):
        return self.render_template(
            "oms/rule_form.html", rule=rule, definition=definition, errors=errors or {},
            dry=dry, vocabulary=rules.vocabulary(), value_text=_value_text,
            last_n=rules.DRY_RUN_DEFAULT, describe_condition=rules.describe_condition,
        ), status

    def _submit(self, rule: Rule | None):
        definition = definition_from_form(request.form)
        try:
            if request.form.get("submit") == "dry_run":
                dry = rules.dry_run(db.session, {**definition, "id": rule.id if rule else None},
                                    request.form.get("last_n") or rules.DRY_RUN_DEFAULT)
                db.session.rollback()
                return self._form(rule=rule, definition=definition, dry=dry)
            if rule is None:
                saved = rules.create_rule(db.session, definition, current_actor())
                flash(f"Rule {saved.name} created, disabled: check the dry run below, then "
                      "enable it", "success")
            else:
                saved = rules.update_rule(db.session, rule.id, definition, current_actor(),
                                          expected_version=request.form.get("version"))
                flash(f"Rule {saved.name} saved (version {saved.version})", "success")
        except DomainError as err:
            db.session.rollback()
            flash_error(err)
            if rule is not None:
                rule = self._rule(rule.id)
            return self._form(rule=rule, definition=definition, errors=err.errors,
                              status=form_error_status(err))
        return redirect(url_for("RuleView.edit", pk=saved.id))

    @expose("/add/", methods=["GET", "POST"])
    @has_access
    def add(self):
        if request.method == "POST":
            return self._submit(None)
        blank = {"name": "", "description": "", "stage": "on_import", "match": "all",
                 "stop_processing": False, "conditions": [], "actions": []}
        return self._form(rule=None, definition=blank)

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        rule = self._rule(pk)
        if request.method == "POST":
            return self._submit(rule)
        dry = rules.dry_run_rule(db.session, rule.id, _int_arg("last_n", rules.DRY_RUN_DEFAULT))
        return self._form(rule=rule, definition=rules.snapshot(rule), dry=dry)

    # --- state changes --------------------------------------------------------------------

    @expose("/<int:pk>/enable", methods=["POST"])
    @has_access
    def enable(self, pk):
        service_call(rules.set_enabled, db.session, pk, True, current_actor(),
                     success=lambda r: f"Rule {r.name} enabled: it applies to new orders")
        return redirect_back(url_for("RuleView.list"))

    @expose("/<int:pk>/disable", methods=["POST"])
    @has_access
    def disable(self, pk):
        service_call(rules.set_enabled, db.session, pk, False, current_actor(),
                     success=lambda r: f"Rule {r.name} disabled")
        return redirect_back(url_for("RuleView.list"))

    @expose("/<int:pk>/move", methods=["POST"])
    @has_access
    def move(self, pk):
        service_call(rules.move, db.session, pk, request.form.get("direction") or "",
                     current_actor())
        return redirect(url_for("RuleView.list"))

    @expose("/<int:pk>/delete", methods=["POST"])
    @has_access
    def delete(self, pk):
        service_call(rules.delete_rule, db.session, pk, current_actor(),
                     success=lambda r: "Rule deleted (its history is kept)")
        return redirect(url_for("RuleView.list"))


class ReviewQueueView(BaseView):
    route_base = "/review"
    default_view = "list"
    class_permission_name = p.RESOURCE_ORDER
    method_permission_name = {"list": p.AMEND, "approve": p.AMEND, "reject": p.AMEND,
                              "bulk": p.AMEND}
    page_size = 50

    @expose("/list/")
    @has_access
    def list(self):
        page = max(0, _int_arg("page"))
        queue = risk.review_queue(db.session, page=page, page_size=self.page_size)
        return self.render_template(
            "oms/review_queue.html", queue=queue, here=request.full_path,
            page_url=lambda n: url_for("ReviewQueueView.list", page=n))

    def _back(self):
        return redirect_back(url_for("ReviewQueueView.list"))

    @expose("/<int:pk>/approve", methods=["POST"])
    @has_access
    def approve(self, pk):
        service_call(risk.approve_review, db.session, pk, current_actor(),
                     request.form.get("note"),
                     success=lambda o: Markup('Order <a href="{}">{}</a> approved: {}').format(
                         url_for("OrderView.show", pk=o.id), o.order_number,
                         o.status.replace("_", " ") if not o.is_held
                         else "still held (" + ", ".join(h.reason for h in o.open_holds) + ")"))
        return self._back()

    @expose("/<int:pk>/reject", methods=["POST"])
    @has_access
    def reject(self, pk):
        service_call(risk.reject_review, db.session, pk, request.form.get("reason"),
                     current_actor(),
                     success=lambda o: f"Order {o.order_number} rejected and cancelled")
        return self._back()

    @expose("/bulk", methods=["POST"])
    @has_access
    def bulk(self):
        action = request.form.get("action") or ""
        try:
            result = risk.review_bulk(db.session, action, request.form.getlist("ids"),
                                      current_actor(), request.form.get("text"))
        except DomainError as err:
            flash_error(err)
            return self._back()
        verb = {"approve": "Approved", "reject": "Rejected"}[action]
        if result.succeeded:
            shown = ", ".join(result.succeeded[:FLASH_LIST_MAX])
            more = len(result.succeeded) - FLASH_LIST_MAX
            flash(f"{verb} {len(result.succeeded)} of {result.total}: {shown}"
                  + (f" and {more} more" if more > 0 else ""), "success")
        if result.failed:
            reasons = "; ".join(f"{label}: {why}" for label, why in result.failed[:FLASH_LIST_MAX])
            more = len(result.failed) - FLASH_LIST_MAX
            flash(f"Not {verb.lower()}: {len(result.failed)} of {result.total} — {reasons}"
                  + (f"; and {more} more" if more > 0 else ""), "danger")
        return self._back()
