"""Customer mail (DESIGN.md "Customers and staff told"): the mail log (every customer mail
rendered, sent or kept when no SMTP server is configured), the templates staff edited (the
shipped defaults live in code: app/services/notify/mail_templates.py), each channel's mail
settings, the customers who opted out per channel, and who gets internal alerts by e-mail."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import TimestampMixin, UTCDateTime, status_check

# logged: kept in the mail log (no SMTP configured); sent: the server accepted it;
# failed: the server refused it for good (the reason is in ``error``).
NOTIFICATION_STATUSES = ("logged", "sent", "failed")


class Notification(Model):
    __tablename__ = "notifications"
    __table_args__ = (
        status_check("status", NOTIFICATION_STATUSES),
        Index("ix_notifications_order", "order_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[Optional[int]] = mapped_column(ForeignKey("orders.id"))
    outbox_id: Mapped[Optional[int]] = mapped_column(Integer)
    to_address: Mapped[str] = mapped_column(String(254), nullable=False)
    event: Mapped[str] = mapped_column(String(48), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    text_body: Mapped[str] = mapped_column(Text, nullable=False)
    html_body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    message_id: Mapped[str] = mapped_column(String(255), nullable=False)
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    order = relationship("Order")


class MailTemplate(TimestampMixin, Model):
    """A template staff edited for one event and language — for every channel
    (``channel_id`` empty), or one channel's own, which wins for its orders. Neither: the
    shipped default."""

    __tablename__ = "mail_templates"
    __table_args__ = (
        # one for every channel per event and language, and one per channel (NULLs are
        # distinct in a unique index: the general one needs its own, partial)
        Index("uq_mail_templates_general", "event", "language", unique=True,
              postgresql_where="channel_id IS NULL", sqlite_where="channel_id IS NULL"),
        Index("uq_mail_templates_channel", "event", "language", "channel_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(48), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    channel_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    html: Mapped[str] = mapped_column(Text, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    updated_by: Mapped[Optional[str]] = mapped_column(String(128))


class ChannelMailSettings(TimestampMixin, Model):
    """How a channel's customers are mailed: sender, reply-to, logo, default language and
    which events are on (None: the defaults for the channel's kind)."""

    __tablename__ = "channel_mail_settings"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"),
                                            primary_key=True)
    sender_name: Mapped[Optional[str]] = mapped_column(String(128))
    sender_address: Mapped[Optional[str]] = mapped_column(String(254))
    reply_to: Mapped[Optional[str]] = mapped_column(String(254))
    logo_url: Mapped[Optional[str]] = mapped_column(String(1024))
    default_language: Mapped[str] = mapped_column(String(8), default="en", nullable=False)
    events: Mapped[Optional[list]] = mapped_column(JSON)


class MailOptOut(Model):
    """A customer who followed the opt-out link of a channel's mail."""

    __tablename__ = "mail_opt_outs"
    __table_args__ = (UniqueConstraint("channel_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"),
                                            nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)  # lower-cased
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AlertMailRecipients(TimestampMixin, Model):
    """Who gets an alert type by e-mail: users by role and plain addresses."""

    __tablename__ = "alert_mail_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_type: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    roles: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    addresses: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
