"""Routing: the decision record of every allocation ("why this warehouse")."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import UTCDateTime


class AllocationDecision(Model):
    """What allocation considered for an order and what it chose.

    ``candidates``: one entry per warehouse — ``{"code", "name", "excluded": why | None,
    "preferred": rank | None, "priority", "distance_km", "depth", "coverage", "whole",
    "rank"}``; ``plan``: ``[{"warehouse", "sku", "line_id", "quantity"}]`` as reserved;
    ``backordered``: ``[{"sku", "line_id", "quantity"}]`` left waiting (or held or cancelled
    by the backorder policy, see ``outcome``).
    """

    __tablename__ = "allocation_decisions"
    __table_args__ = (Index("ix_allocation_decisions_order_created", "order_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)  # the order's, after
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)  # whole|split|backorder|...
    split: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    chosen: Mapped[Optional[str]] = mapped_column(String(32))  # the one warehouse, if one
    destination: Mapped[Optional[dict]] = mapped_column(JSON)
    candidates: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    plan: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    backordered: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    shipments: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    note: Mapped[Optional[str]] = mapped_column(Text)

    order = relationship("Order")
