"""Channels and everything about syncing with them: cursors, sync runs, conflicts, job locks."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import TimestampMixin, UTCDateTime, non_negative, status_check

CHANNEL_KINDS = ("shopify", "woocommerce", "amazon", "ebay", "manual", "csv")
SYNC_RUN_STATUSES = ("running", "succeeded", "partial", "failed")
CONFLICT_KINDS = ("unknown_sku", "invalid_payload", "local_edit", "duplicate", "stock_drift")
CONFLICT_STATUSES = ("open", "resolved", "discarded")


class Channel(TimestampMixin, Model):
    """A sales channel. Credentials and the webhook secret are Fernet-encrypted at rest
    and never readable back through the UI or API (services/channels/config.py)."""

    __tablename__ = "channels"
    __table_args__ = (
        status_check("kind", CHANNEL_KINDS),
        *non_negative("poll_interval_seconds", "backfill_days", "stock_buffer", "stock_cap"),
        CheckConstraint("stock_buffer_percent >= 0 AND stock_buffer_percent <= 100",
                        name="stock_buffer_percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    base_url: Mapped[Optional[str]] = mapped_column(String(255))
    # the channel API version the connector reads (connectors.registry.API_VERSIONS); None:
    # the connector's default (Amazon 2026-01-01, Shopify 2026-01)
    api_version: Mapped[Optional[str]] = mapped_column(String(16))
    # the channel's stock locations as its listings sync last found them (Shopify:
    # [{"id": "gid://shopify/Location/..", "name", "active"}]); stock pushes name one
    locations: Mapped[Optional[list]] = mapped_column(JSON)
    credentials_encrypted: Mapped[Optional[str]] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[Optional[str]] = mapped_column(Text)
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, default=300, nullable=False)
    backfill_days: Mapped[int] = mapped_column(Integer, default=30, nullable=False)
    stock_buffer: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # the rest of the channel's stock rules (inventory/atp.py): a buffer in percent of what is
    # available, a cap on what is shown, the warehouses that serve it (None: every active
    # one) and, for a channel with locations, {location id: [warehouse ids]}
    stock_buffer_percent: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                                      nullable=False)
    stock_cap: Mapped[Optional[int]] = mapped_column(Integer)
    stock_warehouse_ids: Mapped[Optional[list]] = mapped_column(JSON)
    location_warehouses: Mapped[Optional[dict]] = mapped_column(JSON)
    # the channel's own ship-by promise over the shop-wide settings (orders/ship_by.py):
    # business days, the same-day cut-off hour, and days per shipping method {"Express": 1}
    ship_by_days: Mapped[Optional[int]] = mapped_column(Integer)
    sla_cutoff_hour: Mapped[Optional[int]] = mapped_column(Integer)
    ship_by_methods: Mapped[Optional[dict]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    def __repr__(self) -> str:
        return self.code

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)


class ChannelCursor(Model):
    """How far a job has got with a channel (e.g. the last committed updated_at)."""

    __tablename__ = "channel_cursors"
    __table_args__ = (UniqueConstraint("channel_id", "job"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), nullable=False)
    job: Mapped[str] = mapped_column(String(48), nullable=False)
    value: Mapped[Optional[str]] = mapped_column(String(512))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    channel = relationship("Channel")


class SyncRun(Model):
    __tablename__ = "sync_runs"
    __table_args__ = (
        status_check("status", SYNC_RUN_STATUSES),
        Index("ix_sync_runs_channel_started", "channel_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[Optional[int]] = mapped_column(ForeignKey("channels.id"))
    job: Mapped[str] = mapped_column(String(48), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="running", nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    duration_ms: Mapped[Optional[int]] = mapped_column(Integer)
    fetched: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    updated: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    unchanged: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    conflicts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    errors: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    cursor_before: Mapped[Optional[str]] = mapped_column(String(512))
    cursor_after: Mapped[Optional[str]] = mapped_column(String(512))
    error_message: Mapped[Optional[str]] = mapped_column(Text)

    channel = relationship("Channel")


class SyncConflict(Model):
    """Anything a channel sent that could not be applied automatically. Open until a
    person resolves it; the raw payload is kept, so nothing is ever dropped."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (
        status_check("kind", CONFLICT_KINDS),
        status_check("status", CONFLICT_STATUSES),
        Index("ix_sync_conflicts_status_kind", "status", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[Optional[int]] = mapped_column(ForeignKey("channels.id"), index=True)
    order_id: Mapped[Optional[int]] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="open", nullable=False)
    external_id: Mapped[Optional[str]] = mapped_column(String(64))
    sku: Mapped[Optional[str]] = mapped_column(String(128), index=True)
    field: Mapped[Optional[str]] = mapped_column(String(64))
    local_value: Mapped[Optional[dict]] = mapped_column(JSON)
    remote_value: Mapped[Optional[dict]] = mapped_column(JSON)
    raw_payload: Mapped[Optional[dict]] = mapped_column(JSON)
    error: Mapped[Optional[str]] = mapped_column(Text)
    resolution: Mapped[Optional[str]] = mapped_column(String(32))
    resolution_note: Mapped[Optional[str]] = mapped_column(Text)
    resolved_by: Mapped[Optional[str]] = mapped_column(String(128))
    resolved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    channel = relationship("Channel")
    order = relationship("Order")


class JobLock(Model):
    """SQLite's stand-in for a PostgreSQL advisory lock: a lease with a heartbeat, so a
    killed holder blocks the job only until ``expires_at``."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(96), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), nullable=False)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
