"""Internal alerts by e-mail: who gets each alert type (users by role, plain addresses), one
mail per alert per quiet period (``alert_mail_quiet_minutes``, an hour by default: an alert
raised a hundred times is one mail), and a daily digest of the open alerts (the
``alert_digest`` job). Sent through the outbox (topic ``notify.alert_mail``) over the same
SMTP path as customer mails (kept in the mail log when no SMTP server is configured)."""
from __future__ import annotations

from datetime import timedelta
from email.utils import formatdate

from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Alert, AlertMailRecipients
from app.models.alerts import ALERT_TYPES
from app.models.base import utcnow
from app.services.core import audit, outbox, settings
from app.services.core.actor import Actor
from app.services.core.errors import ValidationFailed
from app.services.core.outbox import Message, Sent
from app.services.core.transaction import transactional
from app.services.notify import customer_mail, mail_render, mail_templates
from connectors import mail as smtp

TOPIC = "notify.alert_mail"


@transactional
def save_recipients(session: Session, alert_type: str, roles, addresses, actor: Actor,
                    enabled: bool = True) -> AlertMailRecipients:
    if alert_type not in ALERT_TYPES:
        raise ValidationFailed.field("alert_type", f"must be one of {', '.join(ALERT_TYPES)}")
    from app.security.roles import ROLES

    roles = sorted(set(roles or ()))
    if set(roles) - set(ROLES):
        raise ValidationFailed.field("roles", f"must be among {', '.join(ROLES)}")
    addresses = sorted({a.strip().lower() for a in addresses or () if a.strip()})
    if any("@" not in a or len(a) > 254 for a in addresses):
        raise ValidationFailed.field("addresses", "must be e-mail addresses")
    row = session.scalar(select(AlertMailRecipients)
                         .where(AlertMailRecipients.alert_type == alert_type))
    if row is None:
        row = AlertMailRecipients(alert_type=alert_type)
        session.add(row)
    row.roles, row.addresses, row.enabled = roles, addresses, bool(enabled)
    session.flush()
    audit.record(session, actor, "alert_mail_recipients", row.id, "update",
                 {"alert_type": alert_type, "roles": roles, "addresses": len(addresses)})
    return row


def recipients(session: Session, alert_type: str | None = None) -> list[str]:
    """Addresses for one alert type (None: everyone any type mails: the digest)."""
    query = select(AlertMailRecipients).where(AlertMailRecipients.enabled.is_(True))
    if alert_type is not None:
        query = query.where(AlertMailRecipients.alert_type == alert_type)
    rows = session.scalars(query).all()
    addresses = {a for row in rows for a in row.addresses}
    roles = {r for row in rows for r in row.roles}
    if roles:
        addresses |= set(session.scalars(
            select(User.email).join(User.roles).where(Role.name.in_(roles),
                                                      User.active.is_(True))))
    return sorted(a for a in addresses if a and not a.endswith(".invalid"))


def tell(session: Session, alert: Alert) -> int | None:
    """Queue the alert's mail unless one went out for it within the quiet period."""
    if not session.scalar(select(AlertMailRecipients.id).where(
            AlertMailRecipients.alert_type == alert.type, AlertMailRecipients.enabled.is_(True))):
        return None
    quiet = timedelta(minutes=settings.get(session, "alert_mail_quiet_minutes"))
    group = f"alert-mail:{alert.id}"
    last = session.scalar(select(func.max(outbox.OutboxMessage.created_at)).where(
        outbox.OutboxMessage.group_key == group))
    if last is not None and utcnow() - last < quiet:
        return None
    return outbox.enqueue(session, TOPIC, f"alert:{alert.type}", {"alert_id": alert.id},
                          dedupe_key=f"{group}:pending", group_key=group)


@transactional
def queue_digest(session: Session) -> int | None:
    """The daily digest of open alerts (once a day: keyed by the date)."""
    today = utcnow().date().isoformat()
    return outbox.enqueue(session, TOPIC, "alert:digest", {"digest": today},
                          dedupe_key=f"alert-digest:{today}")


def _alert_mail(session: Session, alert_id: int) -> tuple[str, str, list[str]] | None:
    alert = session.get(Alert, alert_id)
    if alert is None:
        return None
    seen = f" (seen {alert.count} times since {alert.first_seen_at:%Y-%m-%d %H:%M} UTC)" \
        if alert.count > 1 else ""
    body = f"{alert.message}{seen}\n\nType: {alert.type}\nAbout: {alert.key}\n"
    return f"[Waybill alert] {alert.type.replace('_', ' ')}: {alert.key}", body, \
        recipients(session, alert.type)


def _digest_mail(session: Session, day: str) -> tuple[str, str, list[str]] | None:
    open_ = session.scalars(select(Alert).where(Alert.resolved_at.is_(None))
                            .order_by(Alert.type, Alert.last_seen_at.desc()).limit(500)).all()
    if not open_:
        return None
    lines = [f"- {a.type}: {a.message} (×{a.count}, last {a.last_seen_at:%Y-%m-%d %H:%M})"
             for a in open_]
    return f"[Waybill] {len(open_)} open alerts on {day}", "\n".join(lines) + "\n", \
        recipients(session)


def deliver(message: Message) -> Sent:
    from app.extensions import db

    with Session(db.engine) as session:
        found = (_digest_mail(session, message.payload["digest"]) if "digest" in message.payload
                 else _alert_mail(session, message.payload["alert_id"]))
    if found is None or not found[2]:
        return Sent(note="nothing to tell or nobody to tell it to")
    subject, body, to = found
    sender = mail_render.default_from()
    mail = smtp.compose({"From": sender, "To": ", ".join(to), "Subject": subject,
                         "Message-ID": mail_render.message_id_for(message.message_id, sender),
                         "Date": formatdate(usegmt=True), "Content-Language": "en"}, body)
    status, error = customer_mail.transmit(mail)
    event = "alert_digest" if "digest" in message.payload else "alert"
    rendered = mail_templates.Rendered(subject, "", body)
    row = customer_mail.log_row(message, rendered, mail, status, error, event=event)
    return customer_mail.outcome(db.engine, mail, row)


def register() -> None:
    outbox.register(TOPIC, deliver)
