"""Customer mail pages: the mail log (Notification/read: each mail as the customer sees it,
its HTML in a sandboxed frame) and the templates (MailTemplate/read; Admin and Operations
edit, preview on a real order and send a test), with each channel's mail settings and who
gets internal alerts by e-mail. Every change is a POST with a CSRF token calling
app/services/notify/."""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access
from sqlalchemy import select

from ..extensions import db
from ..models import (
    AlertMailRecipients, Channel, MailTemplate, Notification, Order,
)
from ..models.alerts import ALERT_TYPES
from ..security import permissions as p
from ..security.roles import ROLES
from app.services.core.errors import DomainError
from app.services.notify import alert_mail, customer_mail, mail_render, mail_templates
from .base import (
    EagerSQLAInterface, ReadOnlyModelView, can, current_actor, flash_error, redirect_back,
    service_call,
)


class MailLogView(ReadOnlyModelView):
    route_base = "/mail-log"
    datamodel = EagerSQLAInterface(Notification)
    class_permission_name = p.RESOURCE_NOTIFICATION
    method_permission_name = p.method_map()
    include_route_methods = {"list", "show"}
    list_title = "Mail log"

    @expose("/list/")
    @has_access
    def list(self):
        status = request.args.get("status") or None
        query = select(Notification).order_by(Notification.id.desc()).limit(200)
        if status:
            query = query.where(Notification.status == status)
        rows = db.session.scalars(query).all()
        return self.render_template("oms/mail_log.html", mails=rows, status=status,
                                    counts=customer_mail.counts(db.session))

    @expose("/show/<int:pk>")
    @has_access
    def show(self, pk):
        mail = db.session.get(Notification, pk)
        if mail is None:
            abort(404)
        return self.render_template("oms/mail_show.html", mail=mail,
                                    can_resend=can(p.RESEND, p.RESOURCE_ORDER))


class MailTemplateView(ReadOnlyModelView):
    route_base = "/mail-templates"
    datamodel = EagerSQLAInterface(MailTemplate)
    class_permission_name = p.RESOURCE_MAIL_TEMPLATE
    method_permission_name = p.method_map(edit=p.READ, save=p.WRITE, reset=p.WRITE,
                                          test_send=p.WRITE, channel_settings=p.WRITE,
                                          alert_recipients=p.WRITE)
    include_route_methods = {"list", "edit", "save", "reset", "test_send", "channel_settings",
                             "alert_recipients"}
    list_title = "Mail templates"

    @expose("/list/")
    @has_access
    def list(self):
        channels = db.session.scalars(select(Channel).order_by(Channel.code)).all()
        codes = {c.id: c.code for c in channels}
        edited, overrides = {}, {}
        for t in db.session.scalars(select(MailTemplate)):
            if t.channel_id is None:
                edited[(t.event, t.language)] = t
            else:
                overrides.setdefault((t.event, t.language), []).append(codes.get(t.channel_id))
        settings = {c.id: customer_mail.channel_settings(db.session, c) for c in channels}
        events_on = {c.id: customer_mail.events_on(db.session, c) for c in channels}
        recipients = {r.alert_type: r for r in db.session.scalars(select(AlertMailRecipients))}
        return self.render_template(
            "oms/mail_templates.html", events=mail_templates.EVENTS,
            languages=mail_templates.LANGUAGES, edited=edited, overrides=overrides,
            channels=channels,
            settings=settings, events_on=events_on, alert_types=ALERT_TYPES, roles=ROLES,
            recipients=recipients, can_write=can(p.WRITE, p.RESOURCE_MAIL_TEMPLATE))

    def _parts(self, event: str, language: str, channel) -> dict:
        if request.method == "POST" and request.form.get("subject") is not None:
            return {part: request.form.get(part, "") for part in mail_templates.PARTS}
        return mail_templates.source(db.session, event, language,
                                     channel.id if channel else None)[0]

    @staticmethod
    def _channel():
        """The channel whose own template is edited (``channel``: its id), or None: the
        template for every channel."""
        value = (request.values.get("channel") or "").strip()
        if not value:
            return None
        found = db.session.get(Channel, int(value)) if value.isdigit() else None
        if found is None:
            abort(404)
        return found

    @staticmethod
    def _edit_url(event, language, channel) -> str:
        return url_for("MailTemplateView.edit", event=event, language=language,
                       channel=channel.id if channel else None)

    @expose("/edit/<event>/<language>", methods=["GET", "POST"])
    @has_access
    def edit(self, event, language):
        """The editor; a POST here previews the draft on a real order (nothing saved)."""
        if event not in mail_templates.EVENTS or language not in mail_templates.LANGUAGES:
            abort(404)
        channel = self._channel()
        parts = self._parts(event, language, channel)
        own = channel is not None and db.session.scalar(select(MailTemplate.id).where(
            MailTemplate.event == event, MailTemplate.language == language,
            MailTemplate.channel_id == channel.id)) is not None
        number = (request.values.get("order") or "").strip()
        preview, error = None, None
        order = self._order(number) if number else db.session.scalars(
            select(Order).order_by(Order.id.desc()).limit(1)).first()
        if order is not None:
            try:
                preview = _preview(parts, language, order, event)
            except DomainError as err:
                error = str(err)
        return self.render_template(
            "oms/mail_template_edit.html", event=event, language=language, parts=parts,
            order=order, preview=preview, error=error, channel=channel, own=own,
            channels=db.session.scalars(select(Channel).order_by(Channel.code)).all(),
            can_write=can(p.WRITE, p.RESOURCE_MAIL_TEMPLATE))

    @staticmethod
    def _order(number: str):
        found = db.session.scalar(select(Order).where(Order.order_number == number).limit(1))
        if found is None and number.isdigit():
            found = db.session.get(Order, int(number))
        return found

    @expose("/save/<event>/<language>", methods=["POST"])
    @has_access
    def save(self, event, language):
        channel = self._channel()
        parts = {part: request.form.get(part, "") for part in mail_templates.PARTS}
        where = f" for {channel.code}" if channel else ""
        service_call(mail_templates.save, db.session, event, language, parts, current_actor(),
                     channel_id=channel.id if channel else None,
                     success=f"Template {event} ({language}){where} saved")
        return redirect_back(self._edit_url(event, language, channel))

    @expose("/reset/<event>/<language>", methods=["POST"])
    @has_access
    def reset(self, event, language):
        channel = self._channel()
        back_to = "the template for every channel" if channel else "the shipped default"
        service_call(mail_templates.reset, db.session, event, language, current_actor(),
                     channel_id=channel.id if channel else None,
                     success=f"Template {event} ({language}) is {back_to} again")
        return redirect(self._edit_url(event, language, channel))

    @expose("/test/<event>/<language>", methods=["POST"])
    @has_access
    def test_send(self, event, language):
        """The saved template on a real order, to an address staff give: through the outbox."""
        order = self._order((request.form.get("order") or "").strip())
        if order is None:
            flash_error(DomainError("Choose an order to send the test for"))
        else:
            service_call(customer_mail.resend, db.session, order.id, current_actor(),
                         event=event, to=(request.form.get("to") or "").strip() or None,
                         success="Test mail queued")
        return redirect(url_for("MailTemplateView.edit", event=event, language=language))

    @expose("/channel/<int:channel_id>", methods=["POST"])
    @has_access
    def channel_settings(self, channel_id):
        form = request.form
        values = {k: form.get(k) for k in ("sender_name", "sender_address", "reply_to",
                                             "logo_url", "default_language")}
        values["events"] = form.getlist("events")
        service_call(customer_mail.save_channel_settings, db.session, channel_id, values,
                     current_actor(), success="Channel mail settings saved")
        return redirect(url_for("MailTemplateView.list"))

    @expose("/alert-recipients", methods=["POST"])
    @has_access
    def alert_recipients(self):
        form = request.form
        addresses = [a for a in (form.get("addresses") or "").replace(",", " ").split() if a]
        service_call(alert_mail.save_recipients, db.session, form.get("alert_type"),
                     form.getlist("roles"), addresses, current_actor(),
                     enabled=form.get("enabled") in ("1", "on", "y", "true"),
                     success="Alert mail recipients saved")
        return redirect(url_for("MailTemplateView.list"))


def _preview(parts: dict, language: str, order, event: str) -> dict:
    """The draft rendered on ``order`` (its latest shipment and refund where the event
    needs one), checked first like a save."""
    from app.models import Refund, Shipment

    mail_templates.check(parts, language)
    payload = {"event": event, "order_id": order.id}
    shipment = db.session.scalar(select(Shipment.id).where(Shipment.order_id == order.id)
                                 .order_by(Shipment.id.desc()).limit(1))
    refund = db.session.scalar(select(Refund.id).where(Refund.order_id == order.id)
                               .order_by(Refund.id.desc()).limit(1))
    if shipment:
        payload["shipment_id"] = shipment
    if refund:
        payload["refund_id"] = refund
    context = mail_render.context_for(db.session, payload)
    context["language"] = language
    context.update(mail_templates.formatters(language, order.currency))
    rendered = mail_templates.render(mail_templates.compile_parts(parts), context)
    return {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}
